// `sealpost tls-check` against the receivers of the outbound tests (each kind of certificate
// fault), an in-process DNS server and an MTA-STS policy server on 127.0.0.50:443: the words it
// finds for each fault, exit codes, the --json shape, HOST:PORT and address targets, --config.
// Loopback only (netless); runs the real CLI.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { AddressReport, TlsCheckReport } from '../../src/tlscheck/report.ts';
import { issueCert } from '../helpers/certs.ts';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { freePort } from '../helpers/ports.ts';
import { type RunResult, run } from '../helpers/proc.ts';
import { createTestPki, RECEIVER_KINDS, type Receiver, type ReceiverKind, startReceiver, type TestPki } from '../helpers/receivers.ts';
import { makeTempDir, removeTempDir } from '../helpers/tmp.ts';

const SEALPOST = path.resolve(import.meta.dirname, '../../scripts/sealpost');
const STS_IP = '127.0.0.50';

const mxName = (kind: ReceiverKind): string => (kind === 'wildcard' ? 'a.mx-wild.dest.test' : `mx.${kind}.dest.test`);
const ipOf = (kind: ReceiverKind): string => `127.0.0.${RECEIVER_KINDS.indexOf(kind) + 2}`;

let dns: DnsServer;
let pki: TestPki;
let port: number;
let dir: string;
let caFile: string;
const receivers: Receiver[] = [];
let stsServer: https.Server | undefined;

before(async () => {
  dns = await startDnsServer();
  pki = await createTestPki();
  port = await freePort('127.0.0.2');
  dir = await makeTempDir('sealpost-tls-check-');
  caFile = path.join(dir, 'ca.pem');
  await writeFile(caFile, pki.root.certPem);
  for (const kind of RECEIVER_KINDS) {
    receivers.push(await startReceiver(kind, { host: ipOf(kind), port, mxName: mxName(kind), pki }));
    dns.zone.set(`${kind}.dest.test`, { MX: [{ preference: 10, exchange: mxName(kind) }] });
    dns.zone.set(mxName(kind), { A: [ipOf(kind)] });
  }
  // sts.dest.test: two MX hosts, the policy (enforce) names only the valid one.
  dns.zone.set('sts.dest.test', {
    MX: [
      { preference: 20, exchange: mxName('self-signed') },
      { preference: 10, exchange: mxName('valid') },
    ],
  });
  dns.zone.set('_mta-sts.sts.dest.test', { TXT: ['v=STSv1; id=2026a'] });
  dns.zone.set('mta-sts.sts.dest.test', { A: [STS_IP] });
  const stsCert = await issueCert(pki.intermediate, { names: ['mta-sts.sts.dest.test'] });
  const server = https.createServer({ key: stsCert.keyPem, cert: stsCert.chainPem }, (req, res) => {
    const ok = req.url === '/.well-known/mta-sts.txt';
    res
      .writeHead(ok ? 200 : 404, { 'content-type': 'text/plain' })
      .end(ok ? `version: STSv1\r\nmode: enforce\r\nmx: ${mxName('valid')}\r\nmax_age: 86400\r\n` : 'not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(443, STS_IP, () => resolve());
  });
  stsServer = server;
  dns.zone.set('nullmx.dest.test', { MX: [{ preference: 0, exchange: '.' }] });
});

after(async () => {
  for (const r of receivers) await r.close();
  await new Promise<void>((resolve) => (stsServer ? stsServer.close(() => resolve()) : resolve()));
  await dns.close();
  await removeTempDir(dir);
});

function tlsCheck(args: readonly string[]): Promise<RunResult> {
  return run(SEALPOST, ['tls-check', ...args], { timeoutMs: 45_000 });
}

async function checkJson(target: string, extra: readonly string[] = []): Promise<{ result: RunResult; report: TlsCheckReport }> {
  const result = await tlsCheck([target, '--json', '--dns', dns.address, '--port', String(port), '--ca-file', caFile, '--timeout', '5', ...extra]);
  assert.equal(result.stderr, '', `no stderr for ${target}`);
  return { result, report: JSON.parse(result.stdout) as TlsCheckReport };
}

function onlyAddress(report: TlsCheckReport): AddressReport {
  assert.equal(report.mx.length, 1, JSON.stringify(report.mx.map((m) => m.name)));
  const a = report.mx[0]?.addresses[0];
  assert.ok(a, 'one address');
  return a;
}

/** The finding each fault must produce, word for word where the issue gives the words. */
const EXPECT: Record<ReceiverKind, { exit: number; kind?: string; text?: RegExp; transport: string | null }> = {
  valid: { exit: 0, transport: 'tls-verified' },
  'wrong-host': {
    exit: 1,
    kind: 'name-mismatch',
    text: /^the certificate is for other\.wrong-host\.dest\.test, wrong-host\.dest\.test and does not cover mx\.wrong-host\.dest\.test; it must name mx\.wrong-host\.dest\.test$/,
    transport: 'tls-unverified',
  },
  wildcard: {
    exit: 1,
    kind: 'name-mismatch',
    text: /^\*\.dest\.test covers one label only and does not cover a\.mx-wild\.dest\.test; the certificate must name a\.mx-wild\.dest\.test itself \(or \*\.mx-wild\.dest\.test\)$/,
    transport: 'tls-unverified',
  },
  'self-signed': {
    exit: 1,
    kind: 'self-signed',
    text: /^the certificate is self-signed \(issued by itself, CN=mx\.self-signed\.dest\.test\): no sender can verify it; install one from a public CA/,
    transport: 'tls-unverified',
  },
  expired: {
    exit: 1,
    kind: 'expired',
    text: /^the certificate expired on \d{4}-\d\d-\d\d \(1 day ago\): renew it and install the new one$/,
    transport: 'tls-unverified',
  },
  'missing-intermediate': {
    exit: 1,
    kind: 'missing-intermediate',
    text: /^the server sent only its own certificate; install the full chain: the certificate followed by the intermediate certificate of its issuer, CN=Sealpost Test Intermediate/,
    transport: 'tls-unverified',
  },
  'no-starttls': { exit: 1, kind: 'no-starttls', text: /^the server does not offer STARTTLS: mail to it travels in plaintext/, transport: 'plaintext' },
  'broken-tls': {
    exit: 1,
    kind: 'handshake-failed',
    text: /^the TLS handshake failed \(.+\): check the server's certificate, key and TLS settings/,
    transport: 'plaintext',
  },
};

for (const kind of RECEIVER_KINDS) {
  test(`tls-check ${kind}.dest.test: exit ${EXPECT[kind].exit}${EXPECT[kind].kind ? `, ${EXPECT[kind].kind}` : ''}`, { timeout: 60_000 }, async () => {
    const want = EXPECT[kind];
    const { result, report } = await checkJson(`${kind}.dest.test`);
    assert.equal(result.code, want.exit, result.stdout);
    assert.equal(report.verified, want.exit === 0);
    assert.equal(report.kind, 'domain');
    assert.equal(report.mx[0]?.name, mxName(kind));
    const a = onlyAddress(report);
    assert.equal(a.ip, ipOf(kind));
    assert.equal(a.port, port);
    assert.equal(a.reachable, true);
    assert.match(a.banner ?? '', new RegExp(`^220 ${mxName(kind).replace(/\./g, '\\.')} `));
    assert.equal(a.verified, want.exit === 0);
    assert.equal(a.delivery.transport, want.transport, a.delivery.text);
    const errors = a.findings.filter((f) => f.severity === 'error');
    if (want.kind === undefined) assert.deepEqual(errors, []);
    else {
      const found = errors.find((f) => f.kind === want.kind);
      assert.ok(found, `${kind}: a ${want.kind} finding in ${JSON.stringify(a.findings)}`);
      assert.match(found.text, want.text as RegExp);
    }
    // The text report carries the same words.
    const text = await tlsCheck([`${kind}.dest.test`, '--dns', dns.address, '--port', String(port), '--ca-file', caFile, '--timeout', '5']);
    assert.equal(text.code, want.exit);
    // (The broken peer's handshake error varies from run to run: reset, or garbage read as a record.)
    for (const f of a.findings) {
      const words = f.kind === 'handshake-failed' ? 'problem      the TLS handshake failed (' : f.text;
      assert.ok(text.stdout.includes(words), `text report has: ${words}\n${text.stdout}`);
    }
    assert.match(
      text.stdout,
      want.exit === 0 ? /^result: every MX host of valid\.dest\.test verifies \(exit 0\)$/m : /^result: 1 of 1 host does not verify: .+ \(exit 1\)$/m,
    );
  });
}

test('the --json report of a good host: banner, EHLO, TLS with and without SNI, the chain as sent', { timeout: 60_000 }, async () => {
  const { report } = await checkJson('valid.dest.test');
  assert.deepEqual(Object.keys(report).sort(), ['checkedAt', 'dns', 'kind', 'mtaSts', 'mx', 'policy', 'port', 'target', 'verified']);
  assert.equal(report.dns, dns.address);
  assert.equal(report.mtaSts, null);
  assert.deepEqual(report.policy, { level: 'may', source: 'default', text: 'TLS level "may" from outbound.tls_default' });
  const mx = report.mx[0];
  assert.deepEqual(
    { name: mx?.name, preference: mx?.preference, implicit: mx?.implicit, mtaStsAllowed: mx?.mtaStsAllowed, verified: mx?.verified },
    { name: 'mx.valid.dest.test', preference: 10, implicit: false, mtaStsAllowed: null, verified: true },
  );
  const a = onlyAddress(report);
  assert.ok(a.ehlo?.includes('STARTTLS'), JSON.stringify(a.ehlo));
  assert.equal(a.starttls, true);
  assert.ok(!a.ehloAfterTls?.includes('STARTTLS'), 'no STARTTLS offered inside TLS');
  for (const view of [a.withSni, a.withoutSni]) {
    assert.match(view?.version ?? '', /^TLSv1\.[23]$/);
    assert.ok((view?.cipher ?? '') !== '');
    assert.equal(view?.verified, true);
    assert.deepEqual(view?.leaf.dnsNames, ['mx.valid.dest.test']);
  }
  // As sent: leaf then intermediate; the root comes from the trusted store (--ca-file).
  assert.deepEqual(
    a.chain.map((c) => c.subject),
    ['CN=mx.valid.dest.test', 'CN=Sealpost Test Intermediate'],
  );
  assert.equal(a.chain[0]?.issuer, 'CN=Sealpost Test Intermediate');
  assert.match(a.chain[0]?.notAfter ?? '', /^\d{4}-\d\d-\d\dT/);
  assert.equal(a.trustAnchor?.subject, 'CN=Sealpost Test Root');
  assert.deepEqual(a.findings, []);
  assert.deepEqual(a.delivery, { action: 'deliver', transport: 'tls-verified', text: 'would deliver over TLS with a verified certificate' });
});

test('MTA-STS enforce: the policy, which MX it allows, and the MX it does not', { timeout: 60_000 }, async () => {
  const { result, report } = await checkJson('sts.dest.test');
  assert.equal(result.code, 1);
  assert.deepEqual(report.mtaSts, { id: '2026a', policy: { mode: 'enforce', mx: ['mx.valid.dest.test'], maxAge: 86400 } });
  assert.equal(report.policy.level, 'verify');
  assert.equal(report.policy.source, 'mta-sts');
  assert.deepEqual(
    report.mx.map((m) => [m.preference, m.name, m.mtaStsAllowed, m.verified]),
    [
      [10, 'mx.valid.dest.test', true, true],
      [20, 'mx.self-signed.dest.test', false, false],
    ],
  );
  const good = report.mx[0]?.addresses[0];
  assert.equal(good?.delivery.transport, 'tls-verified');
  const outside = report.mx[1]?.addresses[0];
  assert.equal(outside?.delivery.action, 'skip');
  assert.match(
    outside?.findings.find((f) => f.kind === 'not-in-mta-sts')?.text ?? '',
    /^this host is not among the MX hosts of the domain's MTA-STS policy \(mx: mx\.valid\.dest\.test\)/,
  );
});

test('HOST:PORT and address targets check that one host, without MX lookup', { timeout: 60_000 }, async () => {
  const byName = await tlsCheck([`mx.valid.dest.test:${port}`, '--json', '--dns', dns.address, '--ca-file', caFile]);
  assert.equal(byName.code, 0, byName.stdout + byName.stderr);
  const named = JSON.parse(byName.stdout) as TlsCheckReport;
  assert.equal(named.kind, 'host');
  assert.equal(named.port, port);
  assert.ok(!dns.queries.includes('mx.valid.dest.test MX'), 'no MX lookup for a host');
  assert.equal(named.mx[0]?.addresses[0]?.withSni?.verified, true);
  // An address: no SNI and no name to match; the chain alone decides.
  const byIp = await tlsCheck([`${ipOf('wrong-host')}:${port}`, '--json', '--ca-file', caFile]);
  const ip = JSON.parse(byIp.stdout) as TlsCheckReport;
  assert.equal(byIp.code, 0, byIp.stdout);
  assert.equal(ip.mx[0]?.addresses[0]?.withSni, undefined);
  assert.equal(ip.mx[0]?.addresses[0]?.withoutSni?.verified, true);
  const selfSigned = await tlsCheck([`${ipOf('self-signed')}:${port}`, '--json', '--ca-file', caFile]);
  assert.equal(selfSigned.code, 1);
});

test('--config: its DNS servers and its TLS policy table decide what Sealpost would do', { timeout: 60_000 }, async () => {
  const config = path.join(dir, 'sealpost.toml');
  await writeFile(
    config,
    [
      'hostname = "mx.sender.test"',
      'data_dir = "data"',
      '[dns]',
      `servers = ["${dns.address}"]`,
      '[[domain]]',
      'name = "sender.test"',
      'mailboxes = ["alice"]',
      '[outbound]',
      `port = ${port}`,
      'ca_file = "ca.pem"',
      '[outbound.tls_policy]',
      '"wrong-host.dest.test" = "verify"',
      '',
    ].join('\n'),
  );
  const result = await tlsCheck(['wrong-host.dest.test', '--json', '--config', config]);
  const report = JSON.parse(result.stdout) as TlsCheckReport;
  assert.equal(result.code, 1);
  assert.equal(report.dns, dns.address);
  assert.deepEqual([report.policy.level, report.policy.source], ['verify', 'table']);
  const a = onlyAddress(report);
  assert.equal(a.delivery.action, 'defer');
  assert.match(a.delivery.text, /^would defer the mail: certificate verification failed: certificate is valid for other\.wrong-host\.dest\.test/);
});

test('no MX host to check: NXDOMAIN and null MX exit 1; usage errors exit 2', { timeout: 30_000 }, async () => {
  const missing = await checkJson('nowhere.dest.test');
  assert.equal(missing.result.code, 1);
  assert.match(missing.report.dnsError ?? '', /no such domain \(NXDOMAIN\)/);
  assert.deepEqual(missing.report.mx, []);
  const nullMx = await checkJson('nullmx.dest.test');
  assert.equal(nullMx.result.code, 1);
  assert.match(nullMx.report.dnsError ?? '', /does not accept mail \(null MX, RFC 7505\)/);
  const noTarget = await tlsCheck([]);
  assert.equal(noTarget.code, 2);
  assert.match(noTarget.stderr, /which domain or host\?/);
  const badDns = await tlsCheck(['example.test', '--dns', 'not-an-ip']);
  assert.equal(badDns.code, 2);
  assert.match(badDns.stderr, /--dns not-an-ip/);
  const help = await tlsCheck(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: sealpost tls-check DOMAIN \| HOST\[:PORT\]/);
});
