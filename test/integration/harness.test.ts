// Smoke test of the integration harness itself, without Sealpost: Postfix sender → Postfix
// receiver, swaks → Postfix receiver, and the helpers' waits. Runs under netless (needs root).
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { composeMessage, headerValue } from '../helpers/maildir.ts';
import { freePort } from '../helpers/ports.ts';
import { startPostfixReceiver, startPostfixSender } from '../helpers/postfix.ts';
import { isAlive } from '../helpers/processes.ts';
import { swaksSend } from '../helpers/swaks.ts';
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

test('waits fail with an error naming what they waited for', { timeout: 10_000 }, async () => {
  await assert.rejects(waitFor(() => false, { timeoutMs: 100, what: 'the impossible' }), /timed out after 100 ms waiting for the impossible/);
  await assert.rejects(
    waitFor(() => {
      throw new Error('not there yet');
    }, { timeoutMs: 100, what: 'a file' }),
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
