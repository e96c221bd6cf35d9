// OpenSMTPD (Debian's 6.8, unpacked by scripts/install-bench-peers) as a benchmark peer: receives
// for opensmtpd.test into a Maildir (its mail.maildir agent, as an unprivileged user) and relays
// the rest to the sink, with its normal durable queue. Its queue directory is compiled in
// (/var/spool/smtpd): one instance at a time, emptied at start. No STARTTLS: Debian 12's 6.8
// fails every TLS handshake with OpenSSL 3 (OpenSMTPD issue #1171), so it runs the plain cases.
// Side effects: the daemon, /var/spool/smtpd, its log and Maildir under `dir`.
import { chownSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
listen on 127.0.0.1 port ${o.port} hostname bench-in.${OPENSMTPD_DOMAIN}
action "bench" maildir "${o.dir}/mail/bench/Maildir" virtual <vusers>
action "sink" relay host smtp://127.0.0.1:${o.sinkPort}
match from any for domain "${OPENSMTPD_DOMAIN}" action "bench"
match from src 127.0.0.1 for any action "sink"
`;
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
  const daemon = await startDaemon(scope, { command: binary, args: ['-d', '-f', configFile], logFile, port: o.port, group: o.group });
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
