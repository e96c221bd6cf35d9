// Haraka (npm, its own lockfile in bench/peers/haraka) as a benchmark peer: one master and a
// worker per CPU (its documented performance setting, nodes=cpus), receiving for haraka.test into
// a Maildir through bench/peers/haraka/plugins/bench_maildir.js (written and fsync'd before the
// 250: Haraka has no local delivery or inbound queue of its own). Inbound cases only. Side
// effects: the daemon, its config and Maildir under `dir`.
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Scope } from '../../test/helpers/tmp.ts';
import type { ServerGroup } from '../cgroup.ts';
import { countFiles, type PeerServer, startDaemon } from './daemon.ts';

export const HARAKA_DOMAIN = 'haraka.test';

export async function startHaraka(
  scope: Scope,
  root: string,
  o: { dir: string; port: number; cert: { certFile: string; keyFile: string }; group: ServerGroup | undefined },
): Promise<PeerServer> {
  const pkg = path.join(root, 'bench', 'peers', 'haraka');
  const haraka = path.join(pkg, 'node_modules', 'Haraka');
  const config = path.join(o.dir, 'config');
  const maildir = path.join(o.dir, 'mail', 'bench', 'Maildir');
  for (const sub of ['new', 'cur', 'tmp']) mkdirSync(path.join(maildir, sub), { recursive: true });
  // Haraka reads every setting it has no file for from the instance's config dir: start from its defaults.
  cpSync(path.join(haraka, 'config'), config, { recursive: true });
  cpSync(path.join(pkg, 'plugins'), path.join(o.dir, 'plugins'), { recursive: true });
  const put = (name: string, text: string) => writeFileSync(path.join(config, name), text);
  put('smtp.ini', `listen=127.0.0.1:${o.port}\nnodes=cpus\n[headers]\n`);
  put('me', `bench-in.${HARAKA_DOMAIN}\n`);
  put('host_list', `${HARAKA_DOMAIN}\n`);
  put('plugins', 'tls\nrcpt_to.in_host_list\nbench_maildir\n');
  put('tls.ini', 'key=tls_key.pem\ncert=tls_cert.pem\n');
  put('tls_key.pem', readFileSync(o.cert.keyFile, 'utf8'));
  put('tls_cert.pem', readFileSync(o.cert.certFile, 'utf8'));
  put('log.ini', '[main]\nlevel=WARN\n');
  put('bench_maildir', `${maildir}\n`);
  const daemon = await startDaemon(scope, {
    command: process.execPath,
    args: [path.join(haraka, 'bin', 'haraka'), '-c', o.dir],
    logFile: path.join(o.dir, 'daemon.log'),
    port: o.port,
    group: o.group,
    cwd: o.dir,
  });
  const version = (JSON.parse(readFileSync(path.join(haraka, 'package.json'), 'utf8')) as { version: string }).version;
  return {
    version,
    starttls: true,
    relays: false,
    stop: () => daemon.stop(),
    target: {
      name: 'haraka',
      port: o.port,
      rcpt: `bench@${HARAKA_DOMAIN}`,
      cpuMs: () => daemon.cpuMs(),
      memoryKiB: () => daemon.pssKiB(),
      // Durable before the 250: nothing is left in a queue once the load has its answers.
      open: () => countFiles(path.join(maildir, 'tmp')),
      deferred: () => 0,
      delivered: () => countFiles(path.join(maildir, 'new')),
      release: async () => undefined,
    },
  };
}
