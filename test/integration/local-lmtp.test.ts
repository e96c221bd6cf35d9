// Local delivery over LMTP (RFC 2033) into a real Dovecot on loopback: [[domain]] delivery on a
// unix socket and on TCP, per-recipient outcomes after DATA (delivered, bounced with a DSN,
// deferred over quota), Dovecot down → deferred, delivered after `queue retry`.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { type SealpostDaemon, startSealpost } from '../helpers/daemon.ts';
import { type Dovecot, startDovecot } from '../helpers/dovecot.ts';
import { swaks, swaksSend } from '../helpers/swaks.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';
import { connectSmtp } from './inbound-smtp.ts';

async function send(daemon: SealpostDaemon, to: readonly string[], subject: string, body?: string): Promise<string> {
  const sent = await swaksSend({ port: daemon.smtpPort, from: 'alice@example.test', to, subject, ...(body ? { body } : {}) });
  assert.equal(sent.code, 0, sent.stdout + sent.stderr);
  const queueId = /queued as (\S+)/.exec(sent.stdout)?.[1];
  assert.ok(queueId, sent.stdout);
  return queueId;
}

function lmtpDomain(delivery: string) {
  return [
    { name: 'example.test', mailboxes: ['alice', 'bob'], aliases: { postmaster: 'alice' } },
    { name: 'lmtp.test', mailboxes: ['dora', 'carol', 'nobody'], delivery },
  ];
}

async function dovecotWith(t: Parameters<typeof startDovecot>[0]): Promise<Dovecot> {
  return startDovecot(t, [{ address: 'dora@lmtp.test' }, { address: 'carol@lmtp.test', quota: '1K' }]);
}

test('LMTP over a unix socket: a Dovecot user gets the mail (read back over IMAP), an unknown user is bounced with a DSN, a Maildir recipient of the same message is delivered', {
  timeout: 90_000,
}, async (t) => {
  const dovecot = await dovecotWith(t);
  const socket = `lmtp:unix:${dovecot.socket}`;
  const daemon = await startSealpost(t, { config: { domain: lmtpDomain(socket) } });
  const queueId = await send(daemon, ['dora@lmtp.test', 'nobody@lmtp.test', 'bob@example.test'], 'over lmtp');

  const delivered = await daemon.waitForLog({ event: 'delivered', queueId, to: 'dora@lmtp.test' }, { timeoutMs: 30_000 });
  assert.match(String(delivered['detail']), new RegExp(`^LMTP server unix:${dovecot.socket}: 250 2\\.0\\.0 <dora@lmtp\\.test> \\S+ Saved`));
  assert.equal(delivered['agent'], 'lmtp', 'the delivery agent (metrics: transport="lmtp")');
  const bounced = await daemon.waitForLog({ event: 'bounced', queueId, to: 'nobody@lmtp.test' });
  assert.equal(bounced['enhanced'], '5.1.1');
  assert.match(String(bounced['reason']), /LMTP server unix:.* refused RCPT TO/);
  assert.equal((bounced['reply'] as { code: number }).code, 550);
  assert.equal((await daemon.waitForLog({ event: 'delivered', queueId, to: 'bob@example.test' }))['agent'], 'maildir');

  const [message] = await waitFor(
    async () => {
      const m = await dovecot.readMaildir('dora@lmtp.test');
      return m.length > 0 && m;
    },
    { timeoutMs: 10_000, what: "the message in dora's Dovecot Maildir" },
  );
  assert.equal(message?.subject, 'over lmtp');
  // Dovecot writes Return-Path itself; we add no trace of our own over LMTP.
  assert.equal(message?.header('Return-Path'), '<alice@example.test>');
  assert.deepEqual(await dovecot.imapSubjects('dora@lmtp.test'), ['over lmtp']);
  assert.deepEqual(
    (await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'bob' })).map((m) => m.subject),
    ['over lmtp'],
  );
  // Sealpost kept no Maildir for the LMTP domain.
  assert.deepEqual(await daemon.readMaildir('lmtp.test', 'dora'), []);

  // The DSN for nobody@ comes back to the sender (a Maildir mailbox here), naming Dovecot's reply.
  const [dsn] = await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'alice', timeoutMs: 30_000 });
  assert.match(dsn?.raw ?? '', /nobody@lmtp\.test/);
  assert.match(dsn?.raw ?? '', /User doesn't exist/);

  assert.match(dsn?.raw ?? '', /LMTP server unix:\S+ refused RCPT TO/);
});

test('LMTP over TCP: one recipient over quota is deferred after DATA (452) while the other of the same message is delivered', {
  timeout: 90_000,
}, async (t) => {
  const dovecot = await dovecotWith(t);
  const daemon = await startSealpost(t, {
    config: { domain: lmtpDomain(`lmtp:[127.0.0.1]:${dovecot.lmtpPort}`), queue: { min_backoff: '1h', max_backoff: '4h' } },
  });
  const queueId = await send(daemon, ['dora@lmtp.test', 'carol@lmtp.test'], 'too big for carol', 'x'.repeat(4000));

  await daemon.waitForLog({ event: 'delivered', queueId, to: 'dora@lmtp.test' }, { timeoutMs: 30_000 });
  const deferred = await daemon.waitForLog({ event: 'deferred', queueId, to: 'carol@lmtp.test' });
  assert.equal(deferred['enhanced'], '4.2.2');
  assert.match(String(deferred['reason']), new RegExp(`LMTP server 127\\.0\\.0\\.1:${dovecot.lmtpPort} refused the message at end of DATA`));
  assert.equal((deferred['reply'] as { code: number }).code, 452);
  assert.equal((await dovecot.readMaildir('dora@lmtp.test')).length, 1);
  assert.deepEqual(await dovecot.readMaildir('carol@lmtp.test'), []);

  const show = await daemon.cli(['queue', 'show', queueId]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /dora@lmtp\.test: delivered.*\n\s+delivered to: LMTP server 127\.0\.0\.1:\d+: 250 2\.0\.0 <dora@lmtp\.test>/);
  assert.match(show.stdout, /carol@lmtp\.test: queued, 1 attempt/);
  assert.match(
    show.stdout,
    /last error: 4\.2\.2 LMTP server 127\.0\.0\.1:\d+ refused the message at end of DATA \(452 4\.2\.2 <carol@lmtp\.test> Quota exceeded/,
  );
});

test('LMTP server down: every recipient deferred (connection refused), delivered once Dovecot is back and the queue is retried', {
  timeout: 90_000,
}, async (t) => {
  const dovecot = await dovecotWith(t);
  await dovecot.stop();
  const daemon = await startSealpost(t, { config: { domain: lmtpDomain(`lmtp:unix:${dovecot.socket}`), queue: { min_backoff: '1h', max_backoff: '4h' } } });
  const queueId = await send(daemon, ['dora@lmtp.test'], 'while dovecot was down');

  const deferred = await daemon.waitForLog({ event: 'deferred', queueId, to: 'dora@lmtp.test' }, { timeoutMs: 30_000 });
  assert.equal(deferred['enhanced'], '4.4.1');
  assert.match(String(deferred['reason']), /cannot connect to LMTP server unix:\S+: (ENOENT|ECONNREFUSED)/);
  const show = await daemon.cli(['queue', 'show', queueId]);
  assert.match(show.stdout, /dora@lmtp\.test: queued, 1 attempt/);
  assert.match(show.stdout, /last error: 4\.4\.1 cannot connect to LMTP server unix:/);

  await dovecot.start();
  const retry = await daemon.cli(['queue', 'retry', '--all']);
  assert.equal(retry.code, 0, retry.stderr);
  await daemon.waitForLog({ event: 'delivered', queueId, to: 'dora@lmtp.test' }, { timeoutMs: 30_000 });
  assert.deepEqual(await dovecot.imapSubjects('dora@lmtp.test'), ['while dovecot was down']);
});

test('LMTP with a large (spooled) message: the body streams from the spool file, dot-stuffed, and arrives byte for byte', { timeout: 120_000 }, async (t) => {
  const dovecot = await dovecotWith(t);
  const daemon = await startSealpost(t, { config: { domain: lmtpDomain(`lmtp:unix:${dovecot.socket}`) } });
  // 3 MiB (above the 1 MiB spool threshold), with lines that start with dots (RFC 5321 §4.5.2).
  const lines: string[] = [];
  for (let i = 0, size = 0; size < 3 * 1024 * 1024; i++) {
    const line = i % 7 === 0 ? `.${i} a line with a leading dot` : `line ${i} ${'y'.repeat(60)}`;
    lines.push(line);
    size += line.length + 2;
  }
  // swaks ends DATA with CRLF . CRLF after the file: the file lacks the last CRLF.
  const body = `${lines.join('\r\n')}\r\n`;
  const file = path.join(await tempDir(t), 'big.eml');
  await writeFile(file, `From: alice@example.test\r\nTo: dora@lmtp.test\r\nSubject: big over lmtp\r\n\r\n${body.slice(0, -2)}`);
  const sent = await swaks(['--server', `127.0.0.1:${daemon.smtpPort}`, '--from', 'alice@example.test', '--to', 'dora@lmtp.test', '--data', file], {
    timeoutMs: 60_000,
  });
  assert.equal(sent.code, 0, sent.stdout.slice(-2000) + sent.stderr);
  assert.equal((await daemon.waitForLog({ event: 'received' }))['spooled'], true, 'the body went to the spool');
  await daemon.waitForLog({ event: 'delivered', to: 'dora@lmtp.test' }, { timeoutMs: 60_000 });
  const [message] = await dovecot.readMaildir('dora@lmtp.test');
  assert.equal(message?.subject, 'big over lmtp');
  // Dovecot stores LF line ends; the body must be the one sent, dots unstuffed.
  const stored = message?.raw.slice(message.raw.indexOf('\n\n') + 2) ?? '';
  const want = body.replaceAll('\r\n', '\n');
  let at = 0;
  while (at < want.length && stored[at] === want[at]) at++;
  assert.equal(
    at,
    want.length,
    `first difference at ${at}: ${JSON.stringify(stored.slice(at - 40, at + 40))} vs ${JSON.stringify(want.slice(at - 40, at + 40))}`,
  );
  assert.equal(stored.length, want.length);
});

test('LMTP connection reuse and [local] lmtp_concurrency = 1: four messages in a row go over one Dovecot connection (one LHLO, RSET between), one at a time', {
  timeout: 90_000,
}, async (t) => {
  const dovecot = await dovecotWith(t);
  const daemon = await startSealpost(t, { config: { domain: lmtpDomain(`lmtp:[127.0.0.1]:${dovecot.lmtpPort}`), local: { lmtp_concurrency: 1 } } });
  const subjects = ['reuse 1', 'reuse 2', 'reuse 3', 'reuse 4'];
  // Four messages back to back in one SMTP session: they reach the LMTP courier within
  // milliseconds of each other, well inside the 2 s a kept connection waits.
  const smtp = await connectSmtp(daemon.smtpPort);
  t.after(() => smtp.destroy());
  assert.equal((await smtp.reply()).code, 220);
  assert.equal((await smtp.command('EHLO client.example.test')).code, 250);
  const ids: string[] = [];
  for (const subject of subjects) {
    assert.equal((await smtp.command('MAIL FROM:<alice@example.test>')).code, 250);
    assert.equal((await smtp.command('RCPT TO:<dora@lmtp.test>')).code, 250);
    assert.equal((await smtp.command('DATA')).code, 354);
    const done = await smtp.command(`From: alice@example.test\r\nTo: dora@lmtp.test\r\nSubject: ${subject}\r\n\r\nhello\r\n.`);
    assert.equal(done.code, 250, done.text);
    const id = /queued as (\S+)/.exec(done.text)?.[1];
    assert.ok(id, done.text);
    ids.push(id);
  }
  await smtp.command('QUIT');
  for (const queueId of ids) await daemon.waitForLog({ event: 'delivered', queueId, to: 'dora@lmtp.test' }, { timeoutMs: 30_000 });
  assert.deepEqual((await dovecot.imapSubjects('dora@lmtp.test')).sort(), subjects);
  // Dovecot logs each LMTP connection it accepts ("Connect from 127.0.0.1"); the helper's port
  // probe is one that closes before LHLO ("state=GREETING").
  const log = (await dovecot.log()).split('\n');
  const connects = log.filter((l) => /lmtp\(\d+\): Info: Connect from/.test(l)).length;
  const probes = log.filter((l) => /lmtp\(\d+\): Info: Disconnect from .*state=GREETING/.test(l)).length;
  assert.equal(connects - probes, 1, `one LMTP connection for four messages:\n${log.join('\n').slice(-3000)}`);
});
