// Smoke test of the integration harness itself, without Sealpost: Postfix sender → Postfix
// receiver, swaks → Postfix receiver, and the helpers' waits. Runs under netless (needs root).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createCa, issueCert } from '../helpers/certs.ts';
import { startSealpost } from '../helpers/daemon.ts';
import { composeMessage, headerValue } from '../helpers/maildir.ts';
import { sClientStartTls } from '../helpers/openssl.ts';
import { freePort } from '../helpers/ports.ts';
import { startPostfixReceiver, startPostfixSender } from '../helpers/postfix.ts';
import { isAlive } from '../helpers/processes.ts';
import { swaksSend } from '../helpers/swaks.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitFor, waitForLine } from '../helpers/wait.ts';

test('Postfix sender relays a message into a Postfix receiver', { timeout: 60_000 }, async (t) => {
  const receiver = await startPostfixReceiver(t, { listen: { port: await freePort() }, domains: ['sink.test'] });
  const sender = await startPostfixSender(t, { relayTo: { host: '127.0.0.1', port: receiver.port } });
  assert.notEqual(sender.masterPid, receiver.masterPid);
  // The helper skips postfix-script's start-up checks (quick-start); the layout must still pass them.
  for (const instance of [sender, receiver]) {
    const check = await instance.postfix('check');
    assert.equal(check.code, 0, check.stderr);
    assert.equal(check.stderr, '', `postfix check warnings for ${instance.name}`);
  }

  await sender.inject('alice@origin.test', ['bob@sink.test'], composeMessage({ from: 'alice@origin.test', to: ['bob@sink.test'], subject: 'harness relay 1' }));
  const [message] = await receiver.waitForMessages(1, 20_000);
  assert.ok(message);
  assert.equal(message.subject, 'harness relay 1');
  assert.equal(message.deliveredTo, 'bob@sink.test');
  assert.equal(message.maildir, 'sink.test/_all');
  // The hop went through the sender's smtp client: its banner name is in the receiver's Received.
  assert.match(message.raw, /from sender\.postfix\.test/);
  await sender.waitForQueueEmpty(10_000);
  assert.match(await sender.log(), /status=sent/);

  await sender.stop();
  await receiver.stop();
  assert.equal(isAlive(sender.masterPid), false, 'sender master still running');
  assert.equal(isAlive(receiver.masterPid), false, 'receiver master still running');
  assert.deepEqual(sender.livePids(), []);
  assert.deepEqual(receiver.livePids(), []);
});

test('swaks into a Postfix receiver with listed mailboxes', { timeout: 60_000 }, async (t) => {
  const receiver = await startPostfixReceiver(t, { listen: { port: await freePort() }, domains: ['sink.test'], mailboxes: ['carol@sink.test'] });

  const sent = await swaksSend({ port: receiver.port, from: 'dave@origin.test', to: ['carol@sink.test'], subject: 'harness swaks' });
  assert.equal(sent.code, 0, sent.stdout + sent.stderr);
  const [message] = await receiver.waitForMessages(1);
  assert.equal(message?.maildir, 'sink.test/carol');
  assert.equal(message?.subject, 'harness swaks');

  // An unlisted address is refused at RCPT (swaks exit 24: no recipient accepted).
  const refused = await swaksSend({ port: receiver.port, from: 'dave@origin.test', to: ['nobody@sink.test'] });
  assert.equal(refused.code, 24, refused.stdout);
  assert.match(refused.stdout, /550 5\.1\.1/);
  // Other domains: relay denied even from loopback.
  const relay = await swaksSend({ port: receiver.port, from: 'dave@origin.test', to: ['x@elsewhere.test'] });
  assert.equal(relay.code, 24, relay.stdout);
  assert.match(relay.stdout, /554 5\.7\.1/);
});

test('two receivers run side by side and stay apart', { timeout: 60_000 }, async (t) => {
  const one = await startPostfixReceiver(t, { name: 'one', listen: { port: await freePort() }, domains: ['one.test'] });
  const two = await startPostfixReceiver(t, { name: 'two', listen: { port: await freePort() }, domains: ['two.test'] });
  assert.equal((await swaksSend({ port: one.port, from: 'a@origin.test', to: ['x@one.test'], subject: 'to one' })).code, 0);
  assert.equal((await swaksSend({ port: two.port, from: 'a@origin.test', to: ['y@two.test'], subject: 'to two' })).code, 0);
  const [m1] = await one.waitForMessages(1);
  const [m2] = await two.waitForMessages(1);
  assert.equal(m1?.subject, 'to one');
  assert.equal(m2?.subject, 'to two');
  assert.equal((await one.messages()).length, 1);
  assert.equal((await two.messages()).length, 1);
});

test('STARTTLS: openssl probe of a Postfix receiver, and a verified Postfix-to-Postfix hop', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const ca = await createCa('Harness Root');
  const leaf = await issueCert(ca, { names: ['mx.sink.test'] });
  const files = { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'cert.pem'), key: path.join(dir, 'key.pem') };
  await writeFile(files.ca, ca.certPem);
  await writeFile(files.cert, leaf.chainPem);
  await writeFile(files.key, leaf.keyPem, { mode: 0o600 });
  const receiver = await startPostfixReceiver(t, {
    listen: { port: await freePort() },
    domains: ['sink.test'],
    tls: { level: 'may', certFile: files.cert, keyFile: files.key },
  });

  const probe = await sClientStartTls({ port: receiver.port, servername: 'mx.sink.test', caFile: files.ca });
  assert.equal(probe.ok, true, probe.stdout + probe.stderr);
  assert.equal(probe.protocol, 'TLSv1.3');
  assert.match(probe.cipher ?? '', /^TLS_/);
  assert.deepEqual(probe.certificate?.dnsNames, ['mx.sink.test']);
  assert.equal(probe.certificate?.subject, 'CN=mx.sink.test');
  assert.deepEqual(probe.verify, { code: 0, message: 'ok' });
  const untrusted = await sClientStartTls({ port: receiver.port, noServername: true });
  assert.equal(untrusted.ok, true);
  assert.notEqual(untrusted.verify?.code, 0);
  const wrongName = await sClientStartTls({ port: receiver.port, servername: 'other.test', caFile: files.ca });
  assert.equal(wrongName.verify?.code, 62, wrongName.stdout); // X509_V_ERR_HOSTNAME_MISMATCH

  const sender = await startPostfixSender(t, {
    relayTo: { host: '127.0.0.1', port: receiver.port },
    tls: { level: 'verify', caFile: files.ca, match: ['mx.sink.test'] },
  });
  await sender.inject('alice@origin.test', ['bob@sink.test'], composeMessage({ from: 'alice@origin.test', to: ['bob@sink.test'], subject: 'over tls' }));
  const [message] = await receiver.waitForMessages(1, 20_000);
  // smtpd_tls_received_header: the receiver's Received names the hop's protocol and cipher.
  assert.match(message?.header('received') ?? '', /\(using TLSv1\.3 with cipher TLS_/);
  await sender.waitForLog(/Verified TLS connection established to 127\.0\.0\.1/);

  // A name the certificate does not carry: verify level defers and the queue says why.
  const strict = await startPostfixSender(t, {
    name: 'strict',
    relayTo: { host: '127.0.0.1', port: receiver.port },
    tls: { level: 'verify', caFile: files.ca, match: ['mx.elsewhere.test'] },
  });
  await strict.inject('alice@origin.test', ['bob@sink.test'], composeMessage({ from: 'alice@origin.test', to: ['bob@sink.test'], subject: 'must not pass' }));
  const [queued] = await waitFor(
    async () => {
      const q = await strict.queue();
      return q[0]?.recipients[0]?.delay_reason ? q : undefined;
    },
    { timeoutMs: 15_000, what: 'a deferred message in the strict sender' },
  );
  assert.match(queued?.recipients[0]?.delay_reason ?? '', /certificate verification failed|Server certificate not verified/);
  await assert.rejects(strict.waitForQueueEmpty(500), /still queued: .*bob@sink\.test/);
  assert.equal((await receiver.messages()).length, 1);
});

// The daemon helper against the real `sealpost start`: a smoke test of the harness, not of Sealpost.
test('daemon helper: start, receive, restart, kill -9, stop', { timeout: 60_000 }, async (t) => {
  const sealpost = await startSealpost(t, { config: { domain: [{ name: 'harness.test', mailboxes: ['alice', 'bob'] }] } });
  assert.equal(sealpost.smtpPort > 0, true);
  const sent = await swaksSend({ port: sealpost.smtpPort, from: 'x@origin.test', to: ['alice@harness.test'], subject: 'via swaks' });
  assert.equal(sent.code, 0, sent.stdout);
  const [first] = await sealpost.waitForMail(1, { domain: 'harness.test', mailbox: 'alice' });
  assert.equal(first?.subject, 'via swaks');
  await sealpost.waitForLog({ event: 'delivered' });

  const sender = await startPostfixSender(t, { relayTo: { host: '127.0.0.1', port: sealpost.smtpPort }, tls: { level: 'encrypt' } });
  await sender.inject('y@origin.test', ['bob@harness.test'], composeMessage({ from: 'y@origin.test', to: ['bob@harness.test'], subject: 'via postfix' }));
  const [second] = await sealpost.waitForMail(1, { domain: 'harness.test', mailbox: 'bob' });
  assert.equal(second?.subject, 'via postfix');
  await sender.waitForQueueEmpty();

  const mark = sealpost.logs().length;
  await sealpost.restart();
  assert.ok(sealpost.findLogs({ event: 'daemon', state: 'stopped' }).length >= 1);
  await sealpost.waitForLog({ event: 'daemon', state: 'listening' }, { since: mark });
  assert.equal((await sealpost.readMaildir('harness.test', 'alice')).length, 1);
  assert.deepEqual(await sealpost.kill9(), { code: null, signal: 'SIGKILL' });
  assert.equal(sealpost.pid(), undefined);
  await sealpost.restart();
  assert.deepEqual(await sealpost.stop(), { code: 0, signal: null });
  assert.equal((await sealpost.waitForMail(2)).length, 2);
});

test('waits fail with an error naming what they waited for', { timeout: 10_000 }, async () => {
  await assert.rejects(
    waitFor(() => false, { timeoutMs: 100, what: 'the impossible' }),
    /timed out after 100 ms waiting for the impossible/,
  );
  await assert.rejects(
    waitFor(
      () => {
        throw new Error('not there yet');
      },
      { timeoutMs: 100, what: 'a file' },
    ),
    /waiting for a file; last error: not there yet/,
  );
  const stream = new PassThrough();
  const line = waitForLine(stream, /ready/, 1000);
  stream.write('starting\nstill sta');
  stream.write('rting\nall ready now\n');
  assert.equal(await line, 'all ready now');
  await assert.rejects(waitForLine(new PassThrough(), /never/, 100), /timed out after 100 ms/);
  assert.equal(headerValue('Subject: a\r\n folded\r\n\r\nbody', 'subject'), 'a folded');
});
