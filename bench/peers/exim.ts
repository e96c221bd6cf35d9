// Exim 4 (Debian's exim4-daemon-light, unpacked by scripts/install-bench-peers) as a benchmark
// peer: one daemon that receives for exim.test into a Maildir and relays everything else to the
// sink through a manual route, with its normal durable spool (a message is on disk before the
// 250, delivered at once by a process forked per message). Side effects: the daemon, its spool,
// log and Maildir under `dir`, its config at the one path /etc/exim4/trusted_configs lists.
import { chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run } from '../../test/helpers/proc.ts';
import type { Scope } from '../../test/helpers/tmp.ts';
import type { ServerGroup } from '../cgroup.ts';
import { countFiles, logCounter, type PeerServer, startDaemon } from './daemon.ts';
import { benchPeersDir, systemUser } from './install.ts';

export const EXIM_DOMAIN = 'exim.test';
/** Queue runners started at once to release a deferred queue (one runner delivers one message at a time). */
const RUNNERS = 20;

function config(o: { dir: string; port: number; sinkPort: number; certFile: string; keyFile: string; binary: string }): string {
  return `# The benchmark's Exim: receives for ${EXIM_DOMAIN} into one Maildir, relays the rest to the sink.
exim_path = ${o.binary}
primary_hostname = bench-in.${EXIM_DOMAIN}
domainlist local_domains = ${EXIM_DOMAIN}
hostlist relay_from_hosts = 127.0.0.1
spool_directory = ${o.dir}/spool
log_file_path = ${o.dir}/log/%slog
local_interfaces = 127.0.0.1
daemon_smtp_ports = ${o.port}
notifier_socket =
never_users = root
keep_environment =
host_lookup =
rfc1413_hosts =
smtp_accept_max = 1100
smtp_accept_queue_per_connection = 0
message_size_limit = 50M
tls_advertise_hosts = *
tls_certificate = ${o.certFile}
tls_privatekey = ${o.keyFile}
acl_smtp_rcpt = acl_check_rcpt
begin acl
acl_check_rcpt:
  accept domains = +local_domains
         local_parts = bench
  accept hosts = +relay_from_hosts
         domains = !+local_domains
  deny message = relay not permitted
begin routers
local_bench:
  driver = accept
  domains = +local_domains
  local_parts = bench
  transport = maildir_delivery
to_sink:
  driver = manualroute
  domains = !+local_domains
  route_list = * 127.0.0.1::${o.sinkPort} byname
  self = send
  transport = remote_smtp
begin transports
maildir_delivery:
  driver = appendfile
  directory = ${o.dir}/mail/bench/Maildir
  maildir_format
  create_directory
  user = Debian-exim
  group = Debian-exim
  mode = 0600
remote_smtp:
  driver = smtp
  hosts_try_fastopen =
begin retry
* * F,2h,15m
`;
}

export async function startExim(
  scope: Scope,
  o: { dir: string; port: number; sinkPort: number; cert: { certFile: string; keyFile: string }; group: ServerGroup | undefined },
): Promise<PeerServer> {
  const peers = benchPeersDir();
  const binary = path.join(peers, 'root', 'usr', 'sbin', 'exim4');
  const configFile = path.join(peers, 'exim', 'exim4.conf');
  const exim = systemUser('Debian-exim');
  for (const sub of ['spool', 'log', 'mail']) {
    mkdirSync(path.join(o.dir, sub), { recursive: true });
    chownSync(path.join(o.dir, sub), exim.uid, exim.gid);
  }
  // Exim reads its certificate after giving up root.
  const certFile = path.join(o.dir, 'cert.pem');
  const keyFile = path.join(o.dir, 'key.pem');
  writeFileSync(certFile, readFileSync(o.cert.certFile));
  writeFileSync(keyFile, readFileSync(o.cert.keyFile), { mode: 0o600 });
  chownSync(keyFile, exim.uid, exim.gid);
  writeFileSync(configFile, config({ dir: o.dir, port: o.port, sinkPort: o.sinkPort, certFile, keyFile, binary }));
  const version = /Exim version (\S+)/.exec((await run(binary, ['-C', configFile, '-bV'])).stdout)?.[1] ?? '?';
  const daemon = await startDaemon(scope, {
    command: binary,
    args: ['-C', configFile, '-bdf', '-q30m'],
    logFile: path.join(o.dir, 'daemon.log'),
    port: o.port,
    group: o.group,
  });
  const input = path.join(o.dir, 'spool', 'input');
  const maildir = path.join(o.dir, 'mail', 'bench', 'Maildir', 'new');
  // " == " is Exim's log mark of a deferred delivery; each message is tried once while the sink is down.
  const deferrals = logCounter(path.join(o.dir, 'log', 'mainlog'), / == /);
  return {
    version,
    starttls: true,
    relays: true,
    stop: () => daemon.stop(),
    target: {
      name: 'exim',
      port: o.port,
      rcpt: `bench@${EXIM_DOMAIN}`,
      cpuMs: () => daemon.cpuMs(),
      memoryKiB: () => daemon.pssKiB(),
      open: () => countFiles(input, (n) => n.endsWith('-H')),
      deferred: () =>
        Math.min(
          deferrals(),
          countFiles(input, (n) => n.endsWith('-H')),
        ),
      delivered: () => countFiles(maildir),
      // The runners end by themselves once the queue is done; the scenario waits for the queue.
      release: async () => {
        for (let i = 0; i < RUNNERS; i++) void run(binary, ['-C', configFile, '-qff'], { timeoutMs: 600_000 });
      },
    },
  };
}
