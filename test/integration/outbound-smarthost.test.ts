// Relaying through a smarthost, end to end with real daemons on loopback: a second Sealpost is the
// smarthost (its submission listener offers AUTH after STARTTLS on 587 and implicit TLS on 465, with
// a user made by `sealpost user add`, a certificate from the test CA); ours reaches it with
// [outbound] relay and verify-level TLS, and the message is relayed on to the destination's MX.
// A wrong password is a deferral with the smarthost's reply in `queue show` and `status`, never a
// bounce; the password appears in no log. An [outbound.transport] entry sends one domain to a
// Postfix receiver by "[host]" (the test DNS has no MX for that domain). Needs root (Postfix).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { issueCert } from '../helpers/certs.ts';
import { type SealpostDaemon, startSealpost } from '../helpers/daemon.ts';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { headerValue } from '../helpers/maildir.ts';
import { freePort } from '../helpers/ports.ts';
import { createTestPki, type Receiver, startPostfixTlsReceiver, startReceiver, type TestPki } from '../helpers/receivers.ts';
import type { Overrides, SealpostToml } from '../helpers/sealpost-config.ts';
import { swaksSend } from '../helpers/swaks.ts';
import { makeTempDir, removeTempDir, type Scope } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';
import { prepareWithCli } from './submission-setup.ts';

const USER = 'alice@example.test';
const PASSWORD = 'smarthost-pass-7Q2x';
const SMARTHOST = 'smtp.smarthost.test';
const SMARTHOST_IP = '127.0.0.20';

describe('relaying through a smarthost', { timeout: 300_000 }, () => {
  const cleanups: (() => unknown)[] = [];
  const scope: Scope = { after: (fn) => void cleanups.push(fn) };
  let dir: string;
  let dns: DnsServer;
  let pki: TestPki;
  let caFile: string;
  let destination: Receiver;
  let smarthost: SealpostDaemon;
  const ports = { submission: 0, submissions: 0 };

  before(async () => {
    dir = await makeTempDir('sealpost-smarthost-');
    cleanups.push(() => removeTempDir(dir));
    pki = await createTestPki();
    caFile = path.join(dir, 'test-ca.pem');
    await writeFile(caFile, pki.root.certPem);
    // The destination's MX, reachable only by the smarthost (it alone delivers to that port).
    const mxPort = await freePort('127.0.0.21');
    destination = await startReceiver('valid', { host: '127.0.0.21', port: mxPort, mxName: 'mx.far.test', pki });
    cleanups.push(() => destination.close());
    dns = await startDnsServer(
      new Map([
        ['far.test', { MX: [{ preference: 10, exchange: 'mx.far.test' }] }],
        ['mx.far.test', { A: ['127.0.0.21'] }],
        [SMARTHOST, { A: [SMARTHOST_IP] }],
        // partner.test has no MX at all: only the transport entry's "[mx.partner.test]" reaches it.
        ['mx.partner.test', { A: ['127.0.0.22'] }],
      ]),
    );
    cleanups.push(() => dns.close());
    const cert = await issueCert(pki.intermediate, { names: [SMARTHOST] });
    await writeFile(path.join(dir, 'smarthost-cert.pem'), cert.chainPem);
    await writeFile(path.join(dir, 'smarthost-key.pem'), cert.keyPem, { mode: 0o600 });
    ports.submission = await freePort(SMARTHOST_IP);
    ports.submissions = await freePort(SMARTHOST_IP);
    const overrides = {
      hostname: SMARTHOST,
      data_dir: path.join(dir, 'smarthost-data'),
      listen: { submission: [`${SMARTHOST_IP}:${ports.submission}`], submissions: [`${SMARTHOST_IP}:${ports.submissions}`] },
      tls: { cert_file: path.join(dir, 'smarthost-cert.pem'), key_file: path.join(dir, 'smarthost-key.pem') },
      // The wrong-password sender fails AUTH again and again: no lockout of 127.0.0.1 meanwhile.
      auth: { slow_after: 1000, max_failures: 10_000 },
      dns: { servers: [dns.address] },
      outbound: { port: mxPort, mta_sts: false, tls_default: 'may' },
    } as Overrides<SealpostToml>;
    await prepareWithCli(path.join(dir, 'smarthost'), overrides, { users: [{ address: USER, password: PASSWORD }] });
    smarthost = await startSealpost(scope, { config: overrides });
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  /**
   * Our Sealpost: port 25 of every MX "blocked" (nothing listens on outbound.port), `outbound`
   * merged in; with a relay, [outbound.relay_auth] names a password file (mode 0600) holding `password`.
   */
  async function sender(
    t: Scope,
    password: string,
    outbound: NonNullable<SealpostToml['outbound']> | ((passwordFile: string) => NonNullable<SealpostToml['outbound']>),
  ): Promise<SealpostDaemon> {
    const file = path.join(await makeTempDir('sealpost-relay-pw-'), 'relay.password');
    t.after(() => removeTempDir(path.dirname(file)));
    await writeFile(file, `${password}\n`, { mode: 0o600 });
    const settings = typeof outbound === 'function' ? outbound(file) : { relay_auth: { username: USER, password_file: file }, ...outbound };
    return startSealpost(t, {
      config: { dns: { servers: [dns.address] }, outbound: { port: await freePort(), mta_sts: false, ca_file: caFile, ...settings } },
    });
  }

  function assertNoPassword(daemon: SealpostDaemon, password: string): void {
    const text = JSON.stringify(daemon.logs()) + daemon.stderr();
    assert.ok(!text.includes(password), 'the password appears in the log');
    assert.ok(!text.includes(Buffer.from(`\0${USER}\0${password}`).toString('base64')), 'the AUTH PLAIN token appears in the log');
  }

  async function send(daemon: SealpostDaemon, to: string, subject: string): Promise<string> {
    const sent = await swaksSend({ port: daemon.smtpPort, from: USER, to: [to], subject });
    assert.equal(sent.code, 0, sent.stdout);
    const queueId = /queued as (\S+)/.exec(sent.stdout)?.[1];
    assert.ok(queueId, sent.stdout);
    return queueId;
  }

  test('relay = "smtp:[smarthost]:587": AUTH after STARTTLS, verified TLS, relayed on; a transport entry reaches a Postfix by [host]', {
    timeout: 180_000,
  }, async (t) => {
    const postfixPort = await freePort('127.0.0.22');
    const postfix = await startPostfixTlsReceiver(t, pki, {
      name: 'partner',
      mxName: 'mx.partner.test',
      host: '127.0.0.22',
      port: postfixPort,
      domains: ['partner.test'],
    });
    const ours = await sender(t, PASSWORD, {
      relay: `smtp:[${SMARTHOST}]:${ports.submission}`,
      transport: { 'partner.test': `smtp:[mx.partner.test]:${postfixPort}` },
    });

    const queueId = await send(ours, 'carol@far.test', 'via the smarthost');
    await waitFor(() => destination.messages.some((m) => m.body.includes('Subject: via the smarthost')), {
      timeoutMs: 60_000,
      what: 'the message at far.test',
    });
    const hop = await ours.waitForLog({ event: 'hop', queueId, result: 'delivered' });
    assert.equal(hop['transport'], 'relay');
    assert.equal(hop['mx'], SMARTHOST);
    assert.equal(hop['port'], ports.submission);
    assert.equal(hop['policy'], 'verify');
    assert.equal((hop['tls'] as { verified: boolean }).verified, true);
    await smarthost.waitForLog({ event: 'received', listener: 'submission', user: USER });
    assert.equal((await ours.waitForLog({ event: 'delivered', queueId }))['agent'], 'relay', 'the delivery agent (metrics: transport="relay")');
    assert.equal((await smarthost.waitForLog({ event: 'delivered', to: 'carol@far.test' }))['agent'], 'smtp', "the smarthost's: MX delivery");
    const show = await ours.cli(['queue', 'show', queueId]);
    assert.match(show.stdout, new RegExp(`via smarthost ${SMARTHOST.replaceAll('.', '\\.')}:${ports.submission} \\(relay\\)`), show.stdout);

    const partnerId = await send(ours, 'dave@partner.test', 'via the transport table');
    const [message] = await postfix.waitForMessages(1, 60_000);
    assert.equal(headerValue(message?.raw ?? '', 'Subject'), 'via the transport table');
    const partnerHop = await ours.waitForLog({ event: 'hop', queueId: partnerId, result: 'delivered' });
    assert.equal(partnerHop['transport'], 'transport partner.test');
    assert.equal(partnerHop['mx'], 'mx.partner.test');
    assert.equal(partnerHop['port'], postfixPort);
    assert.ok(!dns.queries.some((q) => q.startsWith('partner.test')), `no lookup of partner.test's MX: ${dns.queries.join(', ')}`);
    // doctor's smarthost check over STARTTLS (AUTH is offered only after it, in the EHLO after TLS).
    const doctor = await ours.cli(['doctor', '--json', '--no-port25', '--dns', dns.address, '--ip', '203.0.113.7']);
    const findings = (JSON.parse(doctor.stdout) as { findings: { id: string; level: string; found: string }[] }).findings.filter((f) =>
      f.id.startsWith('smarthost.'),
    );
    assert.deepEqual(
      findings.map((f) => `${f.level} ${f.id}`),
      ['ok smarthost.tls', 'ok smarthost.auth'],
      JSON.stringify(findings),
    );
    assert.match(findings[0]?.found ?? '', /certificate verified/);
    assertNoPassword(ours, PASSWORD);
    assertNoPassword(smarthost, PASSWORD);
  });

  test('relay = "smtps:[smarthost]:465": implicit TLS, AUTH, relayed on', { timeout: 120_000 }, async (t) => {
    const ours = await sender(t, PASSWORD, { relay: `smtps:[${SMARTHOST}]:${ports.submissions}` });
    const queueId = await send(ours, 'erin@far.test', 'over implicit TLS');
    await waitFor(() => destination.messages.some((m) => m.body.includes('Subject: over implicit TLS')), {
      timeoutMs: 60_000,
      what: 'the message at far.test',
    });
    const hop = await ours.waitForLog({ event: 'hop', queueId, result: 'delivered' });
    assert.equal(hop['port'], ports.submissions);
    assert.equal((hop['tls'] as { verified: boolean }).verified, true);
    await smarthost.waitForLog({ event: 'received', listener: 'submissions', user: USER });
    assertNoPassword(ours, PASSWORD);
  });

  test("a wrong password: deferred with the smarthost's reply in queue show and status, no bounce, not in the log", { timeout: 120_000 }, async (t) => {
    const wrong = 'not-the-password-9Zk';
    const ours = await sender(t, wrong, { relay: `smtp:[${SMARTHOST}]:${ports.submission}` });
    const queueId = await send(ours, 'frank@far.test', 'wrong password');
    const hop = await ours.waitForLog({ event: 'hop', queueId, result: 'transient' }, { timeoutMs: 60_000 });
    assert.match(String(hop['error']), /^the smarthost refused our credentials \(.*\): 535 5\.7\.8 /);
    assert.equal((hop['reply'] as { code: number }).code, 535);
    const show = await ours.cli(['queue', 'show', queueId]);
    assert.match(show.stdout, /frank@far\.test: (queued|active), \d+ attempts?/, show.stdout);
    assert.match(
      show.stdout,
      /last error: 4\.7\.8 the smarthost refused our credentials \(.*\) \(535 5\.7\.8 Authentication credentials invalid\)/,
      show.stdout,
    );
    const status = await ours.cli(['status']);
    assert.match(status.stdout, /transient: the smarthost refused our credentials .*535/, status.stdout);
    assert.ok(!show.stdout.includes(wrong) && !status.stdout.includes(wrong), 'the password in queue show or status');
    assert.equal(ours.findLogs({ event: 'bounced' }).length, 0);
    assert.ok(!destination.messages.some((m) => m.body.includes('Subject: wrong password')));
    assertNoPassword(ours, wrong);
  });

  test('a transport entry with its own credentials, to a third-party smarthost that offers only AUTH LOGIN', { timeout: 120_000 }, async (t) => {
    const port = await freePort('127.0.0.23');
    const logins: { method: string; username: string; password: string; secure: boolean }[] = [];
    dns.zone.set('login.smarthost.test', { A: ['127.0.0.23'] });
    const login = await startReceiver('valid', {
      host: '127.0.0.23',
      port,
      mxName: 'login.smarthost.test',
      pki,
      server: {
        authOptional: false,
        disabledCommands: [],
        authMethods: ['LOGIN'],
        onAuth(auth, session, callback) {
          logins.push({ method: auth.method, username: auth.username ?? '', password: auth.password ?? '', secure: session.secure });
          if (auth.username === 'mailer' && auth.password === 'login-pass-3Yt') callback(null, { user: 'mailer' });
          else callback(new Error('Invalid username or password'));
        },
      },
    });
    t.after(() => login.close());
    const ours = await sender(t, 'login-pass-3Yt', (file) => ({
      transport: { 'login.test': { nexthop: `smtp:[login.smarthost.test]:${port}`, username: 'mailer', password_file: file } },
    }));
    const queueId = await send(ours, 'gina@login.test', 'with AUTH LOGIN');
    await waitFor(() => login.messages.length === 1, { timeoutMs: 60_000, what: 'the message at the AUTH LOGIN smarthost' });
    assert.deepEqual(logins, [{ method: 'LOGIN', username: 'mailer', password: 'login-pass-3Yt', secure: true }]);
    const hop = await ours.waitForLog({ event: 'hop', queueId, result: 'delivered' });
    assert.equal(hop['transport'], 'transport login.test');
    assert.equal(hop['policy'], 'verify');
    assertNoPassword(ours, 'login-pass-3Yt');
  });
});
