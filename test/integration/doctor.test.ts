// `sealpost init` then `sealpost doctor` against an in-process DNS server on loopback: the round
// trip (init in an empty directory, its records published into the zone, doctor all green), one
// broken zone per check with the finding and the fix it names and the exit code, and the port-25
// probe against a loopback listener that accepts and one that never answers. Loopback only (netless).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { run as doctorCli } from '../../src/cli/doctor.ts';
import { loadConfig } from '../../src/config/load.ts';
import { dkimRecord, generateDkimKey } from '../../src/dkim/keys.ts';
import { createNodeResolver } from '../../src/dns/node-resolver.ts';
import { checkPort25 } from '../../src/doctor/checks/port25.ts';
import type { Finding } from '../../src/doctor/findings.ts';
import { gatherFacts } from '../../src/doctor/gather.ts';
import type { DnsRecord } from '../../src/records/records.ts';
import { type DnsServer, startDnsServer, type Zone, type ZoneEntry } from '../helpers/dns-server.ts';
import { run } from '../helpers/proc.ts';
import { makeTempDir, removeTempDir } from '../helpers/tmp.ts';
import { addRecords } from '../helpers/zone-records.ts';

const SEALPOST = path.resolve(import.meta.dirname, '../../scripts/sealpost');
const V4 = '203.0.113.7';
const V6 = '2001:db8::7';

let dns: DnsServer;
let dir: string;
let configFile: string;
let published: DnsRecord[];
let good: Zone;
let acceptor: net.Server;
let acceptorPort: number;

before(async () => {
  dns = await startDnsServer();
  dir = await makeTempDir('sealpost-doctor-');
  configFile = path.join(dir, 'etc', 'sealpost.toml');
  acceptor = net.createServer((s) => s.end());
  await new Promise<void>((resolve) => acceptor.listen(0, '127.0.0.1', resolve));
  acceptorPort = (acceptor.address() as net.AddressInfo).port;
});

after(async () => {
  await dns.close();
  await new Promise<void>((resolve) => acceptor.close(() => resolve()));
  await removeTempDir(dir);
});

function cloneZone(zone: Zone): Zone {
  return new Map([...zone].map(([k, v]) => [k, structuredClone(v)]));
}

function useZone(zone: Zone): void {
  dns.zone.clear();
  for (const [k, v] of zone) dns.zone.set(k, v);
}

async function doctor(args: string[]): Promise<{ code: number; findings: Finding[] }> {
  let text = '';
  const out = { write: (s: string) => ((text += s), true) };
  const code = await doctorCli(['--config', configFile, '--dns', dns.address, '--json', ...args], out, out);
  return { code, findings: (JSON.parse(text) as { findings: Finding[] }).findings };
}

test('round trip: init in an empty directory, publish its records, doctor finds no error', { timeout: 90_000 }, async () => {
  const init = await run(SEALPOST, ['init', '--domain', 'example.org', '--hostname', 'mx.example.org', '--ip', V4, '--ip', V6, '--config', configFile], {
    timeoutMs: 60_000,
  });
  assert.equal(init.code, 0, init.stderr);
  assert.match(init.stdout, /public addresses: 203\.0\.113\.7, 2001:db8::7 \(from --ip\)/);
  assert.match(init.stdout, /^example\.org\.\t3600\tIN\tMX\t10 mx\.example\.org\.$/m);
  assert.match(init.stdout, /^7\.113\.0\.203\.in-addr\.arpa\.\t3600\tIN\tPTR\tmx\.example\.org\.$/m);

  const again = await run(SEALPOST, ['init', '--domain', 'example.org', '--hostname', 'mx.example.org', '--config', configFile], { timeoutMs: 30_000 });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /exist; nothing was written/);

  const records = await run(SEALPOST, ['init', '--records', '--json', '--config', configFile], { timeoutMs: 30_000 });
  assert.equal(records.code, 0, records.stderr);
  published = (JSON.parse(records.stdout) as { records: DnsRecord[] }).records;
  assert.deepEqual([...new Set(published.map((r) => r.type))].sort(), ['A', 'AAAA', 'CAA', 'MX', 'PTR', 'TXT']);
  good = addRecords(new Map(), published);
  useZone(good);

  const result = await run(SEALPOST, ['doctor', '--config', configFile, '--dns', dns.address, '--probe-mx', `127.0.0.1:${acceptorPort}`], {
    timeoutMs: 60_000,
  });
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /^0 errors, \d+ warnings?, \d+ ok$/m);
  assert.match(result.stdout, /^ {2}ok +203\.0\.113\.7: PTR mx\.example\.org, which resolves back to 203\.0\.113\.7$/m);
  assert.match(result.stdout, /^ {2}ok +example\.org: "v=spf1 mx ip4:203\.0\.113\.7 ip6:2001:db8::7 -all" passes for 203\.0\.113\.7, 2001:db8::7/m);
  assert.match(result.stdout, /^ {2}ok +127\.0\.0\.1:\d+: connected to 127\.0\.0\.1:\d+ in \d+ ms$/m);
  const json = await doctor(['--probe-mx', `127.0.0.1:${acceptorPort}`]);
  const ids = new Set(json.findings.filter((f) => f.level === 'ok').map((f) => f.id));
  for (const id of ['host.addresses', 'ptr.confirmed', 'mx.ours', 'spf.pass', 'dkim.match', 'dmarc.ok', 'dnsbl.clean', 'port25.open'])
    assert.ok(ids.has(id), `${id} ok`);
  // Not running yet: the certificate is a warning with the command to start, never an error.
  assert.ok(json.findings.some((f) => f.id === 'cert.not-running' && f.level === 'warning'));
  assert.equal(json.findings.filter((f) => f.level === 'error').length, 0, JSON.stringify(json.findings.filter((f) => f.level === 'error')));
});

type Variant = { name: string; mutate: (z: Zone) => void; id: string; level: 'error' | 'warning'; fix: RegExp; exit: 0 | 1 };

const set = (z: Zone, name: string, entry: ZoneEntry): void => void z.set(name, entry);
const edit = (z: Zone, name: string, change: (e: ZoneEntry) => void): void => change(z.get(name) ?? (z.set(name, {}).get(name) as ZoneEntry));
const V4_PTR = '7.113.0.203.in-addr.arpa';
const V6_PTR = `${'7'}.${'0.'.repeat(23)}8.b.d.0.1.0.0.2.ip6.arpa`;

const VARIANTS: Variant[] = [
  {
    name: 'missing PTR (IPv4)',
    mutate: (z) => z.delete(V4_PTR),
    id: 'ptr.missing',
    level: 'error',
    fix: /set the PTR of 203\.0\.113\.7 \(7\.113\.0\.203\.in-addr\.arpa\) to mx\.example\.org at your hosting provider/,
    exit: 1,
  },
  {
    name: 'missing PTR (IPv6)',
    mutate: (z) => z.delete(V6_PTR),
    id: 'ptr.missing',
    level: 'error',
    fix: /or send over IPv4 only \(outbound\.address_family = "ipv4"\) until it is set, or from an IPv6 address that has one \(outbound\.source_ipv6\)/,
    exit: 1,
  },
  {
    name: 'PTR that does not resolve back',
    mutate: (z) => {
      set(z, V4_PTR, { PTR: ['host.other.example'] });
      set(z, 'host.other.example', { A: ['198.51.100.9'] });
    },
    id: 'ptr.not-confirmed',
    level: 'error',
    fix: /publish host\.other\.example\. IN A 203\.0\.113\.7, or set the PTR/,
    exit: 1,
  },
  {
    name: 'SPF without our IP',
    mutate: (z) =>
      edit(z, 'example.org', (e) => {
        e.TXT = ['v=spf1 ip4:198.51.100.1 -all'];
      }),
    id: 'spf.not-authorized',
    level: 'error',
    fix: /add ip4:203\.0\.113\.7 \(or mx\)/,
    exit: 1,
  },
  {
    name: 'two SPF records',
    mutate: (z) => edit(z, 'example.org', (e) => void e.TXT?.push('v=spf1 -all')),
    id: 'spf.multiple',
    level: 'error',
    fix: /merge them into one: example\.org\. IN TXT "v=spf1 mx ip4:203\.0\.113\.7 ip6:2001:db8::7 -all"/,
    exit: 1,
  },
  {
    name: 'SPF over 10 lookups',
    mutate: (z) => {
      edit(
        z,
        'example.org',
        (e) =>
          void (e.TXT = [
            `v=spf1 mx include:spf1.example.org ${Array.from({ length: 9 }, (_, i) => `a:h${i}.example.org`).join(' ')} ip4:${V4} ip6:${V6} -all`,
          ]),
      );
      set(z, 'spf1.example.org', { TXT: ['v=spf1 a mx -all'] });
    },
    id: 'spf.too-many-lookups',
    level: 'error',
    fix: /flatten the includes into ip4:\/ip6: terms/,
    exit: 1,
  },
  {
    name: 'DKIM key mismatch',
    mutate: (z) => set(z, [...z.keys()].find((k) => k.startsWith('ed'))!, { TXT: [dkimRecord(generateDkimKey('ed25519'))] }),
    id: 'dkim.mismatch',
    level: 'error',
    fix: /replace the record with ed\d+\._domainkey\.example\.org\. IN TXT "v=DKIM1; k=ed25519; p=/,
    exit: 1,
  },
  {
    name: 'DMARC missing',
    mutate: (z) => z.delete('_dmarc.example.org'),
    id: 'dmarc.missing',
    level: 'error',
    fix: /publish _dmarc\.example\.org\. IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@example\.org"/,
    exit: 1,
  },
  {
    name: 'MX pointing elsewhere',
    mutate: (z) =>
      edit(z, 'example.org', (e) => {
        e.MX = [{ preference: 10, exchange: 'mx.other.example' }];
      }),
    id: 'mx.elsewhere',
    level: 'error',
    fix: /publish example\.org\. IN MX 10 mx\.example\.org\./,
    exit: 1,
  },
  {
    name: 'CNAME at the MX host',
    mutate: (z) => {
      set(z, 'mx.example.org', { CNAME: 'box.hosting.example' });
      set(z, 'box.hosting.example', { A: [V4], AAAA: [V6] });
    },
    id: 'mx.cname',
    level: 'error',
    fix: /replace the CNAME of mx\.example\.org with A\/AAAA records/,
    exit: 1,
  },
  {
    name: 'null MX',
    mutate: (z) =>
      edit(z, 'example.org', (e) => {
        e.MX = [{ preference: 0, exchange: '.' }];
      }),
    id: 'mx.null',
    level: 'error',
    fix: /replace it with example\.org\. IN MX 10 mx\.example\.org\./,
    exit: 1,
  },
  {
    name: 'listed in a DNSBL (127.0.0.2)',
    mutate: (z) => set(z, `7.113.0.203.zen.spamhaus.org`, { A: ['127.0.0.2'] }),
    id: 'dnsbl.listed',
    level: 'error',
    fix: /delisting form/,
    exit: 1,
  },
  {
    name: 'Spamhaus refuses a public resolver (127.255.255.254)',
    mutate: (z) => set(z, `7.113.0.203.zen.spamhaus.org`, { A: ['127.255.255.254'] }),
    id: 'dnsbl.unknown',
    level: 'warning',
    fix: /use a local resolver/,
    exit: 0,
  },
];

test('each broken zone: the finding, its fix and the exit code', { timeout: 120_000 }, async (t) => {
  assert.ok(good, 'the round trip ran first');
  for (const v of VARIANTS) {
    await t.test(v.name, { timeout: 30_000 }, async () => {
      const zone = cloneZone(good);
      v.mutate(zone);
      useZone(zone);
      const { code, findings } = await doctor(['--no-port25']);
      const hit = findings.find((f) => f.id === v.id);
      assert.ok(hit, `${v.id} in ${JSON.stringify(findings.filter((f) => f.level !== 'ok'))}`);
      assert.equal(hit.level, v.level);
      assert.match(hit.fix, v.fix);
      assert.ok(hit.why.length > 0);
      assert.equal(code, v.exit);
    });
  }
  useZone(good);
});

test('the port-25 probe: a listener that accepts is open, one that never answers is blocked', { timeout: 60_000 }, async (t) => {
  const loaded = await loadConfig(configFile);
  assert.ok(loaded.ok);
  const probe = async (target: string) =>
    checkPort25(
      await gatherFacts(loaded.config, {
        resolver: createNodeResolver({ servers: [dns.address], timeoutMs: 2000 }),
        addresses: [V4],
        addressSource: 'flag',
        domains: [],
        now: Date.now,
        trust: tls.createSecureContext(),
        probeTimeoutMs: 2000,
        port25: { target, timeoutMs: 1500 },
      }),
    );
  const open = await probe(`127.0.0.1:${acceptorPort}`);
  assert.equal(open[0]?.id, 'port25.open');

  // A socket that listens with a backlog of 0 and never accepts: once its queue is full the kernel
  // drops further SYNs, as a provider's filter does (a silent timeout, not a refusal).
  const perl = spawn(
    'perl',
    [
      '-MSocket',
      '-e',
      'socket(S, PF_INET, SOCK_STREAM, 0) or die; bind(S, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die; listen(S, 0) or die; my ($p) = unpack_sockaddr_in(getsockname(S)); $| = 1; print "$p\\n"; sleep 120;',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => perl.kill());
  const port = await new Promise<number>((resolve, reject) => {
    perl.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    perl.once('exit', () => reject(new Error('perl listener exited')));
  });
  const fillers: net.Socket[] = [];
  t.after(() => {
    for (const s of fillers) s.destroy();
  });
  // Fill the accept queue: connect until a connection no longer completes.
  for (let i = 0; i < 8; i++) {
    const s = net.connect({ host: '127.0.0.1', port });
    fillers.push(s);
    s.on('error', () => undefined);
    const done = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 500);
      s.once('connect', () => (clearTimeout(timer), resolve(true)));
    });
    if (!done) break;
  }
  const blocked = await probe(`127.0.0.1:${port}`);
  assert.equal(blocked[0]?.id, 'port25.blocked', JSON.stringify(blocked));
  assert.equal(blocked[0]?.level, 'error');
  assert.match(blocked[0]?.fix ?? '', /unblock outbound port 25/);
});

test('usage errors exit 2: an unknown option, a domain not in the config, a bad --dns', { timeout: 30_000 }, async () => {
  const sink = { write: () => true };
  assert.equal(await doctorCli(['--config', configFile, '--bogus'], sink, sink), 2);
  assert.equal(await doctorCli(['--config', configFile, '--domain', 'other.example'], sink, sink), 2);
  assert.equal(await doctorCli(['--config', configFile, '--dns', 'not-an-ip'], sink, sink), 2);
});
