// DANE outbound (RFC 7672) against real DNSSEC and real receivers, on loopback: nsd serves signed
// zones, unbound validates them (test/helpers/dnssec.ts), two Postfix receivers hold the
// certificates the TLSA records name (one from the test CA, one from a CA only DANE-TA trusts).
// The table: zone (secure 3 1 1 match; secure 2 1 1 of a private CA; secure but the key rotated;
// secure MX but an unsigned host zone; expired RRSIGs (bogus); TLSA SERVFAIL; only usage-1
// records; no TLSA) × level (may / dane / dane-only / MTA-STS enforce with the default dane):
// delivered or deferred, never plaintext where RFC 7672 says TLS, and the hop record. Then a real
// Postfix sender with smtp_tls_security_level = dane through the same unbound (on 127.0.0.1:53,
// what /etc/resolv.conf names inside netless) against the same zones, next to ours. Each row's
// attempts also make the TLS report (RFC 8460 §4.3): policy type tlsa and its result type.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { TlsLevel } from '../../src/config/types.ts';
import type { Outcome } from '../../src/core/delivery.ts';
import { createDnssecResolver } from '../../src/dns/dnssec-resolver.ts';
import { createNodeResolver } from '../../src/dns/node-resolver.ts';
import { createLogger } from '../../src/log/log.ts';
import { AttemptsStore } from '../../src/outbound/attempts-store.ts';
import { RemoteCourier } from '../../src/outbound/courier.ts';
import { buildReport } from '../../src/tlsrpt/aggregate.ts';
import { createCa, issueCert } from '../helpers/certs.ts';
import { startSealpost } from '../helpers/daemon.ts';
import { type DnssecPeers, startDnssec } from '../helpers/dnssec.ts';
import { type PostfixReceiver, startPostfixReceiver, startPostfixSender } from '../helpers/postfix.ts';
import { run } from '../helpers/proc.ts';
import { createTestPki, type TestPki } from '../helpers/receivers.ts';
import { swaksSend } from '../helpers/swaks.ts';
import { makeTempDir, removeTempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';
import { captureLog, job, openTestDb, outboundConfig } from './outbound-setup.ts';

const SEALPOST = path.resolve(import.meta.dirname, '../../scripts/sealpost');
const MAIN = '127.0.0.171'; // the receiver with the test CA's certificate (every MX name but mx.ta.test)
const TA = '127.0.0.172'; // the receiver whose chain ends in a CA only the 2 1 1 record vouches for

const spkiSha256 = (pem: string) =>
  createHash('sha256')
    .update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');

type Zone = 'ee' | 'ta' | 'rotated' | 'unsigned-host' | 'bogus' | 'tlsa-servfail' | 'usage1' | 'no-tlsa';
type Column = 'may' | 'dane' | 'dane-only' | 'sts';
/** The MX host of each zone's domain "<zone>.test". */
const MX: Record<Zone, string> = {
  ee: 'mx.ee.test',
  ta: 'mx.ta.test',
  rotated: 'mx.rotated.test',
  'unsigned-host': 'mx.unsignedhost.test',
  bogus: 'mx.bogus.test',
  'tlsa-servfail': 'mx.tlsa-servfail.test',
  usage1: 'mx.usage1.test',
  'no-tlsa': 'mx.no-tlsa.test',
};
const ZONES = Object.keys(MX) as Zone[];
const COLUMNS: Column[] = ['may', 'dane', 'dane-only', 'sts'];

/** What each zone × level must give: "delivered <level>/<source> <dane matched>" or "deferred". */
const EXPECT: Record<Zone, Record<Column, string>> = {
  ee: { may: 'delivered may/default -', dane: 'delivered dane/dane 3 1 1', 'dane-only': 'delivered dane-only/dane 3 1 1', sts: 'delivered dane/dane 3 1 1' },
  ta: { may: 'delivered may/default -', dane: 'delivered dane/dane 2 1 1', 'dane-only': 'delivered dane-only/dane 2 1 1', sts: 'delivered dane/dane 2 1 1' },
  rotated: { may: 'delivered may/default -', dane: 'deferred', 'dane-only': 'deferred', sts: 'deferred' },
  'unsigned-host': { may: 'delivered may/default -', dane: 'delivered may/default -', 'dane-only': 'deferred', sts: 'delivered verify/mta-sts -' },
  bogus: { may: 'deferred', dane: 'deferred', 'dane-only': 'deferred', sts: 'deferred' },
  'tlsa-servfail': { may: 'delivered may/default -', dane: 'deferred', 'dane-only': 'deferred', sts: 'deferred' },
  usage1: { may: 'delivered may/default -', dane: 'delivered encrypt/dane -', 'dane-only': 'deferred', sts: 'delivered verify/mta-sts -' },
  'no-tlsa': { may: 'delivered may/default -', dane: 'delivered may/default -', 'dane-only': 'deferred', sts: 'delivered verify/mta-sts -' },
};

/**
 * The TLS report (RFC 8460 §4.3) each zone × level's attempts make: "<policy-type> success" or
 * "<policy-type> <result-type>"; "-" when there was no session to report (the MX lookup was bogus).
 */
const REPORT: Record<Zone, Record<Column, string>> = {
  ee: { may: 'no-policy-found success', dane: 'tlsa success', 'dane-only': 'tlsa success', sts: 'tlsa success' },
  ta: { may: 'no-policy-found success', dane: 'tlsa success', 'dane-only': 'tlsa success', sts: 'tlsa success' },
  rotated: { may: 'no-policy-found success', dane: 'tlsa tlsa-invalid', 'dane-only': 'tlsa tlsa-invalid', sts: 'tlsa tlsa-invalid' },
  'unsigned-host': { may: 'no-policy-found success', dane: 'no-policy-found success', 'dane-only': 'tlsa dane-required', sts: 'sts success' },
  bogus: { may: '-', dane: '-', 'dane-only': '-', sts: '-' },
  'tlsa-servfail': { may: 'no-policy-found success', dane: 'tlsa dnssec-invalid', 'dane-only': 'tlsa dnssec-invalid', sts: 'tlsa dnssec-invalid' },
  usage1: { may: 'no-policy-found success', dane: 'tlsa tlsa-invalid', 'dane-only': 'tlsa tlsa-invalid', sts: 'sts success' },
  'no-tlsa': { may: 'no-policy-found success', dane: 'no-policy-found success', 'dane-only': 'tlsa dane-required', sts: 'sts success' },
};

/** The TLSA record (zone-file form) published for the MX host of some zones: the hop record's dane.records. */
const published: Partial<Record<Zone, string>> = {};
let dnssec: DnssecPeers;
let pki: TestPki;
let main: PostfixReceiver;
let ta: PostfixReceiver;
const scopeHooks: (() => unknown)[] = [];
const fileScope = { after: (fn: () => unknown) => scopeHooks.push(fn) };

before(
  async () => {
    pki = await createTestPki();
    const dir = await makeTempDir('sealpost-dane-');
    scopeHooks.push(() => removeTempDir(dir));
    const mainCert = await issueCert(pki.intermediate, { names: ZONES.filter((z) => z !== 'ta').map((z) => MX[z]) });
    const taCa = await createCa('DANE-TA Private CA');
    const taCert = await issueCert(taCa, { names: ['mx.ta.test'] });
    const rotatedCert = await issueCert(pki.intermediate, { names: ['mx.rotated.test'] });
    await writeFile(path.join(dir, 'main.pem'), mainCert.chainPem);
    await writeFile(path.join(dir, 'main.key'), mainCert.keyPem, { mode: 0o600 });
    // RFC 7672 §3.2.2: the server sends the trust anchor of a DANE-TA record in its chain.
    await writeFile(path.join(dir, 'ta.pem'), taCert.certPem + taCa.certPem);
    await writeFile(path.join(dir, 'ta.key'), taCert.keyPem, { mode: 0o600 });
    const ee = spkiSha256(mainCert.certPem);
    published.ee = `3 1 1 ${ee}`;
    published.rotated = `3 1 1 ${spkiSha256(rotatedCert.certPem)}`;
    published.usage1 = `1 1 1 ${ee}`;
    const rec = (host: string, value: string) => `_25._tcp.${host} TLSA ${value}`;
    const zone = (name: string, host: string, ip: string, extra: string[] = []) => ({
      name,
      signing: 'signed' as const,
      records: [`@ MX 10 ${host}`, `${host} A ${ip}`, ...extra],
    });
    dnssec = await startDnssec({
      // Postfix finds its resolver through /etc/resolv.conf: 127.0.0.1 port 53 inside netless.
      resolverPort: 53,
      zones: [
        zone('ee.test', 'mx.ee.test.', MAIN, [rec('mx.ee.test.', `3 1 1 ${ee}`)]),
        zone('ta.test', 'mx.ta.test.', TA, [rec('mx.ta.test.', `2 1 1 ${spkiSha256(taCa.certPem)}`)]),
        // The operator rotated the key; the TLSA still names the old one.
        zone('rotated.test', 'mx.rotated.test.', MAIN, [rec('mx.rotated.test.', `3 1 1 ${spkiSha256(rotatedCert.certPem)}`)]),
        { name: 'unsigned-host.test', signing: 'signed', records: ['@ MX 10 mx.unsignedhost.test.'] },
        { name: 'unsignedhost.test', signing: 'unsigned', records: [`mx A ${MAIN}`, rec('mx', `3 1 1 ${ee}`)] },
        { name: 'bogus.test', signing: 'expired', records: ['@ MX 10 mx.bogus.test.', `mx A ${MAIN}`, rec('mx', `3 1 1 ${ee}`)] },
        zone('tlsa-servfail.test', 'mx.tlsa-servfail.test.', MAIN),
        // _tcp.mx.tlsa-servfail.test is a zone of its own whose signatures expired: TLSA is bogus.
        { name: '_tcp.mx.tlsa-servfail.test', signing: 'expired', parent: 'tlsa-servfail.test', records: [`_25 TLSA 3 1 1 ${ee}`] },
        zone('usage1.test', 'mx.usage1.test.', MAIN, [rec('mx.usage1.test.', `1 1 1 ${ee}`)]),
        zone('no-tlsa.test', 'mx.no-tlsa.test.', MAIN),
      ],
    });
    const receiver = async (name: string, host: string, cert: string, key: string) => {
      const r = await startPostfixReceiver(fileScope, {
        name,
        hostname: `${name}.receiver.test`,
        listen: { host, port: 25 },
        domains: ZONES.map((z) => `${z}.test`),
        tls: { level: 'may', certFile: path.join(dir, cert), keyFile: path.join(dir, key) },
        mainCf: { inet_interfaces: 'all' },
      });
      return r;
    };
    main = await receiver('danemain', MAIN, 'main.pem', 'main.key');
    ta = await receiver('daneta', TA, 'ta.pem', 'ta.key');
  },
  { timeout: 180_000 },
);

after(async () => {
  for (const hook of scopeHooks.reverse()) await hook();
  await dnssec?.close();
});

/** One line per delivery: what our courier did for a zone under a level. */
function summary(outcome: Outcome | undefined, hop: Record<string, unknown> | undefined): string {
  if (outcome?.kind !== 'delivered') return outcome?.kind === 'transient' ? 'deferred' : `${outcome?.kind}`;
  const dane = hop?.['dane'] as { matched: string | null } | null | undefined;
  return `delivered ${hop?.['policy']}/${hop?.['policySource']} ${dane?.matched ?? '-'}`;
}

const ours: Record<string, Record<string, string>> = {};

for (const column of COLUMNS) {
  test(`DANE table, level ${column}: delivered or deferred per zone, never plaintext where RFC 7672 says TLS, the hop on record`, {
    timeout: 120_000,
  }, async (t) => {
    const db = await openTestDb(t);
    const log = captureLog();
    const attempts = new AttemptsStore(db);
    const level: TlsLevel = column === 'sts' ? 'dane' : column;
    const courier = new RemoteCourier({
      hostname: 'sender.sealpost.test',
      outbound: () => outboundConfig(25, { tlsDefault: level }),
      resolver: createNodeResolver({ servers: [dnssec.resolver], timeoutMs: 3000 }),
      trust: pki.trust,
      log: createLogger('info', log.stream),
      attempts,
      idleMs: 100,
      dane: async () => ({ on: true, resolver: createDnssecResolver({ servers: [dnssec.resolver], timeoutMs: 3000, trustAd: false }) }),
      // The MTA-STS column: every domain has an enforce policy naming its MX host (fetching is tested in outbound-delivery).
      ...(column === 'sts'
        ? { sts: async (domain: string) => ({ id: 'x1', mode: 'enforce' as const, mx: [MX[domain.replace(/\.test$/, '') as Zone]], maxAge: 86400 }) }
        : {}),
    });
    t.after(() => courier.close());
    const before = new Map<string, number>();
    for (const z of ZONES) before.set(z, (await receivedFor(z)).length);
    const j = job(
      ZONES.map((z) => `rcpt@${z}.test`),
      `Subject: dane ${column}\n\nhello\n`,
    );
    const out = await courier.deliver(j);
    const row: Record<string, string> = {};
    for (const [i, z] of ZONES.entries()) {
      const hop = log.hops(j.queueId, `${z}.test`).at(-1) as unknown as Record<string, unknown> | undefined;
      row[z] = summary(out.get(i + 1), hop);
      const delivered = out.get(i + 1)?.kind === 'delivered';
      if (delivered) {
        const got = await waitFor(async () => ((await receivedFor(z)).length > (before.get(z) ?? 0) ? receivedFor(z) : undefined), {
          timeoutMs: 20_000,
          what: `the ${z} message at the receiver`,
        });
        const message = got.at(-1);
        assert.match(message?.header('received') ?? '', /using TLSv1\.[23]/, `${z}/${column}: delivered over TLS`);
      } else {
        assert.equal((await receivedFor(z)).length, before.get(z), `${z}/${column}: nothing sent`);
        assert.ok(hop?.['error'], `${z}/${column}: the hop says why`);
      }
      // The attempts row carries the same DANE facts as the log record.
      const rowDane = (await attempts.forMessage(j.queueId)).filter((r) => r.domain === `${z}.test`).at(-1)?.dane ?? null;
      assert.deepEqual(rowDane, hop?.['dane'] ?? null, `${z}/${column}: attempts row`);
    }
    ours[column] = row;
    assert.deepEqual(
      row,
      Object.fromEntries(ZONES.map((z) => [z, EXPECT[z][column]])),
      JSON.stringify(log.records.filter((r) => r['event'] === 'hop').map((r) => [r['domain'], r['policy'], r['dane'], r['error']])),
    );
    // The TLS report (tlsrpt/aggregate.ts) these attempts make, per destination domain.
    const dayAttempts = await attempts.forMessage(j.queueId);
    const reports = Object.fromEntries(
      ZONES.map((z) => {
        const report = buildReport({
          domain: `${z}.test`,
          start: 0,
          end: Date.now() + 60_000,
          organization: 'Sealpost',
          contact: 'postmaster@sender.sealpost.test',
          reportId: 'r',
          attempts: dayAttempts.filter((r) => r.domain === `${z}.test`),
        });
        return [z, report];
      }),
    );
    const verdicts = Object.fromEntries(
      ZONES.map((z) => [
        z,
        reports[z]?.policies.map((p) => `${p.policy['policy-type']} ${p['failure-details']?.[0]?.['result-type'] ?? 'success'}`).join(', ') ?? '-',
      ]),
    );
    assert.deepEqual(verdicts, Object.fromEntries(ZONES.map((z) => [z, REPORT[z][column]])), JSON.stringify(reports));
    // RFC 8460 §4.3: a tlsa policy quotes the MX host's TLSA records; DANE wins over MTA-STS (RFC 8461 §2).
    if (column !== 'may') {
      const ee = reports['ee']?.policies[0]?.policy;
      assert.deepEqual(ee?.['mx-host'], ['mx.ee.test']);
      assert.deepEqual(ee?.['policy-string'], [published.ee]);
      // The unusable record (usage 1) is quoted too: it is what the domain published.
      if (column !== 'sts') assert.deepEqual(reports['usage1']?.policies[0]?.policy['policy-string'], [published.usage1]);
    }
    // The explanations of the refusals, in words.
    if (column === 'dane') {
      const dane = (z: Zone) =>
        (log.hops(j.queueId, `${z}.test`).at(-1) as unknown as Record<string, unknown> | undefined)?.['dane'] as
          | { tlsa: number; usable: number; matched: string | null; error: string | null }
          | undefined;
      const error = (z: Zone) => String(log.hops(j.queueId, `${z}.test`).at(-1)?.error);
      assert.match(error('rotated'), /DANE authentication failed: the TLSA record 3 1 1 [0-9a-f]{64} matches no certificate the server sent/);
      assert.deepEqual({ ...dane('rotated'), error: null }, { tlsa: 1, usable: 1, matched: null, error: null, records: [published.rotated] });
      assert.match(error('tlsa-servfail'), /TLSA lookup for mx\.tlsa-servfail\.test failed .*never sent without DANE/);
      assert.match(dane('unsigned-host')?.error ?? '', /address records of mx\.unsignedhost\.test are not DNSSEC-secure/);
      assert.deepEqual({ ...dane('usage1'), error: null }, { tlsa: 1, usable: 0, matched: null, error: null, records: [published.usage1] });
      assert.match(dane('usage1')?.error ?? '', /usage 1 \(PKIX-EE\)/);
    }
  });
}

test('REQUIRETLS (RFC 8689) over DANE: a DANE-authenticated MX passes the policy check (then its REQUIRETLS offer decides); a host without DANE or MTA-STS is refused before connecting', {
  timeout: 60_000,
}, async (t) => {
  const db = await openTestDb(t);
  const log = captureLog();
  const courier = new RemoteCourier({
    hostname: 'sender.sealpost.test',
    outbound: () => outboundConfig(25, { tlsDefault: 'dane' }),
    resolver: createNodeResolver({ servers: [dnssec.resolver], timeoutMs: 3000 }),
    trust: pki.trust,
    log: createLogger('info', log.stream),
    attempts: new AttemptsStore(db),
    idleMs: 100,
    dane: async () => ({ on: true, resolver: createDnssecResolver({ servers: [dnssec.resolver], timeoutMs: 3000, trustAd: false }) }),
  });
  t.after(() => courier.close());
  const before = (await receivedFor('ee')).length;
  const j = job(['r@ee.test', 'r@no-tlsa.test'], 'Subject: requiretls\n\nx\n', { tlsRequired: 'requiretls' });
  const out = await courier.deliver(j);
  const ee = out.get(1);
  const none = out.get(2);
  // Postfix does not offer REQUIRETLS: refused after the DANE-verified handshake, with the RFC 8689 status.
  assert.ok(ee && ee.kind !== 'delivered', JSON.stringify(ee));
  assert.match(ee.reason, /does not offer it in its EHLO reply/, ee.reason);
  const eeHop = log.hops(j.queueId, 'ee.test').at(-1) as unknown as Record<string, unknown>;
  assert.equal(eeHop['policySource'], 'dane');
  assert.equal((eeHop['dane'] as { matched: string }).matched, '3 1 1');
  assert.ok(none && none.kind !== 'delivered', JSON.stringify(none));
  assert.match(none.reason, /publishes neither DANE TLSA records nor an MTA-STS policy/, none.reason);
  assert.equal((await receivedFor('ee')).length, before, 'nothing sent');
});

test("sealpost tls-check shows each MX host's TLSA records, whether DNSSEC-secure, and whether the served chain matches", { timeout: 120_000 }, async () => {
  type Report = import('../../src/tlscheck/report.ts').TlsCheckReport;
  const check = async (domain: string) => {
    const r = await run(SEALPOST, ['tls-check', domain, '--json', '--dns', dnssec.resolver, '--port', '25', '--timeout', '5'], { timeoutMs: 60_000 });
    return JSON.parse(r.stdout) as Report;
  };
  const ee = (await check('ee.test')).mx[0];
  assert.equal(ee?.dane?.name, '_25._tcp.mx.ee.test');
  assert.equal(ee?.dane?.secure, true);
  assert.deepEqual(
    ee?.dane?.records.map((r) => [r.record.slice(0, 6), r.usable]),
    [['3 1 1 ', true]],
  );
  assert.deepEqual(ee?.addresses[0]?.dane, { matched: '3 1 1' });
  assert.match(ee?.addresses[0]?.delivery.text ?? '', /authenticated by DANE \(TLSA 3 1 1\)/);
  const ta = (await check('ta.test')).mx[0];
  assert.deepEqual(ta?.addresses[0]?.dane, { matched: '2 1 1' });
  const rotated = (await check('rotated.test')).mx[0];
  assert.equal(rotated?.addresses[0]?.dane?.matched, null);
  const finding = rotated?.addresses[0]?.findings.find((f) => f.kind === 'dane-mismatch');
  assert.match(finding?.text ?? '', /publish the TLSA record of the key it serves \(3 1 1 [0-9a-f]{64}\)/);
  assert.match(rotated?.addresses[0]?.delivery.text ?? '', /would defer the mail: DANE authentication failed/);
  const unsigned = (await check('unsigned-host.test')).mx[0];
  assert.equal(unsigned?.dane?.secure, false);
  assert.match(unsigned?.dane?.text ?? '', /address records of mx\.unsignedhost\.test are not DNSSEC-secure/);
  const usage1 = (await check('usage1.test')).mx[0];
  assert.deepEqual(
    usage1?.dane?.records.map((r) => r.usable),
    [false],
  );
  const servfail = (await check('tlsa-servfail.test')).mx[0];
  assert.match(
    servfail?.addresses[0]?.delivery.text ?? '',
    /would defer the mail: the TLSA lookup for mx\.tlsa-servfail\.test failed .*never sent without DANE/,
  );
  // The text report says the same in lines.
  const text = await run(SEALPOST, ['tls-check', 'rotated.test', '--dns', dnssec.resolver, '--port', '25', '--timeout', '5'], { timeoutMs: 60_000 });
  assert.match(text.stdout, /^ {2}TLSA {9}_25\._tcp\.mx\.rotated\.test: 1 record\(s\), DNSSEC-secure$/m, text.stdout);
  assert.match(text.stdout, /^ {4}DANE {9}NO match: the TLSA record 3 1 1 [0-9a-f]{64} matches no certificate the server sent$/m, text.stdout);
});

test('the daemon as a new user runs it: default tls_default, unbound as [dns] servers: DANE-verified, a rotated key deferred with the reason in queue show, a bogus zone never gets plaintext', {
  timeout: 120_000,
}, async (t) => {
  const counts = new Map<Zone, number>();
  for (const z of ZONES) counts.set(z, (await receivedFor(z)).length);
  const daemon = await startSealpost(t, { config: { dns: { servers: [dnssec.resolver], timeout_ms: 3000 }, outbound: { port: 25 } } });
  const sent = await swaksSend({
    port: daemon.smtpPort,
    from: 'alice@example.test',
    to: ['one@ee.test', 'two@rotated.test', 'three@bogus.test', 'four@tlsa-servfail.test'],
    subject: 'daemon dane',
  });
  assert.equal(sent.code, 0, sent.stdout + sent.stderr);
  const delivered = await daemon.waitForLog({ event: 'hop', domain: 'ee.test', result: 'delivered' }, { timeoutMs: 30_000 });
  assert.equal(delivered['policy'], 'dane');
  assert.equal(delivered['policySource'], 'dane');
  assert.deepEqual(delivered['dane'], { tlsa: 1, usable: 1, matched: '3 1 1', error: null, records: [published.ee] });
  assert.equal((delivered['tls'] as { verified: boolean }).verified, true);
  const rotated = await daemon.waitForLog({ event: 'hop', domain: 'rotated.test', result: 'transient' }, { timeoutMs: 30_000 });
  await daemon.waitForLog({ event: 'hop', domain: 'bogus.test', result: 'transient' }, { timeoutMs: 30_000 });
  await daemon.waitForLog({ event: 'hop', domain: 'tlsa-servfail.test', result: 'transient' }, { timeoutMs: 30_000 });
  const show = await daemon.cli(['queue', 'show', String(rotated['queueId'])]);
  assert.match(
    show.stdout,
    /DANE: the MX host's TLSA record 3 1 1 [0-9a-f]{64} matches no certificate it sent; its operator rotated the key \(or certificate\) without updating DNS/,
    show.stdout,
  );
  assert.match(show.stdout, /DANE: authenticated by DANE: the certificate the MX host sent matches its TLSA record 3 1 1/);
  assert.match(show.stdout, /DANE: TLSA lookup failed: .*never sent in plaintext nor without DANE/);
  assert.equal((await receivedFor('ee')).length, (counts.get('ee') ?? 0) + 1);
  for (const z of ['rotated', 'bogus', 'tlsa-servfail'] as const) assert.equal((await receivedFor(z)).length, counts.get(z), `${z}: nothing sent`);
});

async function receivedFor(zone: Zone) {
  const all = [...(await main.messages()), ...(await ta.messages())];
  return all.filter((m) => m.maildir.startsWith(`${zone}.test/`));
}

test('a real Postfix sender with smtp_tls_security_level = dane against the same zones, next to ours', { timeout: 120_000 }, async (t) => {
  const sender = await startPostfixSender(t, {
    name: 'danesender',
    hostname: 'danesender.postfix.test',
    relayTo: { host: '127.0.0.1', port: 1 },
    tls: { level: 'may' },
    mainCf: {
      relayhost: '',
      smtp_dns_support_level: 'dnssec',
      smtp_host_lookup: 'dns',
      smtp_tls_security_level: 'dane',
      smtp_address_preference: 'ipv4',
    },
  });
  const before = new Map<string, number>();
  for (const z of ZONES) before.set(z, (await receivedFor(z)).length);
  await sender.inject(
    'alice@danesender.postfix.test',
    ZONES.map((z) => `pf@${z}.test`),
    'Subject: postfix dane\n\nhello\n',
  );
  // Each recipient delivered or deferred once (Postfix tries every recipient at once).
  const log = await waitFor(
    async () => {
      const text = await sender.log();
      const done = ZONES.every((z) => new RegExp(`to=<pf@${z}\\.test>.*status=(sent|deferred|bounced)`).test(text));
      return done ? text : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 300, what: 'Postfix to try every zone' },
  );
  const theirs: Record<string, string> = {};
  for (const z of ZONES) {
    const line = new RegExp(`to=<pf@${z}\\.test>.*status=(sent|deferred|bounced)[^\\n]*`).exec(log)?.[0] ?? '';
    const status = /status=(\w+)/.exec(line)?.[1] ?? '?';
    // Postfix names the TLS of each session: "Verified TLS connection", "Untrusted…", "Anonymous…".
    const tls = new RegExp(`(\\w+) TLS connection established to ${MX[z].replace(/\./g, '\\.')}`).exec(log)?.[1];
    theirs[z] = `${status === 'sent' ? 'delivered' : status}${tls ? ` (${tls} TLS)` : ''}`;
    // Postfix's reason for a deferral, as its log says it (for the table in the report).
    if (status !== 'sent') process.stdout.write(`# postfix ${z}: ${/status=\w+ \((.*)\)$/.exec(line)?.[1] ?? line}\n`);
  }
  process.stdout.write(`# zone × level: ours (may | dane | dane-only | MTA-STS enforce) vs Postfix (dane)\n`);
  for (const z of ZONES) {
    process.stdout.write(`# ${z.padEnd(14)} ${COLUMNS.map((c) => (ours[c]?.[z] ?? EXPECT[z][c]).padEnd(28)).join('| ')}| postfix: ${theirs[z]}\n`);
  }
  // Postfix and we agree on what RFC 7672 decides: delivered where DANE matches or does not apply, deferred where it fails.
  for (const z of ZONES) {
    const oursDelivered = EXPECT[z]['dane'].startsWith('delivered');
    assert.equal(theirs[z]?.startsWith('delivered'), oursDelivered, `${z}: postfix ${theirs[z]} vs ours ${EXPECT[z]['dane']}\n${log}`);
  }
  assert.match(theirs['ee'] ?? '', /Verified/);
  assert.match(theirs['ta'] ?? '', /Verified/);
});
