// The real Sealpost daemon as a child process for a test: writes a config into a temp dir, runs
// `scripts/sealpost start --config FILE`, collects its JSON log lines, stops it (SIGTERM), kills it
// (SIGKILL) or restarts it on the same data. Side effects: a temp dir, one child process at a time,
// loopback ports; everything is stopped and removed when the test's scope ends.
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { listMaildirs, type MaildirMessage, readMaildir } from './maildir.ts';
import { freePort } from './ports.ts';
import { type RunResult, run } from './proc.ts';
import { catchesSignal } from './processes.ts';
import { inspectToml, mergeConfig, type Overrides, type SealpostToml, testDefaults, writeSealpostConfig } from './sealpost-config.ts';
import { makeTempDir, removeTempDir, type Scope } from './tmp.ts';
import { waitFor } from './wait.ts';

export { readMaildir } from './maildir.ts';
export type { Overrides, SealpostToml } from './sealpost-config.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SEALPOST = path.join(ROOT, 'scripts', 'sealpost');

/** One stdout line: a pino record (level as a label, `event` on mail-log records), or `{ raw }`. */
export interface LogRecord {
  level?: string;
  event?: string;
  msg?: string;
  /** A stdout line that was not JSON. */
  raw?: string;
  [field: string]: unknown;
}

/** A predicate, or fields that must all be equal (`{ event: 'delivered', rcpt: 'a@b' }`). */
export type LogMatch = ((record: LogRecord) => boolean) | Record<string, unknown>;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SealpostOptions {
  /** Overrides merged into testDefaults(), or a whole TOML document used as is. */
  config?: Overrides<SealpostToml> | string;
  /** Added to the daemon's environment. */
  env?: Readonly<Record<string, string>>;
  /** How long to wait for the `listening` record. Default 20 s. */
  startTimeoutMs?: number;
  /**
   * [server] processes (SMTP session processes); default: SEALPOST_TEST_PROCESSES, else the
   * config's (1). A test's own config.server wins.
   */
  processes?: number | 'auto';
}

export interface SealpostDaemon {
  readonly dir: string;
  readonly configFile: string;
  readonly dataDir: string;
  /** The configured SMTP listeners' ports, from the daemon's `listening` record. */
  readonly ports: { smtp: number[] };
  readonly smtpPort: number;
  /** The config object written (undefined when the test gave raw TOML). */
  readonly config: SealpostToml | undefined;
  /** The running process's pid, or undefined between stop() and restart(). */
  pid(): number | undefined;
  /** Every stdout record so far, across restarts. Index = position for waitForLog's `since`. */
  logs(): readonly LogRecord[];
  /** Records matching `match`. */
  findLogs(match: LogMatch): LogRecord[];
  /** stderr so far (config problems, crashes). */
  stderr(): string;
  /**
   * The first record at index >= since (default 0) that matches. Rejects at the deadline, or when
   * the daemon exits first, quoting the end of its output.
   */
  waitForLog(match: LogMatch, options?: { timeoutMs?: number; since?: number }): Promise<LogRecord>;
  /** SIGTERM, then waits for the exit (default: grace period + 15 s, then SIGKILL and an error). */
  stop(timeoutMs?: number): Promise<ExitInfo>;
  /** SIGKILL, then waits for the exit. */
  kill9(): Promise<ExitInfo>;
  /** stop() if running, then start again on the same config and data; waits for `listening`. */
  restart(): Promise<void>;
  /** `sealpost ARGS --config FILE`: the CLI against this daemon's config (queue, certs, send). */
  cli(args: readonly string[], input?: string): Promise<RunResult>;
  readMaildir(domain: string, mailbox: string): Promise<MaildirMessage[]>;
  /** Waits until a Maildir (or, without domain/mailbox, all Maildirs together) holds `count` messages. */
  waitForMail(count: number, options?: { domain?: string; mailbox?: string; timeoutMs?: number }): Promise<MaildirMessage[]>;
}

export async function startSealpost(scope: Scope, options: SealpostOptions = {}): Promise<SealpostDaemon> {
  const dir = await makeTempDir('sealpost-daemon-');
  const configFile = path.join(dir, 'sealpost.toml');
  let config: SealpostToml | undefined;
  let dataDir: string;
  if (typeof options.config === 'string') {
    dataDir = inspectToml(options.config, dir).dataDir ?? path.join(dir, 'data');
    // A whole document given: [server] appended at its end (a table of its own), unless it has one.
    const processes = options.processes ?? processesFromEnv();
    const withServer =
      processes === undefined || /^\s*\[server\]/m.test(options.config)
        ? options.config
        : `${options.config}\n[server]\nprocesses = ${JSON.stringify(processes)}\n`;
    await writeSealpostConfig(configFile, withServer);
  } else {
    dataDir = path.join(dir, 'data');
    const processes = options.processes ?? processesFromEnv();
    const defaults = testDefaults(dataDir, { smtp: await freePort(), acmeHttp: await freePort() });
    config = mergeConfig(processes === undefined ? defaults : { ...defaults, server: { processes } }, options.config ?? {});
    if (typeof config.data_dir === 'string') dataDir = path.resolve(dir, config.data_dir);
    await writeSealpostConfig(configFile, config);
  }

  const records: LogRecord[] = [];
  const events = new EventEmitter();
  events.setMaxListeners(0); // one pair of listeners per pending waitForLog; many may wait at once
  let stderrText = '';
  let child: ChildProcess | undefined;
  let exit: Promise<ExitInfo> = Promise.resolve({ code: null, signal: null });
  let running = false;
  let smtpPorts: number[] = [];

  const tail = () => {
    const out = records.slice(-15).map((r) => (r.raw !== undefined ? r.raw : JSON.stringify(r)));
    return `\n--- last stdout records:\n${out.join('\n')}\n--- stderr:\n${stderrText.slice(-3000)}`;
  };

  const spawnDaemon = async () => {
    const since = records.length;
    const proc = spawn(SEALPOST, ['start', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    child = proc;
    running = true;
    exit = new Promise<ExitInfo>((resolve) => {
      // 'close', not 'exit': it comes once stdout is drained, so logs() then holds every record.
      proc.once('close', (code, signal) => {
        running = false;
        resolve({ code, signal });
        events.emit('exit');
      });
    });
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderrText += chunk.toString();
    });
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      records.push(parseLine(line));
      events.emit('record');
    });
    const listening = await waitForRecord({ event: 'daemon', state: 'listening' }, since, options.startTimeoutMs ?? 20_000).catch(async (err: unknown) => {
      proc.kill('SIGKILL');
      await exit;
      throw new Error(`sealpost did not start (config ${configFile}): ${(err as Error).message}`);
    });
    smtpPorts = (Array.isArray(listening['smtp']) ? listening['smtp'] : []).map((a) => Number(String(a).split(':').pop()));
    if (typeof listening['dataDir'] === 'string') dataDir = listening['dataDir'];
  };

  const waitForRecord = (match: LogMatch, since: number, timeoutMs: number) =>
    new Promise<LogRecord>((resolve, reject) => {
      const test = typeof match === 'function' ? match : (r: LogRecord) => Object.entries(match).every(([k, v]) => r[k] === v);
      let next = since;
      const check = () => {
        for (; next < records.length; next++) {
          const record = records[next];
          if (record !== undefined && test(record)) {
            done();
            resolve(record);
            return;
          }
        }
      };
      const onExit = () => {
        check();
        done();
        reject(new Error(`sealpost exited before a log record matching ${describe(match)}${tail()}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a log record matching ${describe(match)}${tail()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        events.off('record', check);
        events.off('exit', onExit);
      };
      events.on('record', check);
      events.on('exit', onExit);
      check();
      if (!running) onExit();
    });

  const stop = async (timeoutMs?: number): Promise<ExitInfo> => {
    if (!running || child === undefined) return exit;
    const grace = (config?.shutdown?.grace_s ?? 30) * 1000;
    const limit = timeoutMs ?? grace + 15_000;
    // The `listening` record can reach us before src/cli/start.ts has installed its signal
    // handlers; a SIGTERM in that window kills the daemon outright (Node's default) instead of
    // stopping it cleanly. Node itself always catches SIGTERM (to reset the terminal, then
    // re-raise), so SigCgt cannot show the JS handler; SIGHUP's bit can: start.ts installs the
    // SIGHUP (reload) handler in the same step as SIGTERM's.
    const pid = child.pid;
    if (pid !== undefined)
      await waitFor(() => catchesSignal(pid, 'SIGHUP') || !running, {
        timeoutMs: 5_000,
        intervalMs: 10,
        what: `sealpost (pid ${pid}) to install its signal handlers`,
      });
    child.kill('SIGTERM');
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), limit).unref());
    const result = await Promise.race([exit, timer]);
    if (result === 'timeout') {
      child.kill('SIGKILL');
      await exit;
      throw new Error(`sealpost did not exit within ${limit} ms of SIGTERM; killed${tail()}`);
    }
    return result;
  };
  const kill9 = async (): Promise<ExitInfo> => {
    if (running) child?.kill('SIGKILL');
    return exit;
  };

  scope.after(async () => {
    try {
      if (running) await stop().catch(kill9);
    } finally {
      await removeTempDir(dir);
    }
  });
  await spawnDaemon();

  const allMail = async (): Promise<MaildirMessage[]> => {
    const all: MaildirMessage[] = [];
    for (const box of await listMaildirs(path.join(dataDir, 'mail'))) {
      const [domain = '', mailbox = ''] = box.split('/');
      all.push(...(await readMaildir(dataDir, domain, mailbox)));
    }
    return all;
  };

  return {
    dir,
    configFile,
    get dataDir() {
      return dataDir;
    },
    get ports() {
      return { smtp: [...smtpPorts] };
    },
    get smtpPort() {
      const port = smtpPorts[0];
      if (port === undefined) throw new Error('sealpost reported no SMTP listener');
      return port;
    },
    config,
    pid: () => (running ? child?.pid : undefined),
    logs: () => records,
    findLogs: (match) => records.filter(typeof match === 'function' ? match : (r) => Object.entries(match).every(([k, v]) => r[k] === v)),
    stderr: () => stderrText,
    waitForLog: (match, opts = {}) => waitForRecord(match, opts.since ?? 0, opts.timeoutMs ?? 15_000),
    stop,
    kill9,
    async restart() {
      if (running) await stop();
      await spawnDaemon();
    },
    cli: (args, input) => run(SEALPOST, [...args, '--config', configFile], { input, timeoutMs: 30_000 }),
    readMaildir: (domain, mailbox) => readMaildir(dataDir, domain, mailbox),
    async waitForMail(count, opts = {}) {
      const { domain, mailbox } = opts;
      const where = domain !== undefined && mailbox !== undefined ? `${mailbox}@${domain}'s Maildir` : 'all Maildirs';
      return waitFor(
        async () => {
          const found = domain !== undefined && mailbox !== undefined ? await readMaildir(dataDir, domain, mailbox) : await allMail();
          return found.length >= count ? found : undefined;
        },
        { timeoutMs: opts.timeoutMs ?? 15_000, what: `${count} message(s) in ${where} under ${dataDir}` },
      );
    },
  };
}

function parseLine(line: string): LogRecord {
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as LogRecord;
  } catch {
    // not JSON: kept as raw text below
  }
  return { raw: line };
}

function describe(match: LogMatch): string {
  return typeof match === 'function' ? match.name || 'a predicate' : JSON.stringify(match);
}

/** SEALPOST_TEST_PROCESSES=2 (or auto) runs every daemon of a test run with that many session processes. */
function processesFromEnv(): number | 'auto' | undefined {
  const value = process.env['SEALPOST_TEST_PROCESSES'];
  if (value === undefined || value === '') return undefined;
  return value === 'auto' ? 'auto' : Number(value);
}
