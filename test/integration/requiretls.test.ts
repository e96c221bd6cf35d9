// RFC 8689 REQUIRETLS both ways with real peers on loopback: a Sealpost daemon that offers
// REQUIRETLS only inside TLS (raw client and swaks), takes it only there (530 5.7.10 outside) and
// stores the flag; the remote courier sending a REQUIRETLS message over MTA-STS-verified TLS to
// that daemon (delivered, REQUIRETLS on MAIL FROM, the receiver's queue row has the flag), to a
// Postfix that does not offer REQUIRETLS (5.7.30, nothing sent) and to a domain without MTA-STS
// (5.7.30 without a connection); a `TLS-Required: No` message past a failing MTA-STS policy.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { validateConfig } from '../../src/config/schema.ts';
import { createLogger } from '../../src/log/log.ts';
import type { RemoteCourier } from '../../src/outbound/courier.ts';
import { createRemoteCourier } from '../../src/outbound/remote.ts';
import { issueCert } from '../helpers/certs.ts';
import { type SealpostDaemon, startSealpost } from '../helpers/daemon.ts';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { freePort } from '../helpers/ports.ts';
import { createTestPki, startPostfixTlsReceiver, type TestPki } from '../helpers/receivers.ts';
import { swaks } from '../helpers/swaks.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';
import { connectSmtp, suiteScope } from './inbound-smtp.ts';
import { captureLog, job, type LogCapture, openTestDb } from './outbound-setup.ts';

const scope = suiteScope();
let dns: DnsServer;
let pki: TestPki;
let port: number;
let stsPort: number;
let daemon: SealpostDaemon;
let courier: RemoteCourier;
let log: LogCapture;
const RX = '127.0.0.62';
const PF = '127.0.0.63';

before(async () => {
  dns = await startDnsServer();
  pki = await createTestPki();
  port = await freePort(RX);
  stsPort = await freePort('127.0.0.61');
  const policies = new Map<string, string>([
    ['mta-sts.rx.test', 'version: STSv1\r\nmode: enforce\r\nmx: mx.rx.test\r\nmax_age: 86400\r\n'],
    ['mta-sts.pf.test', 'version: STSv1\r\nmode: enforce\r\nmx: mx.pf.test\r\nmax_age: 86400\r\n'],
    // Names no MX host of the domain: enforce defers everything (RFC 8461 §4.1).
    ['mta-sts.stale.test', 'version: STSv1\r\nmode: enforce\r\nmx: mx.gone.test\r\nmax_age: 86400\r\n'],
  ]);
  const stsCert = await issueCert(pki.intermediate, { names: [...policies.keys()] });
  const server = https.createServer({ key: stsCert.keyPem, cert: stsCert.chainPem }, (req, res) => {
    const body = req.url === '/.well-known/mta-sts.txt' ? policies.get((req.headers.host ?? '').toLowerCase()) : undefined;
    res.writeHead(body ? 200 : 404, { 'content-type': 'text/plain' }).end(body ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(stsPort, '127.0.0.61', resolve));
  scope.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  for (const name of policies.keys()) {
    dns.zone.set(name, { A: ['127.0.0.61'] });
    dns.zone.set(`_mta-sts.${name.slice('mta-sts.'.length)}`, { TXT: ['v=STSv1; id=1'] });
  }
  dns.zone.set('mx.rx.test', { A: [RX] });
  dns.zone.set('rx.test', { MX: [{ preference: 10, exchange: 'mx.rx.test' }] });
  // The same receiver, but no MTA-STS policy for this domain (and no DANE): nothing authenticates the MX.
  dns.zone.set('plain.test', { MX: [{ preference: 10, exchange: 'mx.rx.test' }] });
  dns.zone.set('mx.pf.test', { A: [PF] });
  dns.zone.set('pf.test', { MX: [{ preference: 10, exchange: 'mx.pf.test' }] });
  dns.zone.set('stale.test', { MX: [{ preference: 10, exchange: 'mx.pf.test' }] });

  // The receiving Sealpost: a certificate for mx.rx.test from the test PKI; its one domain delivers
  // over LMTP to a port nobody listens on, so an accepted message stays in its queue to be looked at.
  const dir = await tempDir(scope);
  const cert = await issueCert(pki.intermediate, { names: ['mx.rx.test'] });
  await writeFile(path.join(dir, 'cert.pem'), cert.chainPem);
  await writeFile(path.join(dir, 'key.pem'), cert.keyPem, { mode: 0o600 });
  const closed = await freePort();
  daemon = await startSealpost(scope, {
    config: {
      hostname: 'mx.rx.test',
      listen: { smtp: [`${RX}:${port}`] },
      tls: { cert_file: path.join(dir, 'cert.pem'), key_file: path.join(dir, 'key.pem') },
      domain: [{ name: 'rx.test', mailboxes: ['alice'], delivery: `lmtp:[127.0.0.1]:${closed}` }],
      queue: { min_backoff: '1h', max_backoff: '2h' },
    },
  });

  const caDir = await tempDir(scope);
  await writeFile(path.join(caDir, 'ca.pem'), pki.root.certPem);
  const validated = validateConfig(
    {
      hostname: 'sender.sealpost.test',
      data_dir: caDir,
      domain: [{ name: 'sender.sealpost.test', mailboxes: ['alice'] }],
      dns: { servers: [dns.address], timeout_ms: 1500 },
      outbound: { port, ca_file: 'ca.pem', tls_default: 'may', connect_timeout_s: 5, command_timeout_s: 10 },
    },
    caDir,
  );
  assert.ok(validated.ok, JSON.stringify(!validated.ok && validated.problems));
  log = captureLog();
  courier = createRemoteCourier(validated.config, await openTestDb(scope), createLogger('info', log.stream), { stsPort, idleMs: 300 });
  scope.after(() => courier.close());
});

after(async () => {
  await dns?.close();
});

/** The queue row the receiving daemon keeps of a message (`sealpost queue show ID --json`). */
async function queuedFlag(queueId: string): Promise<string | null | undefined> {
  const shown = await daemon.cli(['queue', 'show', queueId, '--json']);
  assert.equal(shown.code, 0, shown.stderr);
  return (JSON.parse(shown.stdout) as { message: { tlsRequired: string | null } | null }).message?.tlsRequired;
}

test('inbound: REQUIRETLS offered and taken only inside TLS (530 5.7.10 outside); the flag and TLS-Required: No stored', { timeout: 60_000 }, async () => {
  const plain = await connectSmtp(port, { host: RX });
  await plain.reply();
  const ehlo = await plain.command('EHLO client.test');
  assert.match(ehlo.text, /^STARTTLS$/m);
  assert.doesNotMatch(ehlo.text, /REQUIRETLS/);
  const outside = await plain.command('MAIL FROM:<bob@client.test> REQUIRETLS');
  assert.equal(outside.code, 530);
  assert.match(outside.text, /^5\.7\.10 REQUIRETLS needs a TLS session/);
  plain.destroy();

  // swaks: the EHLO reply in plaintext has no REQUIRETLS, the one after STARTTLS has.
  const shown = await swaks(['--server', `${RX}:${port}`, '--tls', '--ehlo', 'client.test', '--quit-after', 'EHLO']);
  assert.equal(shown.code, 0, shown.stdout + shown.stderr);
  assert.doesNotMatch(shown.stdout, /^<-\s+250[- ]REQUIRETLS/m);
  assert.match(shown.stdout, /^<~\s+250[- ]REQUIRETLS/m);

  const smtp = await connectSmtp(port, { host: RX });
  await smtp.reply();
  await smtp.command('EHLO client.test');
  assert.equal((await smtp.command('STARTTLS')).code, 220);
  await smtp.upgrade({ servername: 'mx.rx.test', ca: pki.root.certPem });
  const secured = await smtp.command('EHLO client.test');
  assert.match(secured.text, /^REQUIRETLS$/m);
  assert.equal((await smtp.command('MAIL FROM:<bob@client.test> REQUIRETLS=YES')).code, 501, 'REQUIRETLS takes no value');
  assert.equal((await smtp.command('MAIL FROM:<bob@client.test> REQUIRETLS')).code, 250);
  assert.equal((await smtp.command('RCPT TO:<alice@rx.test>')).code, 250);
  assert.equal((await smtp.command('DATA')).code, 354);
  // RFC 8689 §4.1: with REQUIRETLS on MAIL FROM, a TLS-Required header field is ignored.
  const done = await smtp.command('TLS-Required: No\r\nSubject: secret\r\n\r\nsecret\r\n.');
  assert.equal(done.code, 250, done.text);
  const required = /queued as (\S+)/.exec(done.text)?.[1] ?? '';
  assert.equal((await smtp.command('MAIL FROM:<bob@client.test>')).code, 250);
  assert.equal((await smtp.command('RCPT TO:<alice@rx.test>')).code, 250);
  assert.equal((await smtp.command('DATA')).code, 354);
  const optional = await smtp.command('Subject: newsletter\r\nTLS-Required: No\r\n\r\nanyone may read this\r\n.');
  const optionalId = /queued as (\S+)/.exec(optional.text)?.[1] ?? '';
  assert.equal((await smtp.command('MAIL FROM:<bob@client.test>')).code, 250);
  assert.equal((await smtp.command('RCPT TO:<alice@rx.test>')).code, 250);
  assert.equal((await smtp.command('DATA')).code, 354);
  const ordinaryId = /queued as (\S+)/.exec((await smtp.command('Subject: hi\r\n\r\nhi\r\n.')).text)?.[1] ?? '';
  smtp.destroy();

  assert.equal(await queuedFlag(required), 'requiretls');
  assert.equal(await queuedFlag(optionalId), 'no');
  assert.equal(await queuedFlag(ordinaryId), null);
  const shownText = await daemon.cli(['queue', 'show', required]);
  assert.match(shownText.stdout, /tls {7}REQUIRETLS \(RFC 8689\)/);
});

test('outbound: REQUIRETLS to a Sealpost that offers it over MTA-STS-verified TLS; to none without MTA-STS or DANE', { timeout: 60_000 }, async () => {
  const j = job(['alice@rx.test'], 'Subject: for your eyes only\n\nsecret\n', { tlsRequired: 'requiretls' });
  const since = daemon.logs().length;
  const out = await courier.deliver(j);
  assert.equal(out.get(1)?.kind, 'delivered', JSON.stringify(out.get(1)));
  const hop = log.hops(j.queueId).at(-1);
  assert.equal(hop?.policySource, 'mta-sts');
  assert.equal(hop?.tls?.verified, true);
  // The receiver took MAIL FROM … REQUIRETLS and keeps the flag with the message.
  const received = await daemon.waitForLog((r) => r.event === 'received' && r['subject'] === 'for your eyes only');
  assert.equal(received['tlsRequired'], 'requiretls');
  assert.equal(await queuedFlag(String(received['queueId'])), 'requiretls');

  // The pooled session of that delivery ends (idle) before the count.
  await daemon.waitForLog({ event: 'session' }, { since });
  const sessionsBefore = daemon.findLogs({ event: 'session' }).length;
  const plainJob = job(['alice@plain.test'], 'Subject: nope\n\nsecret\n', { tlsRequired: 'requiretls' });
  const refused = (await courier.deliver(plainJob)).get(1);
  assert.ok(refused?.kind === 'permanent', JSON.stringify(refused));
  assert.equal(refused.enhanced, '5.7.30');
  assert.match(refused.reason, /neither DANE TLSA records nor an MTA-STS policy in enforce mode/);
  const refusedHop = log.hops(plainJob.queueId).at(-1);
  assert.equal(refusedHop?.result, 'permanent');
  assert.equal(refusedHop?.tls, null, 'no connection, so no TLS on record');
  assert.match(refusedHop?.error ?? '', /REQUIRETLS/);
  // A session of the daemon would be logged at its end; give it the time one would take.
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(daemon.findLogs({ event: 'session' }).length, sessionsBefore, 'the receiver was never contacted');
});

test('outbound: a Postfix receiver without REQUIRETLS gets nothing (5.7.30); TLS-Required: No passes a failing MTA-STS policy', {
  timeout: 120_000,
}, async () => {
  const postfix = await startPostfixTlsReceiver(scope, pki, { name: 'pfrx', mxName: 'mx.pf.test', host: PF, port, domains: ['pf.test', 'stale.test'] });
  const j = job(['carol@pf.test'], 'Subject: secret\n\nsecret\n', { tlsRequired: 'requiretls' });
  const out = (await courier.deliver(j)).get(1);
  assert.ok(out?.kind === 'permanent', JSON.stringify(out));
  assert.equal(out.enhanced, '5.7.30');
  assert.match(out.reason, /does not offer it in its EHLO reply/);
  const hop = log.hops(j.queueId).at(-1);
  assert.equal(hop?.policySource, 'mta-sts');
  assert.equal(hop?.tls?.verified, true, 'TLS was verified; REQUIRETLS was what the host lacked');
  assert.equal(hop?.result, 'permanent');

  // The same host, an ordinary message: delivered (the flag, not the host, was the problem).
  const ordinary = job(['carol@pf.test'], 'Subject: ordinary\n\nhello\n');
  assert.equal((await courier.deliver(ordinary)).get(1)?.kind, 'delivered');
  const got = await postfix.waitForMessages(1, 20_000);
  assert.deepEqual(
    got.map((m) => m.subject),
    ['ordinary'],
    'the REQUIRETLS message never reached Postfix',
  );

  // stale.test's MTA-STS policy names no MX host it has: enforce defers; TLS-Required: No sets it aside.
  const stale = job(['dave@stale.test'], 'Subject: stale\n\nx\n');
  assert.equal((await courier.deliver(stale)).get(1)?.kind, 'transient');
  const optional = job(['dave@stale.test'], 'TLS-Required: No\nSubject: optional\n\nx\n', { tlsRequired: 'no' });
  const passed = (await courier.deliver(optional)).get(1);
  assert.equal(passed?.kind, 'delivered', JSON.stringify(passed));
  const optionalHop = log.hops(optional.queueId).at(-1);
  assert.equal(optionalHop?.policySource, 'tls-required');
  assert.equal(optionalHop?.policy, 'may');
  await waitFor(async () => (await postfix.messages()).length === 2, { timeoutMs: 20_000, what: 'the TLS-Required: No message at Postfix' });
});

test('outbound: through a transport next hop a REQUIRETLS message needs tls = "verify"', { timeout: 60_000 }, async () => {
  const caDir = await tempDir(scope);
  await writeFile(path.join(caDir, 'ca.pem'), pki.root.certPem);
  const validated = validateConfig(
    {
      hostname: 'sender.sealpost.test',
      data_dir: caDir,
      domain: [{ name: 'sender.sealpost.test', mailboxes: ['alice'] }],
      dns: { servers: [dns.address], timeout_ms: 1500 },
      outbound: {
        port,
        ca_file: 'ca.pem',
        mta_sts: false,
        connect_timeout_s: 5,
        command_timeout_s: 10,
        transport: {
          'rx.test': { nexthop: `smtp:[mx.rx.test]:${port}`, tls: 'verify' },
          'plain.test': { nexthop: `smtp:[mx.rx.test]:${port}`, tls: 'encrypt' },
        },
      },
    },
    caDir,
  );
  assert.ok(validated.ok, JSON.stringify(!validated.ok && validated.problems));
  const relayLog = captureLog();
  const relaying = createRemoteCourier(validated.config, await openTestDb(scope), createLogger('info', relayLog.stream), { idleMs: 300 });
  scope.after(() => relaying.close());

  const verified = job(['alice@rx.test'], 'Subject: via the transport\n\nsecret\n', { tlsRequired: 'requiretls' });
  assert.equal((await relaying.deliver(verified)).get(1)?.kind, 'delivered');
  const hop = relayLog.hops(verified.queueId).at(-1);
  assert.equal(hop?.policySource, 'transport');
  assert.equal(hop?.tls?.verified, true);
  const received = await daemon.waitForLog((r) => r.event === 'received' && r['subject'] === 'via the transport');
  assert.equal(await queuedFlag(String(received['queueId'])), 'requiretls');

  const encrypted = job(['alice@plain.test'], 'Subject: encrypt only\n\nsecret\n', { tlsRequired: 'requiretls' });
  const refused = (await relaying.deliver(encrypted)).get(1);
  assert.ok(refused?.kind === 'permanent' && refused.enhanced === '5.7.30', JSON.stringify(refused));
  assert.match(refused.reason, /TLS level is "encrypt", not "verify"/);
  assert.equal(relayLog.hops(encrypted.queueId).at(-1)?.tls, null, 'refused before connecting');
});

test('end to end: a REQUIRETLS message to a domain nothing authenticates comes back as a DSN with 5.7.30', { timeout: 90_000 }, async () => {
  const sender = await startSealpost(scope, {
    config: { dns: { servers: [dns.address], timeout_ms: 1500 }, outbound: { port, tls_default: 'may', connect_timeout_s: 5 } },
  });
  const smtp = await connectSmtp(sender.smtpPort);
  await smtp.reply();
  await smtp.command('EHLO client.test');
  assert.equal((await smtp.command('STARTTLS')).code, 220);
  await smtp.upgrade({ rejectUnauthorized: false });
  await smtp.command('EHLO client.test');
  assert.equal((await smtp.command('MAIL FROM:<alice@example.test> REQUIRETLS')).code, 250);
  assert.equal((await smtp.command('RCPT TO:<bob@plain.test>')).code, 250);
  assert.equal((await smtp.command('DATA')).code, 354);
  assert.equal((await smtp.command('Subject: must stay private\r\n\r\nsecret\r\n.')).code, 250);
  smtp.destroy();
  const [dsn] = await sender.waitForMail(1, { domain: 'example.test', mailbox: 'alice', timeoutMs: 60_000 });
  assert.match(dsn?.raw ?? '', /^Status: 5\.7\.30/m);
  assert.match(dsn?.raw ?? '', /REQUIRETLS/);
});
