// chasquid (Debian's, unpacked by scripts/install-bench-peers) as a benchmark peer: receives for
// chasquid.test with its normal durable queue (each message saved in data_dir before the 250) and
// delivers through a mail delivery agent, OpenSMTPD's mail.maildir (a small C program that writes
// one Maildir file; chasquid has no Maildir writer of its own), run as an unprivileged user like
// chasquid itself. Inbound cases only: chasquid has no relay host setting, it always delivers by
// MX on port 25. Side effects: the daemon, its config, data and Maildir under `dir`.
import { chownSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../test/helpers/proc.ts';
import type { Scope } from '../../test/helpers/tmp.ts';
import type { ServerGroup } from '../cgroup.ts';
import { countFiles, type PeerServer, startDaemon } from './daemon.ts';
import { BENCH_USER, benchPeersDir, systemUser } from './install.ts';

export const CHASQUID_DOMAIN = 'chasquid.test';

function chownTree(dir: string, uid: number, gid: number): void {
  chownSync(dir, uid, gid);
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) chownTree(p, uid, gid);
    else chownSync(p, uid, gid);
  }
}

export async function startChasquid(
  scope: Scope,
  o: { dir: string; port: number; submissionPorts: [number, number]; cert: { certFile: string; keyFile: string }; group: ServerGroup | undefined },
): Promise<PeerServer> {
  const bin = (name: string) => path.join(benchPeersDir(), 'root', 'usr', 'bin', name);
  const host = `bench-in.${CHASQUID_DOMAIN}`;
  const conf = path.join(o.dir, 'conf');
  const maildir = path.join(o.dir, 'mail', 'bench', 'Maildir');
  mkdirSync(path.join(conf, 'certs', host), { recursive: true });
  mkdirSync(path.join(conf, 'domains', CHASQUID_DOMAIN), { recursive: true });
  mkdirSync(path.join(o.dir, 'data'), { recursive: true });
  for (const sub of ['new', 'cur', 'tmp']) mkdirSync(path.join(maildir, sub), { recursive: true });
  writeFileSync(path.join(conf, 'certs', host, 'fullchain.pem'), readFileSync(o.cert.certFile));
  writeFileSync(path.join(conf, 'certs', host, 'privkey.pem'), readFileSync(o.cert.keyFile), { mode: 0o600 });
  writeFileSync(
    path.join(conf, 'chasquid.conf'),
    [
      `hostname: "${host}"`,
      `smtp_address: "127.0.0.1:${o.port}"`,
      `submission_address: "127.0.0.1:${o.submissionPorts[0]}"`,
      `submission_over_tls_address: "127.0.0.1:${o.submissionPorts[1]}"`,
      'monitoring_address: ""',
      `mail_delivery_agent_bin: "/usr/libexec/opensmtpd/mail.maildir"`,
      `mail_delivery_agent_args: "${maildir}"`,
      `data_dir: "${path.join(o.dir, 'data')}"`,
      `mail_log_path: "${path.join(o.dir, 'mail.log')}"`,
      '',
    ].join('\n'),
  );
  // A local user makes bench@ a valid recipient (chasquid refuses unknown local users at RCPT).
  const added = await run(bin('chasquid-util'), [`--configdir=${conf}`, 'user-add', `bench@${CHASQUID_DOMAIN}`, '--password=bench-password']);
  if (added.code !== 0) throw new Error(`chasquid-util user-add: ${added.stderr.trim() || added.stdout.trim()}`);
  const user = systemUser(BENCH_USER);
  chownTree(o.dir, user.uid, user.gid);
  const logFile = path.join(o.dir, 'daemon.log');
  const daemon = await startDaemon(scope, {
    command: bin('chasquid'),
    args: ['-config_dir', conf, '-alsologtostderr'],
    logFile,
    port: o.port,
    group: o.group,
    uid: user.uid,
    gid: user.gid,
  });
  const queue = path.join(o.dir, 'data', 'queue');
  return {
    version: /chasquid[ _-]?v?(\d+\.\d+(?:\.\d+)?)/i.exec(readFileSync(logFile, 'utf8'))?.[1] ?? '1.11 (Debian 12)',
    starttls: true,
    relays: false,
    stop: () => daemon.stop(),
    target: {
      name: 'chasquid',
      port: o.port,
      rcpt: `bench@${CHASQUID_DOMAIN}`,
      cpuMs: () => daemon.cpuMs(),
      memoryKiB: () => daemon.pssKiB(),
      open: () => countFiles(queue),
      deferred: () => 0,
      delivered: () => countFiles(path.join(maildir, 'new')),
      release: async () => undefined,
    },
  };
}
