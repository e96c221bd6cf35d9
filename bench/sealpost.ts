// The Sealpost daemon under benchmark: writes its config (defaults everywhere except what a
// loopback benchmark needs), starts `scripts/sealpost start` with its JSON log in a file, and
// reads its queue, Maildir, CPU time and memory. Side effects: files under the given directory,
// one child process (stopped with SIGTERM when the scope ends).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Db, MIGRATIONS_DIR, openDb } from '../src/db/open.ts';
import { QueueStore } from '../src/queue/store.ts';
import { requestWake } from '../src/queue/wake.ts';
import type { Scope } from '../test/helpers/tmp.ts';
import { waitForLine } from '../test/helpers/wait.ts';
import { processTree, sampleTree, threadCpuMs, treeCpuMs, treeMemoryKiB } from './proc.ts';
import { assignRoles, cpuByRole, type RoleCpu, type Roles } from './roles.ts';

export const SEALPOST_DOMAIN = 'sealpost.test';
export const SEALPOST_MAILBOX = `bench@${SEALPOST_DOMAIN}`;

export interface SealpostOptions {
  /** This daemon's own directory: config, data_dir, log. */
  dir: string;
  port: number;
  /** "127.0.0.1:PORT" of the benchmark's DNS server (MX of the sink's domain). */
  dns: string;
  /** [outbound] port: where the sink listens. */
  sinkPort: number;
  /**
   * Let 127.0.0.1 relay (relay.networks), to fill an outbound queue. Otherwise the load generators
   * are like other servers on the Internet sending to our domain (what an MX receives), with the
   * default checks that brings (SPF, DKIM, DMARC through the benchmark's DNS server).
   */
  relay: boolean;
  /** false: inbound.authentication_results = false (no SPF/DKIM/DMARC), to compare like with like. */
  authChecks?: boolean;
  cert?: { certFile: string; keyFile: string };
  /** SEALPOST_NODE_OPTIONS, e.g. "--cpu-prof --cpu-prof-dir=DIR". */
  nodeOptions?: string;
  /** Keep [limits] at their defaults (connections_per_ip 50, message_size 50 MiB) instead of the load's 2000 connections. */
  defaultLimits?: boolean;
  /** The listening address (default 127.0.0.1): a node of bench/nodes.ts on 127.0.0.11-13. */
  host?: string;
  /** [server] processes: the SMTP sessions in N session processes ("auto": one per CPU); default 1, the primary alone. */
  processes?: number | 'auto';
  /** The queue on PostgreSQL ([store] kind = "postgres") as this node; default the SQLite one in data_dir. */
  store?: { url: string; passwordFile: string; node: string };
}

/**
 * Only what a loopback benchmark needs differs from the defaults: ports, a test domain, relay
 * networks, the per-IP connection limit (every load comes from 127.0.0.1), no reverse DNS (the Postfix peers have
 * smtpd_peername_lookup = no: neither side asks DNS per connection), IPv4 only outbound (Postfix
 * peers: inet_protocols = ipv4). Durability settings are the defaults: synchronous=FULL, 250 after commit.
 */
export function benchConfig(o: SealpostOptions): string {
  const store = o.store
    ? `\n[store]\nkind = "postgres"\nurl = ${JSON.stringify(o.store.url)}\npassword_file = ${JSON.stringify(o.store.passwordFile)}\nnode = ${JSON.stringify(o.store.node)}\nallow_local_maildir = true\n`
    : '';
  const tls = o.cert ? `[tls]\ncert_file = ${JSON.stringify(o.cert.certFile)}\nkey_file = ${JSON.stringify(o.cert.keyFile)}\n\n` : '';
  const server = o.processes === undefined ? '' : `[server]\nprocesses = ${JSON.stringify(o.processes)}\n\n`;
  return `# Written by bench/bench.
hostname = "mx.${SEALPOST_DOMAIN}"
data_dir = ${JSON.stringify(path.join(o.dir, 'data'))}

${server}[listen]
smtp = ["${o.host ?? '127.0.0.1'}:${o.port}"]

${tls}[dns]
servers = ["${o.dns}"]
timeout_ms = 2000

[[domain]]
name = "${SEALPOST_DOMAIN}"
mailboxes = ["bench"]

[relay]
networks = [${o.relay ? (o.host ? '"127.0.0.0/8"' : '"127.0.0.1/32"') : ''}]

${o.defaultLimits ? '' : '[limits]\nconnections = 2000\nconnections_per_ip = 2000\n\n'}[inbound]
reverse_dns = false
${o.authChecks === false ? 'authentication_results = false\n' : ''}
[outbound]
port = ${o.sinkPort}
ipv6 = false

[doctor]
at_startup = false
${store}`;
}

export interface SealpostDaemon {
  readonly pid: number;
  readonly port: number;
  readonly dataDir: string;
  readonly logFile: string;
  /** CPU time of the daemon's process tree (the primary, its session processes, their threads), ms. */
  cpuMs(): number;
  /** The processes by role (primary, session N), as seen at the last roleCpu() (and at the start). */
  roles(): Roles;
  /** CPU time per role (process, event loop, offload thread) from /proc, ms; names any new process a role. */
  roleCpu(): Record<string, RoleCpu>;
  /** CPU time of the primary's main thread (the event loop) alone. */
  loopCpuMs(): number;
  /** Pss summed over the daemon's processes (all its threads), KiB: the memory figure. */
  pssKiB(): number;
  /** VmRSS summed over the daemon's processes, KiB: the second figure. */
  rssKiB(): number;
  /** Recipients not yet in a final state (queued, active, held). */
  openRecipients(): number;
  /** Queued recipients that have had at least one attempt. */
  deferredRecipients(): number;
  /** `sealpost queue retry --all`, done in-process with the same code (no Node start-up in the timing). */
  retryAll(): Promise<number>;
  /** Files in the bench mailbox's Maildir new/. */
  maildirCount(): number;
  stop(): Promise<void>;
}

export async function startSealpost(scope: Scope, root: string, o: SealpostOptions): Promise<SealpostDaemon> {
  mkdirSync(o.dir, { recursive: true });
  const configFile = path.join(o.dir, 'sealpost.toml');
  const logFile = path.join(o.dir, 'sealpost.log');
  const dataDir = path.join(o.dir, 'data');
  writeFileSync(configFile, benchConfig(o));
  const logFd = openSync(logFile, 'a');
  const env = { ...process.env, ...(o.nodeOptions ? { SEALPOST_NODE_OPTIONS: o.nodeOptions } : {}) };
  const child = spawn(path.join(root, 'scripts', 'sealpost'), ['start', '--config', configFile], { stdio: ['ignore', logFd, logFd], env });
  closeSync(logFd);
  const exited = once(child, 'exit');
  let db: Db | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      db?.close();
      if (child.exitCode === null && child.signalCode === null) {
        // The session processes may end after the primary (and write their --cpu-prof profiles then).
        const tree = child.pid === undefined ? [] : processTree(child.pid);
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
        await exited;
        clearTimeout(timer);
        for (let waited = 0; waited < 30_000 && tree.some((p) => existsSync(`/proc/${p}`)); waited += 100) await sleep(100);
      }
    })();
    return stopping;
  };
  scope.after(stop);
  const died = exited.then(() => {
    throw new Error(`sealpost exited before listening; see ${logFile}`);
  });
  await Promise.race([waitForLine(logFile, /"state":"listening"/, 30_000), died]);
  died.catch(() => undefined);
  const pid = child.pid as number;
  let roles = assignRoles(pid, sampleTree(pid));
  const queue = (): Db => (db ??= openDb(dataDir, MIGRATIONS_DIR));
  const count = (sql: string) => queue().prepare<[], { n: number }>(sql).get()?.n ?? 0;
  const maildir = path.join(dataDir, 'mail', SEALPOST_DOMAIN, 'bench', 'new');
  return {
    pid,
    port: o.port,
    dataDir,
    logFile,
    cpuMs: () => treeCpuMs(pid),
    roles: () => roles,
    roleCpu() {
      const tree = sampleTree(pid);
      roles = assignRoles(pid, tree, roles);
      return cpuByRole(tree, roles);
    },
    loopCpuMs: () => threadCpuMs(pid, pid),
    pssKiB: () => treeMemoryKiB(pid).pssKiB,
    rssKiB: () => treeMemoryKiB(pid).rssKiB,
    openRecipients: () => count(`SELECT count(*) AS n FROM recipients WHERE state IN ('queued', 'active', 'held')`),
    deferredRecipients: () => count(`SELECT count(*) AS n FROM recipients WHERE state = 'queued' AND attempts > 0`),
    async retryAll() {
      // The retry policy is not used by retryNow (it only makes queued recipients due).
      const n = new QueueStore(queue(), { minBackoffMs: 60_000, maxBackoffMs: 3_600_000, maxLifetimeMs: 86_400_000 }).retryNow(undefined, Date.now());
      await requestWake(dataDir);
      return n;
    },
    maildirCount: () => {
      try {
        return readdirSync(maildir).length;
      } catch {
        return 0;
      }
    },
    stop,
  };
}
