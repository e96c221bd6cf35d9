// Third-party clients deliver into Sealpost's MX listener: swaks in plaintext and with STARTTLS,
// Python's smtplib with STARTTLS, mail to an alias (postmaster). Asserts on the Maildir files
// (Received, Return-Path, Delivered-To) and on the EHLO reply. Runs the real daemon under netless.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { type SealpostDaemon, startSealpost } from '../helpers/daemon.ts';
import { headerValues } from '../helpers/maildir.ts';
import { run } from '../helpers/proc.ts';
import { swaksSend } from '../helpers/swaks.ts';
import { connectSmtp, suiteScope } from './inbound-smtp.ts';

describe('inbound: third-party clients', () => {
  const scope = suiteScope();
  let daemon: SealpostDaemon;
  before(async () => {
    daemon = await startSealpost(scope);
  });

  /** The one message in alice's Maildir with this Subject, and the queue id it was received under. */
  async function delivered(mailbox: string, subject: string) {
    const received = await daemon.waitForLog((r) => r.event === 'received' && r['subject'] === subject);
    const queueId = String(received['queueId']);
    await daemon.waitForLog({ event: 'delivered', queueId });
    const messages = (await daemon.readMaildir('example.test', mailbox)).filter((m) => m.subject === subject);
    assert.equal(messages.length, 1, `one message "${subject}" in ${mailbox}'s Maildir`);
    return { message: messages[0]!, queueId };
  }

  test('EHLO advertises PIPELINING, SIZE, 8BITMIME, SMTPUTF8, ENHANCEDSTATUSCODES, STARTTLS and no AUTH', { timeout: 20_000 }, async () => {
    const smtp = await connectSmtp(daemon.smtpPort);
    try {
      const greeting = await smtp.reply();
      assert.equal(greeting.code, 220);
      assert.match(greeting.text, /^mx\.sealpost\.test /);
      const ehlo = await smtp.command('EHLO probe.client.test');
      assert.equal(ehlo.code, 250);
      const keywords = ehlo.lines.slice(1).map((l) => l.slice(4).split(' ')[0]);
      for (const k of ['PIPELINING', 'SIZE', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'STARTTLS'])
        assert.ok(keywords.includes(k), `${k} in ${ehlo.text}`);
      assert.ok(!keywords.includes('AUTH'), `no AUTH on the MX port: ${ehlo.text}`);
      // SIZE names the configured limit (the test default: the schema's 50 MiB).
      assert.match(ehlo.text, /^SIZE \d+$/m);

      assert.equal((await smtp.command('STARTTLS')).code, 220);
      const secure = await smtp.upgrade({ servername: 'mx.sealpost.test' });
      assert.equal(secure.getProtocol(), 'TLSv1.3');
      const again = await smtp.command('EHLO probe.client.test');
      const after = again.lines.slice(1).map((l) => l.slice(4).split(' ')[0]);
      assert.ok(!after.includes('STARTTLS'), `no STARTTLS once secure: ${again.text}`);
      assert.ok(!after.includes('AUTH'), `no AUTH on the MX port, even over TLS: ${again.text}`);
      assert.equal((await smtp.command('QUIT')).code, 221);
    } finally {
      smtp.destroy();
    }
  });

  test('swaks in plaintext: delivered with Received (ESMTP), Return-Path and Delivered-To', { timeout: 30_000 }, async () => {
    const subject = 'swaks plaintext';
    const sent = await swaksSend({ port: daemon.smtpPort, from: 'carol@remote.test', to: ['alice@example.test'], subject, body: 'hello in plaintext' });
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    assert.match(sent.stdout, /<- {2}250 2\.0\.0 Ok: queued as \S+/);
    const { message, queueId } = await delivered('alice', subject);
    assert.equal(message.header('return-path'), '<carol@remote.test>');
    assert.equal(message.header('delivered-to'), 'alice@example.test');
    const [received] = headerValues(message.raw, 'received');
    assert.match(
      received ?? '',
      new RegExp(
        `^from client\\.swaks\\.test \\(unknown \\[127\\.0\\.0\\.1\\]\\) by mx\\.sealpost\\.test \\(Sealpost\\) with ESMTP id ${queueId} for <alice@example\\.test>; \\S`,
      ),
    );
    assert.doesNotMatch(received ?? '', /using TLS/);
    assert.match(message.raw, /\r\n\r\nhello in plaintext\r\n/);
  });

  test('swaks with STARTTLS: Received says ESMTPS with the TLS version and cipher', { timeout: 30_000 }, async () => {
    const subject = 'swaks starttls';
    const sent = await swaksSend({ port: daemon.smtpPort, from: 'carol@remote.test', to: ['alice@example.test'], subject, tls: 'require' });
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    assert.match(sent.stdout, /TLS started with cipher TLSv1\.3/);
    const { message, queueId } = await delivered('alice', subject);
    const [received] = headerValues(message.raw, 'received');
    assert.match(
      received ?? '',
      new RegExp(
        `^from client\\.swaks\\.test \\(unknown \\[127\\.0\\.0\\.1\\]\\) by mx\\.sealpost\\.test \\(Sealpost\\) with ESMTPS id ${queueId} ` +
          `\\(using TLSv1\\.3 with cipher TLS_AES_256_GCM_SHA384 \\(256/256 bits\\)\\) for <alice@example\\.test>; `,
      ),
    );
    assert.equal(message.header('return-path'), '<carol@remote.test>');
    assert.equal(message.header('delivered-to'), 'alice@example.test');
    // The session record tells the TLS facts too.
    const session = await daemon.waitForLog((r) => r.event === 'session' && r['helo'] === 'client.swaks.test' && r['tls'] !== null);
    assert.equal((session['tls'] as { version: string }).version, 'TLSv1.3');
  });

  test('a message for two recipients names neither in Received', { timeout: 30_000 }, async () => {
    const subject = 'two recipients';
    const sent = await swaksSend({ port: daemon.smtpPort, from: 'carol@remote.test', to: ['alice@example.test', 'bob@example.test'], subject, tls: 'require' });
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    const { message } = await delivered('bob', subject);
    const [received] = headerValues(message.raw, 'received');
    assert.doesNotMatch(received ?? '', /\bfor </);
    assert.equal(message.header('delivered-to'), 'bob@example.test');
    await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'alice' });
  });

  test("Python's smtplib with STARTTLS delivers (send_message)", { timeout: 30_000 }, async () => {
    const subject = 'python smtplib';
    const script = `
import smtplib, ssl, sys
from email.message import EmailMessage
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
msg = EmailMessage()
msg["From"] = "dave@remote.test"
msg["To"] = "bob@example.test"
msg["Subject"] = sys.argv[2]
msg["Message-ID"] = "<python-1@remote.test>"
msg.set_content("hello from python\\n")
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="py.client.test", timeout=15) as s:
    s.starttls(context=ctx)
    s.send_message(msg)
    print(s.sock.version(), s.sock.cipher()[0])
`;
    const result = await run('python3', ['-c', script, String(daemon.smtpPort), subject], { timeoutMs: 20_000 });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^TLSv1\.3 TLS_AES_256_GCM_SHA384/);
    const { message, queueId } = await delivered('bob', subject);
    assert.equal(message.header('message-id'), '<python-1@remote.test>');
    assert.equal(message.header('delivered-to'), 'bob@example.test');
    assert.equal(message.header('return-path'), '<dave@remote.test>');
    const [received] = headerValues(message.raw, 'received');
    assert.match(
      received ?? '',
      new RegExp(
        `^from py\\.client\\.test \\(unknown \\[127\\.0\\.0\\.1\\]\\) by mx\\.sealpost\\.test \\(Sealpost\\) with ESMTPS id ${queueId} \\(using TLSv1\\.3 `,
      ),
    );
    assert.match(received ?? '', / for <bob@example\.test>; /);
    // The accepted-message record carries what mailparser found.
    const record = await daemon.waitForLog({ event: 'received', queueId });
    assert.equal(record['messageId'], '<python-1@remote.test>');
    assert.deepEqual(record['to'], ['bob@example.test']);
  });

  test('mail to postmaster arrives in alice’s Maildir', { timeout: 30_000 }, async () => {
    const subject = 'for the postmaster';
    const sent = await swaksSend({ port: daemon.smtpPort, from: 'carol@remote.test', to: ['postmaster@example.test'], subject, tls: 'require' });
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    const { message } = await delivered('alice', subject);
    assert.equal(message.header('delivered-to'), 'alice@example.test');
    const [received] = headerValues(message.raw, 'received');
    // The envelope recipient as the client gave it.
    assert.match(received ?? '', / for <postmaster@example\.test>; /);
  });

  test('RCPT TO:<Postmaster> without a domain (RFC 5321 §4.1.1.3) reaches the postmaster', { timeout: 30_000 }, async () => {
    const smtp = await connectSmtp(daemon.smtpPort);
    try {
      await smtp.reply();
      assert.equal((await smtp.command('EHLO probe.client.test')).code, 250);
      assert.equal((await smtp.command('MAIL FROM:<carol@remote.test>')).code, 250);
      const rcpt = await smtp.command('RCPT TO:<Postmaster>');
      assert.equal(rcpt.code, 250, rcpt.text);
      assert.equal((await smtp.command('DATA')).code, 354);
      smtp.write('Subject: bare postmaster\r\n\r\nhi\r\n.\r\n');
      assert.equal((await smtp.reply()).code, 250);
    } finally {
      smtp.destroy();
    }
    const { message } = await delivered('alice', 'bare postmaster');
    assert.equal(message.header('delivered-to'), 'alice@example.test');
  });
});
