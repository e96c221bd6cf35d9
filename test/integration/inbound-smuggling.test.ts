// SMTP smuggling and STARTTLS command injection, with a raw client that writes exactly the bytes
// an attacker would: "<LF>.<LF>" (and its bare-CR cousins) never ends DATA, bare line ends are
// normalized to CRLF (or refused in "reject" mode), and commands pipelined behind STARTTLS in the
// same packet are discarded rather than run after the handshake.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startSealpost } from '../helpers/daemon.ts';
import { waitFor } from '../helpers/wait.ts';
import { connectSmtp, queueList, type RawSmtp } from './inbound-smtp.ts';

const SMUGGLED = 'MAIL FROM:<evil@x>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n';

/** Line-end tricks that some server once took for the end of DATA. */
const VARIANTS: [string, string][] = [
  ['LF.LF', '\n.\n'],
  ['LF.CRLF', '\n.\r\n'],
  ['CRLF.LF', '\r\n.\n'],
  ['CR.CRLF', '\r.\r\n'],
  ['CRLF.CR', '\r\n.\r'],
];

async function ready(port: number): Promise<RawSmtp> {
  const smtp = await connectSmtp(port);
  assert.equal((await smtp.reply()).code, 220);
  assert.equal((await smtp.command('EHLO smuggler.test')).code, 250);
  return smtp;
}

/** Sends one message whose body hides a second transaction behind `trick` (the replies are the caller's to read). */
async function smuggle(smtp: RawSmtp, name: string, trick: string): Promise<void> {
  assert.equal((await smtp.command('MAIL FROM:<carol@remote.test>')).code, 250);
  assert.equal((await smtp.command('RCPT TO:<alice@example.test>')).code, 250);
  assert.equal((await smtp.command('DATA')).code, 354);
  smtp.write(`Subject: smuggle ${name}\r\n\r\nbefore${trick}${SMUGGLED}.\r\n`);
}

test('"<LF>.<LF>" and friends never end DATA; bare line ends are normalized to CRLF', { timeout: 60_000 }, async (t) => {
  const daemon = await startSealpost(t);
  for (const [name, trick] of VARIANTS) {
    const smtp = await ready(daemon.smtpPort);
    try {
      await smuggle(smtp, name, trick);
      // Exactly one reply for the whole thing: the real end of data.
      const end = await smtp.reply();
      assert.equal(end.code, 250, `${name}: ${end.text}`);
      assert.match(end.text, /queued as/);
      const noop = await smtp.command('NOOP');
      assert.equal(noop.code, 250, `${name}: the reply after the message is NOOP's, not a smuggled command's: ${noop.text}`);
      assert.equal(smtp.pending(), '', `${name}: no further replies`);
      // The session is in its initial state: no transaction was opened by the smuggled MAIL.
      assert.equal((await smtp.command('RCPT TO:<bob@example.test>')).code, 503);
    } finally {
      smtp.destroy();
    }
  }

  const alice = await daemon.waitForMail(VARIANTS.length, { domain: 'example.test', mailbox: 'alice' });
  assert.equal(alice.length, VARIANTS.length);
  await waitFor(async () => (await queueList(daemon)).length === 0, { timeoutMs: 10_000, what: 'an empty queue' });
  assert.deepEqual(await daemon.readMaildir('example.test', 'bob'), [], 'bob got nothing');
  assert.equal(daemon.findLogs({ event: 'received' }).length, VARIANTS.length);
  assert.equal(daemon.findLogs((r) => r.event === 'received' && r['from'] === 'evil@x').length, 0);
  for (const message of alice) {
    // The smuggled commands are body text of the one message, every line end now CRLF.
    assert.match(
      message.raw,
      /\r\n\r\nbefore\r\n(\r\n)?\.\r\n(\r\n)?MAIL FROM:<evil@x>\r\nRCPT TO:<bob@example\.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled\r\n$/,
      JSON.stringify(message.raw.slice(-160)),
    );
    assert.doesNotMatch(message.raw, /[^\r]\n|\r[^\n]/, `no bare LF or CR in ${message.subject}`);
  }
});

test('bare_newline = "reject": a message with a bare LF is refused with 550 5.6.0', { timeout: 30_000 }, async (t) => {
  const daemon = await startSealpost(t, { config: { inbound: { bare_newline: 'reject' } } });
  const smtp = await ready(daemon.smtpPort);
  try {
    await smuggle(smtp, 'LF.LF', '\n.\n');
    const end = await smtp.reply();
    assert.equal(end.code, 550, end.text);
    assert.match(end.text, /^5\.6\.0 /);
    assert.equal((await smtp.command('NOOP')).code, 250);
    assert.equal(smtp.pending(), '');
    // A clean message on the same connection is accepted.
    assert.equal((await smtp.command('MAIL FROM:<carol@remote.test>')).code, 250);
    assert.equal((await smtp.command('RCPT TO:<alice@example.test>')).code, 250);
    assert.equal((await smtp.command('DATA')).code, 354);
    smtp.write('Subject: clean\r\n\r\nclean\r\n.\r\n');
    assert.equal((await smtp.reply()).code, 250);
  } finally {
    smtp.destroy();
  }
  const [only, ...rest] = await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'alice' });
  assert.equal(only?.subject, 'clean');
  assert.deepEqual(rest, []);
  assert.deepEqual(await daemon.readMaildir('example.test', 'bob'), []);
});

test('commands pipelined behind STARTTLS in the same packet are discarded', { timeout: 30_000 }, async (t) => {
  const daemon = await startSealpost(t);
  const smtp = await ready(daemon.smtpPort);
  try {
    smtp.write('STARTTLS\r\nRSET\r\nMAIL FROM:<x@y>\r\n');
    const go = await smtp.reply();
    assert.equal(go.code, 220, go.text);
    assert.equal(smtp.pending(), '', 'no plaintext reply to the injected commands');
    const secure = await smtp.upgrade({ servername: 'mx.sealpost.test' });
    assert.ok(secure.encrypted);
    // The first reply over TLS is EHLO's: RSET and MAIL got none, before or after the handshake.
    const ehlo = await smtp.command('EHLO smuggler.test');
    assert.equal(ehlo.code, 250);
    assert.match(ehlo.lines[0] ?? '', /^250-mx\.sealpost\.test/);
    // No MAIL FROM:<x@y> transaction survived: RCPT is out of sequence.
    const rcpt = await smtp.command('RCPT TO:<alice@example.test>');
    assert.equal(rcpt.code, 503, rcpt.text);
    assert.match(rcpt.text, /^5\.5\.1 /);
    // The session itself works.
    assert.equal((await smtp.command('MAIL FROM:<carol@remote.test>')).code, 250);
    assert.equal((await smtp.command('RCPT TO:<alice@example.test>')).code, 250);
    assert.equal((await smtp.command('QUIT')).code, 221);
  } finally {
    smtp.destroy();
  }
  assert.equal(daemon.findLogs((r) => r.event === 'rejected' && r['from'] === 'x@y').length, 0);
});

test('text after the MAIL FROM / RCPT TO path: 501 5.5.4, unknown parameters 555 5.5.4; nothing is delivered to the smuggled address', {
  timeout: 30_000,
}, async (t) => {
  const daemon = await startSealpost(t);
  const smtp = await ready(daemon.smtpPort);
  try {
    const refused: [string, number][] = [
      ['MAIL FROM:<carol@remote.test> <mallory@remote.test>', 501],
      ['MAIL FROM:<carol@remote.test> FOO=bar', 555],
      ['MAIL FROM:<carol@remote.test> AUTH=<>', 555],
    ];
    for (const [line, code] of refused) {
      const answer = await smtp.command(line);
      assert.equal(answer.code, code, `${line}: ${answer.text}`);
      assert.match(answer.text, /^5\.5\.4 /, line);
    }
    assert.equal((await smtp.command('MAIL FROM:<carol@remote.test> SIZE=100 BODY=8BITMIME SMTPUTF8')).code, 250);
    for (const [line, code] of [
      ['RCPT TO:<alice@example.test> <bob@example.test>', 501],
      ['RCPT TO:<alice@example.test> NOTIFY=NEVER', 555],
    ] as const) {
      const answer = await smtp.command(line);
      assert.equal(answer.code, code, `${line}: ${answer.text}`);
      assert.match(answer.text, /^5\.5\.4 /, line);
    }
    assert.equal((await smtp.command('RCPT TO:<alice@example.test>')).code, 250);
    assert.equal((await smtp.command('DATA')).code, 354);
    smtp.write('Subject: params\r\n\r\nhello\r\n.\r\n');
    assert.equal((await smtp.reply()).code, 250);
  } finally {
    smtp.destroy();
  }
  const alice = await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'alice' });
  assert.equal(alice[0]?.subject, 'params');
  await waitFor(async () => (await queueList(daemon)).length === 0, { timeoutMs: 10_000, what: 'an empty queue' });
  assert.deepEqual(await daemon.readMaildir('example.test', 'bob'), [], 'bob got nothing');
});
