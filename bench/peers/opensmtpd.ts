// OpenSMTPD (Debian's 6.8, unpacked by scripts/install-bench-peers) as a benchmark peer: receives
// for opensmtpd.test into a Maildir (its mail.maildir agent, as an unprivileged user) and relays
// the rest to the sink, with its normal durable queue. Its queue directory is compiled in
// (/var/spool/smtpd): one instance at a time, emptied at start. No STARTTLS: Debian 12's 6.8
// fails every TLS handshake with OpenSSL 3 (OpenSMTPD issue #1171), so it runs the plain cases.
// Its listen queue is OpenBSD's (bench/peers/listen-backlog.c, preloaded): the 5 it asks for is all
// Linux gives, and 20 clients connecting at once then leave some waiting for a greeting for good.
// Side effects: the daemon, /var/spool/smtpd, its log and Maildir under `dir`.
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../test/helpers/proc.ts';
import type { Scope } from '../../test/helpers/tmp.ts';
import { waitFor } from '../../test/helpers/wait.ts';
import type { ServerGroup } from '../cgroup.ts';
import { countFiles, logCounter, type PeerServer, startDaemon } from './daemon.ts';
import { BENCH_USER, benchPeersDir, systemUser } from './install.ts';

export const OPENSMTPD_DOMAIN = 'opensmtpd.test';
const SPOOL = '/var/spool/smtpd';

function config(o: { dir: string; port: number; sinkPort: number }): string {
  return `# The benchmark's OpenSMTPD: receives for ${OPENSMTPD_DOMAIN} into one Maildir, relays the rest to the sink.
table vusers { "bench@${OPENSMTPD_DOMAIN}" = "${BENCH_USER}" }
# One relay host, as many sessions to it as the other peers open (Postfix's destination
# concurrency 20, Exim's 20 runners): the defaults allow 5 per route and 10 per host, a new
# session on a route 5 s after the last connect and 3 s after the last disconnect, on the relay
# every 2 s, so one session at a time drains the queue.
mta limit max-conn-per-host 20 max-conn-per-route 20 conn-delay-route 0 reconn-delay-route 0 conn-delay-relay 0
# Tasks the MTA keeps per relay: above that (default 50) it hands envelopes back to the scheduler
# to hold and asks for 10 again only when its tasks fall to exactly 30 (task-lowat); released
# after a 2000-message outage, 1788 stayed held with every session ended (seen for 130 s).
mta limit task-hiwat 20000 task-lowat 10000 task-release 1000
listen on 127.0.0.1 port ${o.port} hostname bench-in.${OPENSMTPD_DOMAIN}
action "bench" maildir "${o.dir}/mail/bench/Maildir" virtual <vusers>
action "sink" relay host smtp://127.0.0.1:${o.sinkPort}
match from any for domain "${OPENSMTPD_DOMAIN}" action "bench"
match from src 127.0.0.1 for any action "sink"
`;
}

/** The listen queue OpenSMTPD gets on OpenBSD, where solisten() raises its 5 to kern.sominconn. */
const LISTEN_QUEUE = 80;

/** The accept queue of the socket listening on 127.0.0.1:port (ss's Send-Q of a listener). */
async function listenQueue(port: number): Promise<number | undefined> {
  const r = await run('ss', ['-Hltn', `sport = :${port}`]);
  const fields = r.stdout.trim().split(/\s+/);
  return r.code === 0 && fields.length >= 3 ? Number(fields[2]) : undefined;
}

/** Messages in the queue: one directory per message under queue/<bucket>/. */
function queued(): number {
  let n = 0;
  let buckets: string[];
  try {
    buckets = readdirSync(path.join(SPOOL, 'queue'));
  } catch {
    return 0;
  }
  for (const b of buckets) n += countFiles(path.join(SPOOL, 'queue', b));
  return n + countFiles(path.join(SPOOL, 'incoming'));
}

export async function startOpensmtpd(scope: Scope, o: { dir: string; port: number; sinkPort: number; group: ServerGroup | undefined }): Promise<PeerServer> {
  const binary = path.join(benchPeersDir(), 'root', 'usr', 'sbin', 'smtpd');
  const smtpctl = path.join(benchPeersDir(), 'root', 'usr', 'sbin', 'smtpctl');
  const user = systemUser(BENCH_USER);
  mkdirSync(path.join(o.dir, 'mail'), { recursive: true });
  chownSync(path.join(o.dir, 'mail'), user.uid, user.gid);
  for (const sub of ['queue', 'incoming', 'temporary', 'purge', 'corrupt']) rmSync(path.join(SPOOL, sub), { recursive: true, force: true });
  const configFile = path.join(o.dir, 'smtpd.conf');
  writeFileSync(configFile, config(o));
  const logFile = path.join(o.dir, 'daemon.log');
  const shim = path.join(benchPeersDir(), 'lib', 'listen-backlog.so');
  if (!existsSync(shim)) throw new Error(`${shim} is missing (scripts/install-bench-peers)`);
  const env = { ...process.env, LD_PRELOAD: shim };
  const daemon = await startDaemon(scope, { command: binary, args: ['-d', '-f', configFile], logFile, port: o.port, env, group: o.group });
  const queue = await listenQueue(o.port);
  if (queue !== LISTEN_QUEUE) {
    await daemon.stop();
    throw new Error(`its listen queue is ${queue ?? 'unknown'}, not ${LISTEN_QUEUE}: ${shim} was not preloaded`);
  }
  const version = /OpenSMTPD (\S+) starting/.exec(readFileSync(logFile, 'utf8'))?.[1] ?? '?';
  const maildir = path.join(o.dir, 'mail', 'bench', 'Maildir', 'new');
  // Once the sink's route has failed, OpenSMTPD holds the other envelopes without trying each
  // ("hiwat reached … holding envelopes"): after the first temporary failure, the whole queue waits.
  const tempFails = logCounter(logFile, /mta delivery .*result="?TempFail/);
  // A failed route is disabled for a while (15 s, then longer); `schedule all` meanwhile fails at once.
  const disabled = logCounter(logFile, /Disabling route/);
  const enabled = logCounter(logFile, /Enabling route/);
  return {
    version,
    starttls: false,
    relays: true,
    stop: () => daemon.stop(),
    target: {
      name: 'opensmtpd',
      port: o.port,
      rcpt: `bench@${OPENSMTPD_DOMAIN}`,
      cpuMs: () => daemon.cpuMs(),
      memoryKiB: () => daemon.pssKiB(),
      open: queued,
      deferred: () => (tempFails() > 0 ? queued() : 0),
      delivered: () => countFiles(maildir),
      readyToRelease: async () => {
        await waitFor(() => disabled() <= enabled(), { timeoutMs: 120_000, intervalMs: 200, what: "OpenSMTPD's route to the sink to be enabled again" });
      },
      release: async () => {
        const r = await run(smtpctl, ['schedule', 'all']);
        if (r.code !== 0) throw new Error(`smtpctl schedule all: ${r.stderr.trim() || r.stdout.trim()}`);
      },
    },
  };
}
