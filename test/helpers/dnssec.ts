// Real DNSSEC for tests, on loopback: writes zones, signs them with ldns-signzone (keys from
// ldns-keygen, ECDSA P-256), serves them with nsd as the authoritative server and runs unbound as
// the validating resolver with our root key as its trust anchor. The tree: "." (signed) delegates
// "test." (signed, DS in the root), which holds the caller's extra records and delegates each
// caller zone: "signed" (DS in test.), "unsigned" (no DS: an insecure delegation, RFC 4035 §5.2),
// "expired" (DS in test., RRSIGs that expired in 2020: bogus, so unbound answers SERVFAIL).
// Side effects: a temp dir, key generation, two daemons (nsd, unbound) stopped by close().
import { type ChildProcess, spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { query } from '../../src/dns/wire-client.ts';
import { freePort } from './ports.ts';
import { runOk } from './proc.ts';
import { makeTempDir, removeTempDir } from './tmp.ts';
import { waitFor } from './wait.ts';

export interface TestZone {
  /** Under "test.", e.g. "secure.test". */
  name: string;
  signing: 'signed' | 'unsigned' | 'expired';
  /** Zone-file lines; relative names are under the zone ($ORIGIN), e.g. `mx A 127.0.0.1`. */
  records: string[];
  /** The zone that delegates this one (default "test"), e.g. "_tcp.mx.x.test" under "x.test"; list it after its parent. */
  parent?: string;
}

export interface DnssecPeers {
  /** The validating resolver (unbound), "127.0.0.1:PORT", for [dns] servers. */
  resolver: string;
  /** The authoritative server (nsd), "127.0.0.1:PORT": answers without AD, as a plain DNS server would. */
  authority: string;
  dir: string;
  close(): Promise<void>;
}

export interface DnssecOptions {
  zones: TestZone[];
  /** Extra zone-file lines in the signed "test." zone. */
  testRecords?: string[];
  /** unbound's port on 127.0.0.1 (default: a free one); 53 for peers that use /etc/resolv.conf (Postfix). */
  resolverPort?: number;
}

const HEADER = (origin: string) => [`$ORIGIN ${origin}`, '$TTL 300', `@ SOA ns.test. hostmaster.test. 1 3600 600 86400 300`, '@ NS ns.test.'];

export async function startDnssec(options: DnssecOptions): Promise<DnssecPeers> {
  const dir = await makeTempDir('sealpost-dnssec-');
  const children: ChildProcess[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(children.map(stop));
    await removeTempDir(dir);
  };
  try {
    const keygen = async (zone: string): Promise<{ base: string; ds: string }> => {
      const base = (await runOk('ldns-keygen', ['-a', 'ECDSAP256SHA256', '-k', zone], { cwd: dir })).stdout.trim();
      return { base, ds: (await readFile(path.join(dir, `${base}.ds`), 'utf8')).trim() };
    };
    const sign = async (file: string, origin: string, base: string, expired: boolean): Promise<void> => {
      const dates = expired ? ['-i', '20200101000000', '-e', '20200201000000'] : [];
      await runOk('ldns-signzone', [...dates, '-o', origin, '-f', `${file}.signed`, file, base], { cwd: dir });
    };
    const rootKey = await keygen('.');
    const testKey = await keygen('test.');
    const served: { name: string; file: string }[] = [];
    const children_: string[] = [];
    // Delegations into each caller zone from the zones below it: children are signed first.
    const delegations = new Map<string, string[]>();
    for (const zone of [...options.zones].reverse()) {
      const origin = `${zone.name}.`;
      const file = `${zone.name}.zone`;
      await writeFile(path.join(dir, file), [...HEADER(origin), ...zone.records, ...(delegations.get(zone.name) ?? []), ''].join('\n'));
      const delegation = [`${origin} NS ns.test.`];
      if (zone.signing === 'unsigned') served.push({ name: origin, file });
      else {
        const key = await keygen(origin);
        await sign(file, origin, key.base, zone.signing === 'expired');
        served.push({ name: origin, file: `${file}.signed` });
        delegation.push(key.ds);
      }
      if (zone.parent && zone.parent !== 'test') delegations.set(zone.parent, [...(delegations.get(zone.parent) ?? []), ...delegation]);
      else children_.push(...delegation);
    }
    await writeFile(path.join(dir, 'test.zone'), [...HEADER('test.'), 'ns A 127.0.0.1', ...(options.testRecords ?? []), ...children_, ''].join('\n'));
    await sign('test.zone', 'test.', testKey.base, false);
    await writeFile(path.join(dir, 'root.zone'), [...HEADER('.'), 'test. NS ns.test.', 'ns.test. A 127.0.0.1', testKey.ds, ''].join('\n'));
    await sign('root.zone', '.', rootKey.base, false);
    served.push({ name: 'test.', file: 'test.zone.signed' }, { name: '.', file: 'root.zone.signed' });
    await writeFile(path.join(dir, 'root.ds'), `${rootKey.ds}\n`);

    const nsdPort = await freePort();
    await writeFile(
      path.join(dir, 'nsd.conf'),
      [
        'server:',
        '  ip-address: 127.0.0.1',
        `  port: ${nsdPort}`,
        '  do-ip6: no',
        '  username: ""',
        '  chroot: ""',
        `  zonesdir: "${dir}"`,
        '  database: ""',
        `  pidfile: "${dir}/nsd.pid"`,
        `  logfile: "${dir}/nsd.log"`,
        `  xfrdfile: "${dir}/xfrd.state"`,
        `  zonelistfile: "${dir}/zone.list"`,
        `  xfrdir: "${dir}"`,
        '  server-count: 1',
        '  verbosity: 1',
        'remote-control:',
        '  control-enable: no',
        ...served.flatMap((z) => ['zone:', `  name: "${z.name}"`, `  zonefile: "${z.file}"`]),
        '',
      ].join('\n'),
    );
    children.push(daemon('nsd', ['-d', '-c', path.join(dir, 'nsd.conf')], dir));
    const authority = { host: '127.0.0.1', port: nsdPort };
    await waitFor(
      async () => {
        const o = await query([authority], 'test.', 'SOA', 500);
        return o.kind === 'response' && o.rcode === 'NOERROR';
      },
      { timeoutMs: 30_000, what: 'nsd answering' },
    );

    const unboundPort = options.resolverPort ?? (await freePort());
    await writeFile(
      path.join(dir, 'unbound.conf'),
      [
        'server:',
        '  interface: 127.0.0.1',
        `  port: ${unboundPort}`,
        '  do-ip6: no',
        '  do-daemonize: no',
        '  username: ""',
        '  chroot: ""',
        `  directory: "${dir}"`,
        `  pidfile: "${dir}/unbound.pid"`,
        '  use-syslog: no',
        `  logfile: "${dir}/unbound.log"`,
        '  verbosity: 1',
        '  val-log-level: 2',
        '  num-threads: 1',
        '  access-control: 127.0.0.0/8 allow',
        '  do-not-query-localhost: no',
        '  qname-minimisation: no',
        '  module-config: "validator iterator"',
        `  trust-anchor-file: "${dir}/root.ds"`,
        // unbound serves .test itself (RFC 6761 names) unless told not to.
        '  local-zone: "test." nodefault',
        ...options.zones.filter((z) => z.signing === 'unsigned').map((z) => `  domain-insecure: "${z.name}"`),
        'remote-control:',
        '  control-enable: no',
        'stub-zone:',
        '  name: "."',
        `  stub-addr: 127.0.0.1@${nsdPort}`,
        '',
      ].join('\n'),
    );
    children.push(daemon('unbound', ['-d', '-c', path.join(dir, 'unbound.conf')], dir));
    const resolver = { host: '127.0.0.1', port: unboundPort };
    await waitFor(
      async () => {
        const o = await query([resolver], '.', 'DNSKEY', 500);
        return o.kind === 'response' && o.rcode === 'NOERROR' && o.response.flag_ad;
      },
      { timeoutMs: 30_000, what: 'unbound validating the root DNSKEY' },
    );
    return { resolver: `127.0.0.1:${unboundPort}`, authority: `127.0.0.1:${nsdPort}`, dir, close };
  } catch (e) {
    const logs = await Promise.all(['nsd.log', 'unbound.log'].map((f) => readFile(path.join(dir, f), 'utf8').catch(() => '')));
    await close();
    throw new Error(`${(e as Error).message}\nnsd.log: ${logs[0]}\nunbound.log: ${logs[1]}\nfiles: ${(await readdir(dir).catch(() => [])).join(' ')}`);
  }
}

function daemon(command: string, args: string[], dir: string): ChildProcess {
  const child = spawn(command, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', () => {});
  return child;
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
