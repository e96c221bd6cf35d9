// Runs a command to completion for tests: stdin from a string (or closed), stdout/stderr collected,
// killed after a deadline. Side effects: spawns one child process and waits for it.
import { spawn } from 'node:child_process';

export interface RunResult {
  /** Exit status, or null when the process ended by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to stdin, then stdin is closed. Without it stdin is closed at once (no terminal, no hang). */
  input?: string | Buffer;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Runs `command args` and resolves when it exits. Never rejects for a non-zero exit: callers assert
 * on `code`. Rejects only when the command cannot start or runs past `timeoutMs` (then it is killed).
 *
 * A command that leaves a daemon behind (`postfix start`) may hand our pipes to it; then the result
 * comes 500 ms after the exit instead of waiting for the daemon to close them.
 */
export function run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: options.cwd });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    // EPIPE when the command exits without reading its input is not our failure: its exit status says.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      const so = Buffer.concat(out).toString();
      const se = Buffer.concat(err).toString();
      reject(new Error(`${command} ${args.join(' ')}: still running after ${timeoutMs} ms, killed\nstdout: ${so}\nstderr: ${se}`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${command}: cannot start: ${e.message}`));
    });
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let drainTimer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (exited === undefined) return;
      clearTimeout(timer);
      clearTimeout(drainTimer);
      resolve({ ...exited, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    };
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      // Normally 'close' follows once the pipes drain. A daemon left behind may hold them open for
      // good: then stop reading after a short grace and resolve with what arrived.
      drainTimer = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, 500);
    });
    child.on('close', finish);
  });
}

/** Like run(), but rejects with the command's output when it exits non-zero. */
export async function runOk(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')}: exit ${result.code ?? result.signal}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
  return result;
}
