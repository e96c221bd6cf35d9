// The MX listener's limits, with a raw SMTP client: message size (SIZE= at MAIL FROM and a real
// oversize DATA → 552), recipients per message (452 4.5.3), connections per client IP and in total
// (421), too many errors (421 and close), the command timeout (an idle client is disconnected).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startSealpost } from '../helpers/daemon.ts';
import { waitFor } from '../helpers/wait.ts';
import { connectSmtp, queueList, type RawSmtp } from './inbound-smtp.ts';

async function greeted(port: number, localAddress?: string): Promise<RawSmtp> {
  const smtp = await connectSmtp(port, localAddress ? { localAddress } : {});
  const greeting = await smtp.reply();
  assert.equal(greeting.code, 220, greeting.text);
  assert.equal((await smtp.command('EHLO limits.client.test')).code, 250);
  return smtp;
}

test('size, recipients and error limits', { timeout: 60_000 }, async (t) => {
  const daemon = await startSealpost(t, { config: { limits: { message_size: 10_000, recipients: 3, errors: 3 } } });
  const port = daemon.smtpPort;

  await t.test('SIZE= above the limit at MAIL FROM → 552', async () => {
    const smtp = await greeted(port);
    try {
      const ehlo = await smtp.command('EHLO limits.client.test');
      assert.match(ehlo.text, /^SIZE 10000$/m);
      const mail = await smtp.command('MAIL FROM:<carol@remote.test> SIZE=10001');
      assert.equal(mail.code, 552, mail.text);
      assert.match(mail.text, /^5\.3\.4 /);
      // At the limit is fine.
      assert.equal((await smtp.command('MAIL FROM:<carol@remote.test> SIZE=10000')).code, 250);
    } finally {
      smtp.destroy();
    }
  });

  await t.test('an oversize message in DATA → 552, nothing queued, the session goes on', async () => {
    const smtp = await greeted(port);
    try {
      assert.equal((await smtp.command('MAIL FROM:<carol@remote.test>')).code, 250);
      assert.equal((await smtp.command('RCPT TO:<alice@example.test>')).code, 250);
      assert.equal((await smtp.command('DATA')).code, 354);
      smtp.write(`Subject: too big\r\n\r\n${'x'.repeat(76).concat('\r\n').repeat(200)}.\r\n`);
      const end = await smtp.reply();
      assert.equal(end.code, 552, end.text);
      assert.match(end.text, /^5\.3\.4 /);
      // The next transaction on the same connection is accepted.
      assert.equal((await smtp.command('MAIL FROM:<carol@remote.test>')).code, 250);
      assert.equal((await smtp.command('RCPT TO:<alice@example.test>')).code, 250);
      assert.equal((await smtp.command('DATA')).code, 354);
      smtp.write('Subject: small enough\r\n\r\nok\r\n.\r\n');
      assert.equal((await smtp.reply()).code, 250);
    } finally {
      smtp.destroy();
    }
    const delivered = await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'alice' });
    assert.deepEqual(
      delivered.map((m) => m.subject),
      ['small enough'],
    );
    assert.equal(daemon.findLogs((r) => r.event === 'received' && r['subject'] === 'too big').length, 0);
  });

  await t.test('too many recipients → 452 4.5.3; the accepted ones get the message', async () => {
    const smtp = await greeted(port);
    try {
      assert.equal((await smtp.command('MAIL FROM:<carol@remote.test>')).code, 250);
      for (const rcpt of ['alice@example.test', 'bob@example.test', 'postmaster@example.test'])
        assert.equal((await smtp.command(`RCPT TO:<${rcpt}>`)).code, 250);
      const fourth = await smtp.command('RCPT TO:<bob@example.test>');
      assert.equal(fourth.code, 452, fourth.text);
      assert.match(fourth.text, /^4\.5\.3 /);
      assert.equal((await smtp.command('DATA')).code, 354);
      smtp.write('Subject: three recipients\r\n\r\nhi\r\n.\r\n');
      assert.equal((await smtp.reply()).code, 250);
    } finally {
      smtp.destroy();
    }
    const received = await daemon.waitForLog((r) => r.event === 'received' && r['subject'] === 'three recipients');
    assert.deepEqual(received['to'], ['alice@example.test', 'bob@example.test', 'postmaster@example.test']);
  });

  await t.test('too many errors → the error reply, then 421, and the connection is closed', async () => {
    const smtp = await greeted(port);
    try {
      assert.equal((await smtp.command('MAIL FROM:<carol@remote.test>')).code, 250);
      assert.equal((await smtp.command('RCPT TO:<nobody1@example.test>')).code, 550);
      assert.equal((await smtp.command('RCPT TO:<nobody2@example.test>')).code, 550);
      const third = await smtp.command('RCPT TO:<nobody3@example.test>');
      assert.equal(third.code, 550, third.text);
      const bye = await smtp.reply();
      assert.equal(bye.code, 421, bye.text);
      assert.match(bye.text, /^4\.7\.0 mx\.sealpost\.test Error: too many errors$/);
      await smtp.closed();
    } finally {
      smtp.destroy();
    }
    const session = await daemon.waitForLog((r) => r.event === 'session' && r['rejections'] === 3);
    assert.equal(session['messages'], 0);
  });

  await t.test("smtp-server's own errors (unknown command, bad syntax, bad sequence) count too", async () => {
    const smtp = await greeted(port);
    try {
      assert.equal((await smtp.command('FOO')).code, 500);
      assert.equal((await smtp.command('MAIL FROM:<no-at-sign>')).code, 501);
      assert.equal((await smtp.command('DATA')).code, 503);
      assert.equal((await smtp.reply()).code, 421);
      await smtp.closed();
    } finally {
      smtp.destroy();
    }
  });

  await t.test('452 for too many recipients is not an error: a client may send far more recipients than allowed', async () => {
    const smtp = await greeted(port);
    try {
      assert.equal((await smtp.command('MAIL FROM:<carol@remote.test>')).code, 250);
      for (const rcpt of ['alice@example.test', 'bob@example.test', 'postmaster@example.test'])
        assert.equal((await smtp.command(`RCPT TO:<${rcpt}>`)).code, 250);
      for (let i = 0; i < 5; i++) assert.equal((await smtp.command(`RCPT TO:<extra${i}@example.test>`)).code, 452);
      assert.equal((await smtp.command('RSET')).code, 250);
    } finally {
      smtp.destroy();
    }
  });

  // Everything accepted was delivered; nothing else is left in the queue.
  await waitFor(async () => (await queueList(daemon)).length === 0, { timeoutMs: 10_000, what: 'an empty queue' });
  assert.equal((await daemon.readMaildir('example.test', 'bob')).length, 1);
});

test('connections per client IP and in total → 421', { timeout: 60_000 }, async (t) => {
  const daemon = await startSealpost(t, { config: { limits: { connections: 3, connections_per_ip: 2 } } });
  const port = daemon.smtpPort;
  const open: RawSmtp[] = [];
  t.after(() => {
    for (const c of open) c.destroy();
  });
  open.push(await greeted(port), await greeted(port));

  // A third from 127.0.0.1: refused at once.
  const third = await connectSmtp(port);
  open.push(third);
  const refused = await third.reply();
  assert.equal(refused.code, 421, refused.text);
  assert.match(refused.text, /Too many connections from your address/);
  await third.closed();

  // Another address still gets in, up to the total.
  open.push(await greeted(port, '127.0.0.2'));
  const overTotal = await connectSmtp(port, { localAddress: '127.0.0.3' });
  open.push(overTotal);
  const full = await overTotal.reply();
  assert.equal(full.code, 421, full.text);
  await overTotal.closed();

  // Once one of 127.0.0.1's sessions ends, 127.0.0.1 may connect again.
  const first = open[0]!;
  assert.equal((await first.command('QUIT')).code, 221);
  await first.closed();
  await daemon.waitForLog((r) => r.event === 'session' && r['clientIp'] === '127.0.0.1' && r['messages'] === 0 && r['error'] === undefined);
  const again = await greeted(port);
  open.push(again);
  assert.equal((await again.command('NOOP')).code, 250);
});

test('DATA timeout: a client that stalls inside DATA is disconnected, nothing is queued', { timeout: 30_000 }, async (t) => {
  const daemon = await startSealpost(t, { config: { limits: { command_timeout_s: 1 } } });
  const smtp = await greeted(daemon.smtpPort);
  try {
    assert.equal((await smtp.command('MAIL FROM:<carol@remote.test>')).code, 250);
    assert.equal((await smtp.command('RCPT TO:<alice@example.test>')).code, 250);
    assert.equal((await smtp.command('DATA')).code, 354);
    smtp.write('Subject: stalled\r\n\r\nhalf a message\r\n');
    const timeout = await smtp.reply(5_000);
    assert.equal(timeout.code, 421, timeout.text);
    await smtp.closed(5_000);
  } finally {
    smtp.destroy();
  }
  await daemon.waitForLog({ event: 'session', messages: 0 });
  assert.deepEqual(await queueList(daemon), []);
  assert.equal(daemon.findLogs({ event: 'received' }).length, 0);
});

test('command timeout: an idle client is disconnected with 421', { timeout: 30_000 }, async (t) => {
  const daemon = await startSealpost(t, { config: { limits: { command_timeout_s: 1 } } });
  const smtp = await greeted(daemon.smtpPort);
  try {
    const started = Date.now();
    // Say nothing: the server speaks first, then closes.
    const timeout = await smtp.reply(5_000);
    assert.equal(timeout.code, 421, timeout.text);
    assert.match(timeout.text, /Timeout/i);
    await smtp.closed(5_000);
    const idle = Date.now() - started;
    assert.ok(idle >= 900 && idle < 6_000, `closed after ${idle} ms of silence`);
  } finally {
    smtp.destroy();
  }
});
