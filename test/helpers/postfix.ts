// A real Postfix as a test peer: a SENDER that relays into a given host:port, or a RECEIVER that
// accepts mail for given domains into Maildirs. Side effects: makes a temp dir, starts a Postfix
// master (a daemon, not our child) and stops it and removes the dir when the test's scope ends.
// Needs root (postfix start, sendmail -C, postqueue -c with a private config dir).
import { chmod, chown, mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { listMaildirs, type MaildirMessage, readMaildirAt } from './maildir.ts';
import {
  baseMainCf,
  type HostPort,
  type Ids,
  type MainCf,
  masterCf,
  type PostfixPaths,
  postfixPaths,
  type ReceiverTls,
  receiverMainCf,
  renderMainCf,
  type SenderTls,
  senderMainCf,
} from './postfix-config.ts';
import { type RunResult, run, runOk } from './proc.ts';
import { livePidsInGroup } from './processes.ts';
import { makeTempDir, removeTempDir, type Scope } from './tmp.ts';
import { waitFor, waitForLine, waitForPort } from './wait.ts';

export type { HostPort, ReceiverTls, SenderTls } from './postfix-config.ts';

interface CommonOptions {
  /** Short name for the dir, syslog_name ("postfix-NAME") and errors. */
  name?: string;
  /** myhostname: the EHLO name and banner. Must differ from the peer's name (loop check). */
  hostname?: string;
  /** main.cf parameters applied last (they override the generated ones). */
  mainCf?: MainCf;
}

export interface SenderOptions extends CommonOptions {
  /** relayhost: where all mail goes (e.g. Sealpost's SMTP listener). */
  relayTo: HostPort;
  /** Per-domain next hops (transport_maps), overriding relayTo for those domains. */
  routes?: Readonly<Record<string, HostPort>>;
  /** Default { level: 'may' }. */
  tls?: SenderTls;
  /**
   * Also accept SMTP here (host defaults to 127.0.0.1): mail from mynetworks is queued and relayed
   * like injected mail (a relay with a durable queue, e.g. for benchmarks). Default: no smtpd.
   */
  listen?: { host?: string; port: number };
}

export interface ReceiverOptions extends CommonOptions {
  /** The smtpd listener: host defaults to 127.0.0.1; port 25 is free inside netless. */
  listen: { host?: string; port: number };
  domains: readonly string[];
  /** Full addresses with their own Maildir; others get 550. Empty/absent: accept any local part. */
  mailboxes?: readonly string[];
  tls?: ReceiverTls;
}

/** One message in `postqueue -j` output. */
export interface QueueEntry {
  queue_name: string;
  queue_id: string;
  sender: string;
  recipients: { address: string; delay_reason?: string }[];
}

export interface PostfixInstance {
  readonly name: string;
  readonly hostname: string;
  readonly paths: PostfixPaths;
  readonly masterPid: number;
  /** The maillog text so far. */
  log(): Promise<string>;
  /** Resolves with the first maillog line matching `pattern`. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Messages in any queue (maildrop, incoming, active, deferred, hold). */
  queue(): Promise<QueueEntry[]>;
  /** Waits until every queue is empty; the error lists what is still queued and why. */
  waitForQueueEmpty(timeoutMs?: number): Promise<void>;
  /** postqueue -f: try deferred mail now. */
  flush(): Promise<void>;
  /** `postfix -c CONFIG_DIR ARGS` for anything else (check, reload, status). */
  postfix(...args: string[]): Promise<RunResult>;
  /** Processes of this instance still running (the master's process group, zombies excluded). */
  livePids(): number[];
  /** postfix stop, then waits until every process of the instance is gone. Idempotent. */
  stop(): Promise<void>;
}

export interface PostfixSender extends PostfixInstance {
  /** Submits a message through this instance's sendmail (postdrop → pickup → qmgr → smtp). */
  inject(from: string, to: readonly string[], message: string): Promise<void>;
}

export interface ReceivedMessage extends MaildirMessage {
  /** "domain/local" or "domain/_all" (the catch-all Maildir). */
  maildir: string;
  /** The Delivered-To header virtual(8) adds: the recipient this copy was delivered for. */
  deliveredTo: string | undefined;
}

export interface PostfixReceiver extends PostfixInstance {
  readonly host: string;
  readonly port: number;
  /** Every delivered message in every Maildir, oldest first within each Maildir. */
  messages(): Promise<ReceivedMessage[]>;
  waitForMessages(count: number, timeoutMs?: number): Promise<ReceivedMessage[]>;
}

export async function startPostfixSender(scope: Scope, options: SenderOptions): Promise<PostfixSender> {
  const name = options.name ?? 'sender';
  const hostname = options.hostname ?? `${name}.postfix.test`;
  const cf = (paths: PostfixPaths) => ({
    ...baseMainCf(paths, name, hostname),
    ...senderMainCf(options.relayTo, options.routes ?? {}, options.tls ?? { level: 'may' }),
    ...options.mainCf,
  });
  const listen = options.listen ? { host: options.listen.host ?? '127.0.0.1', port: options.listen.port } : undefined;
  const instance = await startInstance(scope, name, hostname, cf, listen);
  return {
    ...instance,
    async inject(from, to, message) {
      // -i: a line with a single dot is not the end of input. sendmail -C takes the config dir.
      await runOk('sendmail', ['-C', instance.paths.configDir, '-i', '-f', from, '--', ...to], { input: message, timeoutMs: 15_000 });
    },
  };
}

export async function startPostfixReceiver(scope: Scope, options: ReceiverOptions): Promise<PostfixReceiver> {
  const name = options.name ?? 'receiver';
  const hostname = options.hostname ?? `${name}.postfix.test`;
  const listen = { host: options.listen.host ?? '127.0.0.1', port: options.listen.port };
  const owner = await postfixIds();
  const cf = (paths: PostfixPaths) => ({
    ...baseMainCf(paths, name, hostname, listen.host === '127.0.0.1' ? undefined : listen.host),
    ...receiverMainCf(paths, options.domains, options.mailboxes ?? [], owner, options.tls),
    ...options.mainCf,
  });
  const instance = await startInstance(scope, name, hostname, cf, listen);
  const messages = async (): Promise<ReceivedMessage[]> => {
    const all: ReceivedMessage[] = [];
    for (const maildir of await listMaildirs(instance.paths.mailDir)) {
      for (const message of await readMaildirAt(path.join(instance.paths.mailDir, maildir))) {
        all.push({ ...message, maildir, deliveredTo: message.header('delivered-to') });
      }
    }
    return all;
  };
  return {
    ...instance,
    host: listen.host,
    port: listen.port,
    messages,
    async waitForMessages(count, timeoutMs = 15_000) {
      return waitFor(
        async () => {
          const all = await messages();
          return all.length >= count ? all : undefined;
        },
        { timeoutMs, what: `${count} message(s) delivered by Postfix ${name} (maillog: ${instance.paths.maillog})` },
      );
    },
  };
}

async function startInstance(
  scope: Scope,
  name: string,
  hostname: string,
  makeCf: (paths: PostfixPaths) => MainCf,
  listen: HostPort | undefined,
): Promise<PostfixInstance> {
  const ids = await postfixIds();
  const paths = postfixPaths(await makeTempDir(`postfix-${name}-`));
  // Daemons drop to the postfix uid and then open absolute paths below dir (mail, data): the dir
  // must be searchable by others. queue_directory and config_directory stay root-owned (postfix
  // check warns otherwise).
  await chmod(paths.dir, 0o755);
  await mkdir(paths.configDir, { mode: 0o755 });
  await makeQueueDirs(paths.queueDir, ids);
  for (const own of [paths.dataDir, paths.mailDir]) {
    await mkdir(own, { mode: 0o700 });
    await chown(own, ids.uid, ids.gid);
  }
  await writeFile(path.join(paths.configDir, 'main.cf'), renderMainCf(makeCf(paths)), { mode: 0o644 });
  await writeFile(path.join(paths.configDir, 'master.cf'), masterCf(listen), { mode: 0o644 });
  // Postfix re-reads a "hot" config file (modified within the last second) until it cools down,
  // sleeping 300 ms at a time: every command would take ~1.5 s. Backdate the files.
  const past = new Date(Date.now() - 60_000);
  for (const file of ['main.cf', 'master.cf']) await utimes(path.join(paths.configDir, file), past, past);

  const postfix = (...args: string[]) => run('postfix', ['-c', paths.configDir, ...args], { timeoutMs: 30_000 });
  const readLog = () => readFile(paths.maillog, 'utf8').catch(() => '');
  // `postfix start` runs `master -w`, which returns once the master has bound its listeners: the
  // smtpd port is open when this returns 0. It skips its integrity checks (post-install
  // create-missing, a find over the install: ~2 s of shell on a busy machine) when
  // <queue>/quick-start exists; makeQueueDirs did their work, and `postfix -c DIR check` in the
  // harness test proves the layout passes them.
  await writeFile(path.join(paths.queueDir, 'quick-start'), '');
  const started = await postfix('start');
  if (started.code !== 0) {
    const log = await readLog();
    await postfix('abort').catch(() => undefined);
    await removeTempDir(paths.dir);
    throw new Error(`postfix ${name}: start failed (exit ${started.code})\n${started.stderr}\nmaillog:\n${log}`);
  }
  // pid/master.pid holds the pid right-aligned in 10 columns.
  const masterPid = Number((await readFile(path.join(paths.queueDir, 'pid', 'master.pid'), 'utf8')).trim());

  let stopping: Promise<void> | undefined;
  const livePids = () => livePidsInGroup(masterPid);
  const stop = () => {
    stopping ??= (async () => {
      // `postfix stop` signals the master and waits up to 5 s for it; the master's children get
      // SIGTERM from it and may outlive it briefly.
      await postfix('stop');
      try {
        await waitFor(() => livePids().length === 0, { timeoutMs: 10_000, what: `Postfix ${name} processes to exit` });
      } catch (err) {
        await postfix('abort').catch(() => undefined);
        for (const pid of livePids()) process.kill(pid, 'SIGKILL');
        throw err;
      }
    })();
    return stopping;
  };
  scope.after(async () => {
    try {
      await stop();
    } finally {
      await removeTempDir(paths.dir);
    }
  });

  const queue = async (): Promise<QueueEntry[]> => {
    const out = await runOk('postqueue', ['-c', paths.configDir, '-j'], { timeoutMs: 10_000 });
    return out.stdout
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as QueueEntry);
  };

  if (listen) await waitForPort(listen.host, listen.port, 10_000);
  return {
    name,
    hostname,
    paths,
    masterPid,
    log: readLog,
    waitForLog: (pattern, timeoutMs = 15_000) => waitForLine(paths.maillog, pattern, timeoutMs),
    queue,
    async waitForQueueEmpty(timeoutMs = 20_000) {
      let last: QueueEntry[] = [];
      try {
        await waitFor(
          async () => {
            last = await queue();
            return last.length === 0;
          },
          { timeoutMs, intervalMs: 200, what: `Postfix ${name}'s queue to empty` },
        );
      } catch (err) {
        const still = last.map(
          (e) => `${e.queue_id} (${e.queue_name}) ${e.recipients.map((r) => `${r.address}: ${r.delay_reason ?? 'not tried yet'}`).join('; ')}`,
        );
        throw new Error(`${(err as Error).message}; still queued: ${still.join(' | ')}`);
      }
    },
    async flush() {
      await runOk('postqueue', ['-c', paths.configDir, '-f'], { timeoutMs: 10_000 });
    },
    postfix,
    livePids,
    stop,
  };
}

/**
 * The queue's subdirectories with the owners and modes of /etc/postfix/postfix-files (what
 * `post-install create-missing` would make): the queue dir and pid/ root-owned, the rest owned by
 * mail_owner; maildrop (730) and public (710) group postdrop, so the set-gid postdrop and postqueue
 * can drop mail and reach showq.
 */
async function makeQueueDirs(queueDir: string, ids: Ids & { postdropGid: number }): Promise<void> {
  await mkdir(queueDir, { mode: 0o755 });
  await mkdir(path.join(queueDir, 'pid'), { mode: 0o755 });
  const owned = ['active', 'bounce', 'corrupt', 'defer', 'deferred', 'flush', 'hold', 'incoming', 'private', 'saved', 'trace'];
  const dirs: [string, number, number][] = [
    ...owned.map((d): [string, number, number] => [d, ids.gid, 0o700]),
    ['maildrop', ids.postdropGid, 0o730],
    ['public', ids.postdropGid, 0o710],
  ];
  for (const [name, gid, mode] of dirs) {
    const dir = path.join(queueDir, name);
    await mkdir(dir);
    await chmod(dir, mode); // mkdir's mode is filtered by the umask
    await chown(dir, ids.uid, gid);
  }
}

/** The postfix user's uid and gid and the postdrop group's gid, from /etc/passwd and /etc/group. */
async function postfixIds(): Promise<Ids & { postdropGid: number }> {
  const user = (await readFile('/etc/passwd', 'utf8')).split('\n').find((l) => l.startsWith('postfix:'));
  const group = (await readFile('/etc/group', 'utf8')).split('\n').find((l) => l.startsWith('postdrop:'));
  const [, , uid, gid] = user?.split(':') ?? [];
  const [, , postdropGid] = group?.split(':') ?? [];
  if (uid === undefined || gid === undefined || postdropGid === undefined) {
    throw new Error('no postfix user or postdrop group: run scripts/install-test-peers');
  }
  return { uid: Number(uid), gid: Number(gid), postdropGid: Number(postdropGid) };
}
