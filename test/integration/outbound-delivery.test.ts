// The remote courier end to end on loopback: DNS answers (NXDOMAIN, SERVFAIL, null MX, implicit
// MX, silence) through node:dns against an in-process server, MX fallback, per-recipient replies,
// SMTPUTF8 and SIZE refusals, 8BITMIME, connection reuse, MTA-STS enforce/testing over HTTPS.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { validateConfig } from '../../src/config/schema.ts';
import { createLogger } from '../../src/log/log.ts';
import { createRemoteCourier } from '../../src/outbound/remote.ts';
import { issueCert } from '../helpers/certs.ts';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { freePort } from '../helpers/ports.ts';
import { createTestPki, type Receiver, startReceiver, type TestPki } from '../helpers/receivers.ts';
import { tempDir } from '../helpers/tmp.ts';
import { captureLog, job, makeCourier, openTestDb, outboundConfig } from './outbound-setup.ts';

let dns: DnsServer;
let pki: TestPki;
let port: number;
const closers: (() => Promise<void>)[] = [];

async function receiver(host: string, mxName: string, server: Parameters<typeof startReceiver>[1]['server'] = {}): Promise<Receiver> {
  const r = await startReceiver('valid', { host, port, mxName, pki, server });
  closers.push(() => r.close());
  dns.zone.set(mxName, { A: [host] });
  return r;
}

before(async () => {
  dns = await startDnsServer();
  pki = await createTestPki();
  port = await freePort('127.0.0.30');
});

after(async () => {
  for (const close of closers) await close();
  await dns.close();
});

test('DNS answers decide permanent or transient before any connection', { timeout: 30_000 }, async (t) => {
  dns.zone.set('nullmx.test', { MX: [{ preference: 0, exchange: '.' }] });
  dns.zone.set('servfail.test', { rcode: 'SERVFAIL' });
  dns.zone.set('silent.test', { rcode: 'DROP' });
  dns.zone.set('dangling.test', { MX: [{ preference: 10, exchange: 'nowhere.dangling.test' }] });
  const { courier, log } = makeCourier(t, await openTestDb(t), dns, pki.trust, outboundConfig(port));
  const j = job(['a@nxdomain.test', 'b@nullmx.test', 'c@servfail.test', 'd@silent.test', 'e@dangling.test'], 'Subject: x\n\nx\n');
  const started = Date.now();
  const out = await courier.deliver(j);
  const summary = [1, 2, 3, 4, 5].map((id) => {
    const o = out.get(id);
    return o?.kind === 'delivered' ? 'delivered' : `${o?.kind} ${o?.enhanced}`;
  });
  assert.deepEqual(summary, ['permanent 5.1.2', 'permanent 5.1.10', 'transient 4.4.3', 'transient 4.4.3', 'permanent 5.4.4']);
  assert.ok(Date.now() - started < 10_000, 'the silent server costs one DNS timeout, not more');
  const nullMx = out.get(2);
  assert.ok(nullMx?.kind === 'permanent' && /null MX/.test(nullMx.reason));
  const hops = log.hops(j.queueId);
  assert.equal(hops.length, 5, 'one record per domain');
  assert.ok(hops.every((h) => h.mx === '' || h.mx === 'nowhere.dangling.test'));
});

test('MX preference, fallback to the next host, implicit MX, per-recipient replies', { timeout: 30_000 }, async (t) => {
  const good = await receiver('127.0.0.31', 'mx2.fallback.test', {
    onRcptTo(address, _session, callback) {
      if (address.address.startsWith('nobody@')) {
        const err = Object.assign(new Error('5.1.1 no such user'), { responseCode: 550 });
        callback(err);
      } else callback();
    },
  });
  // mx1 has the better preference but nothing listens there.
  dns.zone.set('mx1.fallback.test', { A: ['127.0.0.39'] });
  dns.zone.set('fallback.test', {
    MX: [
      { preference: 20, exchange: 'mx2.fallback.test' },
      { preference: 10, exchange: 'mx1.fallback.test' },
    ],
  });
  const implicit = await receiver('127.0.0.32', 'implicit.test');
  const { courier, log } = makeCourier(t, await openTestDb(t), dns, pki.trust, outboundConfig(port, { tlsDefault: 'verify' }));
  const j = job(['alice@fallback.test', 'nobody@fallback.test', 'bob@implicit.test'], 'Subject: fallback\n\nhi\n');
  const out = await courier.deliver(j);
  assert.equal(out.get(1)?.kind, 'delivered');
  const refused = out.get(2);
  assert.ok(refused?.kind === 'permanent', JSON.stringify(refused));
  assert.equal(refused.enhanced, '5.1.1');
  assert.match(refused.reason, /^host mx2\.fallback\.test\[127\.0\.0\.31\]:\d+ said: 550 5\.1\.1 no such user \(in reply to RCPT TO\)$/);
  assert.equal(out.get(3)?.kind, 'delivered');
  assert.deepEqual(good.messages.at(-1)?.to, ['alice@fallback.test'], 'one transaction, only the accepted recipient');
  assert.equal(implicit.messages.length, 1);
  const hops = log.hops(j.queueId, 'fallback.test');
  assert.deepEqual(
    hops.map((h) => `${h.mx} ${h.result}`),
    ['mx1.fallback.test transient', 'mx2.fallback.test mixed'],
  );
  assert.match(hops[0]?.error ?? '', /ECONNREFUSED/);
  assert.equal(hops[1]?.tls?.verified, true);
  const delivered = out.get(1);
  assert.ok(delivered?.kind === 'delivered' && delivered.hop?.mx === 'mx2.fallback.test' && delivered.hop.policy === 'verify');
});

test('SMTPUTF8, SIZE and 8BITMIME follow what the server offers', { timeout: 30_000 }, async (t) => {
  const ascii = await receiver('127.0.0.33', 'mx.ascii.test', { hideSMTPUTF8: true, size: 200 });
  dns.zone.set('ascii.test', { MX: [{ preference: 10, exchange: 'mx.ascii.test' }] });
  const { courier } = makeCourier(t, await openTestDb(t), dns, pki.trust, outboundConfig(port));
  const utf8 = await courier.deliver(job(['user@ascii.test'], 'Subject: x\n\nx\n', { smtputf8: true }));
  const u = utf8.get(1);
  assert.ok(u?.kind === 'permanent' && u.enhanced === '5.6.7', JSON.stringify(u));
  assert.match(u.reason, /needs SMTPUTF8.*does not offer it/);
  const big = await courier.deliver(job(['user@ascii.test'], `Subject: big\n\n${'x'.repeat(300)}\n`));
  const b = big.get(1);
  assert.ok(b?.kind === 'permanent' && b.enhanced === '5.3.4', JSON.stringify(b));
  const eight = await courier.deliver(job(['user@ascii.test'], 'Subject: 8\n\ncaf\u00e9\n', { eightBit: true }));
  assert.equal(eight.get(1)?.kind, 'delivered');
  assert.equal(ascii.messages.length, 1, 'only the message that fits arrived');
  assert.equal(ascii.messages[0]?.params['BODY'], '8BITMIME');
  assert.match(ascii.messages[0]?.body ?? '', /café/);
});

test('a second message to the same host reuses the open connection', { timeout: 30_000 }, async (t) => {
  const r = await receiver('127.0.0.34', 'mx.reuse.test');
  dns.zone.set('reuse.test', { MX: [{ preference: 10, exchange: 'mx.reuse.test' }] });
  const { courier } = makeCourier(t, await openTestDb(t), dns, pki.trust, outboundConfig(port));
  for (let i = 0; i < 3; i++) assert.equal((await courier.deliver(job([`u${i}@reuse.test`], `Subject: ${i}\n\nx\n`))).get(1)?.kind, 'delivered');
  assert.equal(r.messages.length, 3);
  assert.equal(r.connections(), 1);
});

test('MTA-STS: enforce limits the MX hosts and demands verified TLS; testing only reports', { timeout: 60_000 }, async (t) => {
  const stsPort = await freePort('127.0.0.40');
  const policies = new Map<string, string>([
    ['mta-sts.sts.test', 'version: STSv1\r\nmode: enforce\r\nmx: mx.sts.test\r\nmax_age: 86400\r\n'],
    ['mta-sts.badcert.test', 'version: STSv1\r\nmode: enforce\r\nmx: *.badcert.test\r\nmax_age: 86400\r\n'],
    ['mta-sts.trial.test', 'version: STSv1\r\nmode: testing\r\nmx: mx.trial.test\r\nmax_age: 86400\r\n'],
  ]);
  const cert = await issueCert(pki.intermediate, { names: [...policies.keys()] });
  const fetched: string[] = [];
  const server = https.createServer({ key: cert.keyPem, cert: cert.chainPem }, (req, res) => {
    const host = (req.headers.host ?? '').toLowerCase();
    fetched.push(`${host}${req.url}`);
    const body = req.url === '/.well-known/mta-sts.txt' ? policies.get(host) : undefined;
    res.writeHead(body ? 200 : 404, { 'content-type': 'text/plain' }).end(body ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(stsPort, '127.0.0.40', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  for (const name of policies.keys()) dns.zone.set(name, { A: ['127.0.0.40'] });

  const allowed = await receiver('127.0.0.35', 'mx.sts.test');
  const rogue = await receiver('127.0.0.36', 'rogue.elsewhere.test');
  dns.zone.set('sts.test', {
    MX: [
      { preference: 5, exchange: 'rogue.elsewhere.test' },
      { preference: 10, exchange: 'mx.sts.test' },
    ],
  });
  dns.zone.set('_mta-sts.sts.test', { TXT: ['v=STSv1; id=20240101'] });
  const wrong = await startReceiver('wrong-host', { host: '127.0.0.37', port, mxName: 'mx.badcert.test', pki });
  closers.push(() => wrong.close());
  dns.zone.set('mx.badcert.test', { A: ['127.0.0.37'] });
  dns.zone.set('badcert.test', { MX: [{ preference: 10, exchange: 'mx.badcert.test' }] });
  dns.zone.set('_mta-sts.badcert.test', { TXT: ['v=STSv1; id=1'] });
  const trialWrong = await startReceiver('self-signed', { host: '127.0.0.38', port, mxName: 'mx.trial.test', pki });
  closers.push(() => trialWrong.close());
  dns.zone.set('mx.trial.test', { A: ['127.0.0.38'] });
  dns.zone.set('trial.test', { MX: [{ preference: 10, exchange: 'mx.trial.test' }] });
  dns.zone.set('_mta-sts.trial.test', { TXT: ['v=STSv1; id=1'] });

  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'ca.pem'), pki.root.certPem);
  const validated = validateConfig(
    {
      hostname: 'sender.sealpost.test',
      data_dir: dir,
      domain: [{ name: 'sender.sealpost.test', mailboxes: ['alice'] }],
      dns: { servers: [dns.address], timeout_ms: 1500 },
      outbound: { port, ca_file: 'ca.pem', tls_default: 'may', connect_timeout_s: 5, command_timeout_s: 10 },
    },
    dir,
  );
  assert.ok(validated.ok, JSON.stringify(!validated.ok && validated.problems));
  const db = await openTestDb(t);
  const log = captureLog();
  const courier = createRemoteCourier(validated.config, db, createLogger('info', log.stream), { stsPort, idleMs: 300 });
  t.after(() => courier.close());

  const j = job(['a@sts.test', 'b@badcert.test', 'c@trial.test'], 'Subject: sts\n\nx\n');
  const out = await courier.deliver(j);
  assert.equal(out.get(1)?.kind, 'delivered', JSON.stringify(out.get(1)));
  assert.equal(allowed.messages.length, 1);
  assert.equal(rogue.messages.length + rogue.connections(), 0, 'the MX outside the policy is never contacted');
  const stsHop = log.hops(j.queueId, 'sts.test').at(-1);
  assert.equal(stsHop?.policy, 'verify');
  assert.equal(stsHop?.policySource, 'mta-sts');
  assert.equal(stsHop?.tls?.verified, true);

  const bad = out.get(2);
  assert.ok(bad?.kind === 'transient', JSON.stringify(bad));
  assert.match(bad.reason, /certificate is valid for other\.badcert\.test, badcert\.test, not mx\.badcert\.test/);
  assert.equal(wrong.messages.length, 0);

  assert.equal(out.get(3)?.kind, 'delivered', 'testing mode does not block');
  const trialHop = log.hops(j.queueId, 'trial.test').at(-1);
  assert.equal(trialHop?.policySource, 'default');
  assert.match(trialHop?.sts ?? '', /testing: enforce would defer: DEPTH_ZERO_SELF_SIGNED_CERT/);

  const cached = db.prepare('SELECT domain, policy_id, mode FROM sts_policies ORDER BY domain').all();
  assert.deepEqual(cached, [
    { domain: 'badcert.test', policy_id: '1', mode: 'enforce' },
    { domain: 'sts.test', policy_id: '20240101', mode: 'enforce' },
    { domain: 'trial.test', policy_id: '1', mode: 'testing' },
  ]);
  // A second message: the same ids → served from the cache, no new fetch.
  const before = fetched.length;
  assert.equal((await courier.deliver(job(['d@sts.test'], 'Subject: again\n\nx\n'))).get(1)?.kind, 'delivered');
  assert.equal(fetched.length, before);
});
