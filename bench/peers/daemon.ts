// Starting and stopping one third-party server for the benchmark: spawned in a process group of
// its own (its log to a file), ready when its port accepts, placed in its cpu group, stopped with
// SIGTERM to the group (SIGKILL after a grace time). Side effects: the process, the log file.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import type { Scope } from '../../test/helpers/tmp.ts';
import { waitForPort } from '../../test/helpers/wait.ts';
import type { ServerGroup } from '../cgroup.ts';
import { groupCpuMs, groupPssKiB } from '../proc.ts';
import type { Target } from '../scenarios.ts';

/** A peer MTA as the benchmark drives it. */
export interface PeerServer {
  readonly target: Target;
  /** Its version, for the report. */
  readonly version: string;
  /** Whether it can take STARTTLS here (Debian 12's OpenSMTPD 6.8 cannot with OpenSSL 3). */
  readonly starttls: boolean;
  /** Whether it can relay a queue to the sink (the outbound case). */
  readonly relays: boolean;
  stop(): Promise<void>;
}

export interface Daemon {
  readonly pid: number;
  /** CPU of the server, ms: its cpu group's, or (without control groups) its process group's. */
  cpuMs(): number;
  pssKiB(): number;
  stop(): Promise<void>;
}

export async function startDaemon(
  scope: Scope,
  o: {
    command: string;
    args: string[];
    logFile: string;
    port: number;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    group: ServerGroup | undefined;
    uid?: number;
    gid?: number;
  },
): Promise<Daemon> {
  const fd = openSync(o.logFile, 'a');
  const child = spawn(o.command, o.args, {
    stdio: ['ignore', fd, fd],
    detached: true,
    env: o.env ?? process.env,
    ...(o.cwd ? { cwd: o.cwd } : {}),
    ...(o.uid !== undefined ? { uid: o.uid } : {}),
    ...(o.gid !== undefined ? { gid: o.gid } : {}),
  });
  closeSync(fd);
  const exited = once(child, 'exit');
  const pid = child.pid as number;
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-pid, s);
    } catch {
      // gone already
    }
  };
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        signal('SIGTERM');
        const timer = setTimeout(() => signal('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      signal('SIGKILL');
    })();
    return stopping;
  };
  scope.after(stop);
  const died = exited.then(() => {
    throw new Error(`${o.command} exited before listening; see ${o.logFile}`);
  });
  await Promise.race([waitForPort('127.0.0.1', o.port, 30_000), died]);
  died.catch(() => undefined);
  o.group?.adopt(pid);
  const group = o.group;
  return {
    pid,
    cpuMs: group ? () => group.cpuMs() : () => groupCpuMs(pid),
    pssKiB: group ? () => group.pssKiB() : () => groupPssKiB(pid),
    stop,
  };
}

/** Files in a directory (a Maildir's new/, a queue directory), 0 when it does not exist yet. */
export function countFiles(dir: string, match?: (name: string) => boolean): number {
  try {
    const names = readdirSync(dir);
    return match ? names.filter(match).length : names.length;
  } catch {
    return 0;
  }
}

/** Counts the lines of a growing log file that match `pattern`, reading only what was added since the last call. */
export function logCounter(file: string, pattern: RegExp): () => number {
  let offset = 0;
  let count = 0;
  let rest = '';
  return () => {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return count;
    }
    try {
      const buf = Buffer.alloc(1 << 20);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, offset);
        if (n <= 0) break;
        offset += n;
        const lines = (rest + buf.toString('latin1', 0, n)).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) if (pattern.test(line)) count++;
      }
    } finally {
      closeSync(fd);
    }
    return count;
  };
}
