// A third-party smarthost: a real Postfix on implicit TLS (smtpd_tls_wrappermode, "port 465") that
// relays only for clients authenticated by SASL through Dovecot's auth service (Debian
// dovecot-core), and relays on to the destination's MX. Our Sealpost has outbound port 25
// "blocked" (nothing listens on outbound.port) and reaches the smarthost with relay = "smtps:…",
// verify-level TLS, [outbound.relay_auth], from source_ipv4 = 127.0.0.3. A wrong password is a
// deferral with Postfix's 535 reply; the password is in no log file. `sealpost doctor` checks the
// smarthost with the good and the wrong password. Needs root (Postfix, Dovecot).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Finding } from '../../src/doctor/findings.ts';
import { issueCert } from '../helpers/certs.ts';
import { type SealpostDaemon, startSealpost } from '../helpers/daemon.ts';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { type Dovecot, startDovecot } from '../helpers/dovecot.ts';
import { freePort } from '../helpers/ports.ts';
import { type PostfixReceiver, startPostfixReceiver } from '../helpers/postfix.ts';
import { inlineTable } from '../helpers/postfix-config.ts';
import { createTestPki, type Receiver, startReceiver, type TestPki } from '../helpers/receivers.ts';
import type { SealpostToml } from '../helpers/sealpost-config.ts';
import { swaksSend } from '../helpers/swaks.ts';
import { makeTempDir, removeTempDir, type Scope } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

const USER = 'relay-user@smarthost.test';
const SMARTHOST = 'smtp.postfix-smarthost.test';
const SMARTHOST_IP = '127.0.0.50';
const MX_IP = '127.0.0.51';
const SOURCE = '127.0.0.3';

describe('a Postfix smarthost with SASL via Dovecot on implicit TLS', { timeout: 300_000 }, () => {
  const cleanups: (() => unknown)[] = [];
  const scope: Scope = { after: (fn) => void cleanups.push(fn) };
  let dir: string;
  let dns: DnsServer;
  let pki: TestPki;
  let caFile: string;
  let destination: Receiver;
  let dovecot: Dovecot;
  let postfix: PostfixReceiver;
  let smarthostPort: number;

  before(async () => {
    dir = await makeTempDir('sealpost-pf-smarthost-');
    cleanups.push(() => removeTempDir(dir));
    pki = await createTestPki();
    caFile = path.join(dir, 'test-ca.pem');
    await writeFile(caFile, pki.root.certPem);
    const mxPort = await freePort(MX_IP);
    destination = await startReceiver('valid', { host: MX_IP, port: mxPort, mxName: 'mx.far.test', pki });
    cleanups.push(() => destination.close());
    dns = await startDnsServer(new Map([[SMARTHOST, { A: [SMARTHOST_IP] }]]));
    cleanups.push(() => dns.close());
    dovecot = await startDovecot(scope, [{ address: USER }], { authListener: true });
    const cert = await issueCert(pki.intermediate, { names: [SMARTHOST], keyType: 'rsa-2048' });
    await writeFile(path.join(dir, 'cert.pem'), cert.chainPem);
    await writeFile(path.join(dir, 'key.pem'), cert.keyPem, { mode: 0o600 });
    smarthostPort = await freePort(SMARTHOST_IP);
    postfix = await startPostfixReceiver(scope, {
      name: 'smarthost',
      hostname: SMARTHOST,
      listen: { host: SMARTHOST_IP, port: smarthostPort },
      // Its own (unused) domain: far.test is not local, it is relayed.
      domains: ['local.postfix-smarthost.test'],
      tls: { level: 'encrypt', certFile: path.join(dir, 'cert.pem'), keyFile: path.join(dir, 'key.pem') },
      mainCf: {
        // The listener's address is not on an interface Postfix knows; master.cf binds it alone.
        inet_interfaces: 'all',
        // Implicit TLS (RFC 8314 §3.3), as a submissions listener on 465.
        smtpd_tls_wrappermode: 'yes',
        smtpd_sasl_auth_enable: 'yes',
        smtpd_sasl_type: 'dovecot',
        smtpd_sasl_path: `inet:127.0.0.1:${dovecot.authPort}`,
        smtpd_tls_auth_only: 'yes',
        // Relays for authenticated clients only: loopback (mynetworks) gets no free pass.
        smtpd_relay_restrictions: 'permit_sasl_authenticated, reject',
        // Onward to the destination's MX by address (the test Postfix does no DNS).
        transport_maps: inlineTable([['far.test', `smtp:[${MX_IP}]:${mxPort}`]]),
        relay_transport: 'smtp',
        default_transport: 'smtp',
        smtp_tls_security_level: 'may',
      },
    });
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  async function sender(t: Scope, password: string): Promise<SealpostDaemon> {
    const pwDir = await makeTempDir('sealpost-relay-pw-');
    t.after(() => removeTempDir(pwDir));
    const file = path.join(pwDir, 'relay.password');
    await writeFile(file, `${password}\n`, { mode: 0o600 });
    const outbound: NonNullable<SealpostToml['outbound']> = {
      // Port 25 "blocked": nothing listens on the MX port, so only the smarthost gets mail out.
      port: await freePort(),
      mta_sts: false,
      ca_file: caFile,
      relay: `smtps:[${SMARTHOST}]:${smarthostPort}`,
      relay_auth: { username: USER, password_file: file },
      source_ipv4: SOURCE,
    };
    return startSealpost(t, { config: { dns: { servers: [dns.address] }, outbound } });
  }

  /** Every byte Sealpost logged (its JSON records on stdout, and stderr), plus the smarthost's maillog. */
  async function assertNoPassword(daemon: SealpostDaemon, password: string): Promise<void> {
    const text = JSON.stringify(daemon.logs()) + daemon.stderr() + (await postfix.log());
    assert.ok(daemon.logs().length > 0, 'the daemon logged');
    for (const secret of [password, Buffer.from(`\0${USER}\0${password}`).toString('base64'), Buffer.from(password).toString('base64')])
      assert.ok(!text.includes(secret), `"${secret}" appears in the log`);
  }

  async function send(daemon: SealpostDaemon, subject: string): Promise<string> {
    const sent = await swaksSend({ port: daemon.smtpPort, from: 'alice@example.test', to: ['carol@far.test'], subject });
    assert.equal(sent.code, 0, sent.stdout);
    const queueId = /queued as (\S+)/.exec(sent.stdout)?.[1];
    assert.ok(queueId, sent.stdout);
    return queueId;
  }

  async function doctor(daemon: SealpostDaemon): Promise<Finding[]> {
    const result = await daemon.cli(['doctor', '--json', '--no-port25', '--dns', dns.address, '--ip', '203.0.113.7', '--domain', 'example.test']);
    const json = JSON.parse(result.stdout) as { findings: Finding[] };
    return json.findings.filter((f) => f.id.startsWith('smarthost.'));
  }

  test('relayed through Postfix with verified implicit TLS and SASL, from 127.0.0.3; doctor says the smarthost works', { timeout: 180_000 }, async (t) => {
    const ours = await sender(t, dovecot.password);
    const queueId = await send(ours, 'through postfix');
    await waitFor(() => destination.messages.find((m) => m.body.includes('Subject: through postfix')), {
      timeoutMs: 90_000,
      what: `the message at far.test (Postfix maillog: ${postfix.paths.maillog})`,
    });
    const hop = await ours.waitForLog({ event: 'hop', queueId, result: 'delivered' });
    assert.equal(hop['transport'], 'relay');
    assert.equal(hop['policy'], 'verify');
    assert.equal((hop['tls'] as { verified: boolean }).verified, true);
    assert.equal(hop['source'], SOURCE);
    // Postfix saw our source address, and that client authenticated by SASL (Dovecot).
    await postfix.waitForLog(
      new RegExp(`client=unknown\\[${SOURCE.replaceAll('.', '\\.')}\\].*sasl_method=PLAIN, sasl_username=${USER.replaceAll('.', '\\.')}`),
    );
    const show = await ours.cli(['queue', 'show', queueId]);
    assert.match(
      show.stdout,
      new RegExp(
        `via smarthost ${SMARTHOST.replaceAll('.', '\\.')}:${smarthostPort} \\(relay\\) at ${SMARTHOST_IP.replaceAll('.', '\\.')} from ${SOURCE.replaceAll('.', '\\.')}`,
      ),
      show.stdout,
    );

    const findings = await doctor(ours);
    assert.deepEqual(
      findings.map((f) => `${f.level} ${f.id}`),
      ['ok smarthost.tls', 'ok smarthost.auth'],
      JSON.stringify(findings),
    );
    assert.match(findings[0]?.found ?? '', new RegExp(`from ${SOURCE.replaceAll('.', '\\.')}: TLSv1\\.[23] .*certificate verified`));
    assert.match(findings[1]?.found ?? '', /AUTH accepted for user relay-user@smarthost\.test \(no mail sent\)/);
    await assertNoPassword(ours, dovecot.password);
  });

  test("a wrong password: deferred with Postfix's 535, not bounced, not in the log; doctor explains it", { timeout: 180_000 }, async (t) => {
    const wrong = 'wrong-pass-R4nd0m';
    const ours = await sender(t, wrong);
    const queueId = await send(ours, 'wrong password');
    const hop = await ours.waitForLog({ event: 'hop', queueId, result: 'transient' }, { timeoutMs: 60_000 });
    assert.match(String(hop['error']), /^the smarthost refused our credentials \(.*\): 535 5\.7\.8 /);
    assert.equal((hop['reply'] as { code: number }).code, 535);
    const show = await ours.cli(['queue', 'show', queueId]);
    assert.match(show.stdout, /carol@far\.test: (queued|active), \d+ attempts?/, show.stdout);
    assert.match(show.stdout, /last error: 4\.7\.8 the smarthost refused our credentials .*535 5\.7\.8/, show.stdout);
    assert.equal(ours.findLogs({ event: 'bounced' }).length, 0);

    const findings = await doctor(ours);
    const auth = findings.find((f) => f.id === 'smarthost.auth');
    assert.equal(auth?.level, 'error', JSON.stringify(findings));
    assert.match(auth?.found ?? '', /^the smarthost refused our credentials: 535 5\.7\.8 .*\(user relay-user@smarthost\.test\)$/);
    assert.match(auth?.fix ?? '', /\[outbound\.relay_auth\].*relay\.password/);
    assert.ok(!JSON.stringify(findings).includes(wrong), 'the password in the doctor report');
    assert.ok(!destination.messages.some((m) => m.body.includes('Subject: wrong password')));
    await assertNoPassword(ours, wrong);
  });
});
