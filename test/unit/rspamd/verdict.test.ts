import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseReply, type RspamdReply, requestHeaders, type ScanResult } from '../../../src/rspamd/client.ts';
import { decide, scanLabel, spamHeaders } from '../../../src/rspamd/verdict.ts';

const reply = (action: string, extra: Partial<RspamdReply> = {}): ScanResult => ({
  ok: true,
  ms: 5,
  reply: { action, score: 7.5, requiredScore: 15, symbols: [{ name: 'BAYES_SPAM', score: 5.1, options: ['99.0%'] }], addHeaders: [], ...extra },
});
const failed: ScanResult = { ok: false, error: 'connect ECONNREFUSED 127.0.0.1:11333', ms: 1 };

test('each action, in each direction, becomes a reply or a delivery', () => {
  const table: [ScanResult, 'tempfail' | 'accept', 'inbound' | 'outbound', string][] = [
    [reply('reject', { smtpMessage: 'Spam\r\nmessage rejected' }), 'tempfail', 'inbound', 'refuse 550 5.7.1 Spam message rejected'],
    [reply('reject'), 'tempfail', 'outbound', 'refuse 550 5.7.1 Spam message rejected'],
    [reply('soft reject'), 'tempfail', 'inbound', 'refuse 451 4.7.1 Try again later'],
    [reply('greylist', { smtpMessage: 'Try again later (greylisted)' }), 'accept', 'inbound', 'refuse 451 4.7.1 Try again later (greylisted)'],
    [reply('add header'), 'tempfail', 'inbound', 'deliver junk'],
    [reply('rewrite subject'), 'tempfail', 'inbound', 'deliver junk'],
    [reply('rewrite subject', { subject: '*** SPAM *** hi' }), 'tempfail', 'inbound', 'deliver junk subject "*** SPAM *** hi"'],
    [reply('rewrite subject', { subject: '*** SPAM *** hi' }), 'tempfail', 'outbound', 'deliver'],
    [reply('add header', { subject: 'ignored' }), 'tempfail', 'inbound', 'deliver junk'],
    [reply('add header'), 'tempfail', 'outbound', 'deliver'],
    [reply('no action'), 'tempfail', 'inbound', 'deliver'],
    [failed, 'tempfail', 'inbound', 'refuse 451 4.7.0 Content check unavailable, try again later'],
    [failed, 'accept', 'inbound', 'deliver'],
  ];
  for (const [result, fail, direction, expected] of table) {
    const d = decide(result, fail, direction);
    const got =
      d.kind === 'refuse'
        ? `refuse ${d.code} ${d.enhanced} ${d.text}`
        : `deliver${d.junk ? ' junk' : ''}${d.subject !== undefined ? ` subject "${d.subject}"` : ''}`;
    assert.equal(got, expected, `${scanLabel(result)} ${fail} ${direction}`);
  }
});

test('the fields put in front: X-Spam first, then the score and symbols, or milter_headers fields', () => {
  const r = (reply('add header') as Extract<ScanResult, { ok: true }>).reply;
  assert.equal(
    spamHeaders(r, true),
    'X-Spam: Yes\r\nX-Spam-Score: 7.50 / 15.00\r\nX-Spamd-Result: default: True [7.50 / 15.00];\r\n\tBAYES_SPAM(5.10)[99.0%]\r\n',
  );
  assert.equal(spamHeaders(r, false), 'X-Spam: No\r\n');
  const milter = {
    ...r,
    addHeaders: [
      { name: 'X-Spam', value: 'forged' },
      { name: 'X-Rspamd-Score', value: '7.5\n\tmore\r\ninjected: x' },
      { name: 'Bad:Name', value: 'x' },
    ],
  };
  assert.equal(spamHeaders(milter, true), 'X-Spam: Yes\r\nX-Rspamd-Score: 7.5\r\n\tmore\r\n\tinjected: x\r\n');
});

test("rspamd's JSON reply is read; anything else is an error", () => {
  const parsed = parseReply(
    JSON.stringify({
      action: 'add header',
      score: 6,
      required_score: 15,
      symbols: { GTUBE: { name: 'GTUBE', score: 0 }, R_SPF_FAIL: { name: 'R_SPF_FAIL', score: 1, options: ['-all'] } },
      messages: { smtp_message: 'Gtube pattern' },
      milter: { add_headers: { 'X-Spam-Status': { value: 'Yes, score=6', order: 0 }, 'X-Other': ['a', { value: 'b' }] } },
    }),
  );
  assert.ok(typeof parsed !== 'string');
  assert.equal(parsed.action, 'add header');
  assert.deepEqual(
    parsed.symbols.map((s) => s.name),
    ['R_SPF_FAIL', 'GTUBE'],
  );
  assert.equal(parsed.smtpMessage, 'Gtube pattern');
  assert.deepEqual(parsed.addHeaders, [
    { name: 'X-Spam-Status', value: 'Yes, score=6' },
    { name: 'X-Other', value: 'a' },
    { name: 'X-Other', value: 'b' },
  ]);
  assert.equal(parsed.subject, undefined);
  const rewritten = parseReply(JSON.stringify({ action: 'rewrite subject', score: 8, required_score: 15, subject: '*** SPAM *** Grüße' }));
  assert.ok(typeof rewritten !== 'string');
  assert.equal(rewritten.subject, '*** SPAM *** Grüße');
  assert.equal(typeof parseReply('<html>'), 'string');
  assert.equal(typeof parseReply('{"error":"bad request"}'), 'string');
  assert.equal(typeof parseReply('{"score":1}'), 'string');
});

test('request headers carry the envelope and client facts, without line breaks', () => {
  const h = requestHeaders({
    prepend: '',
    body: Buffer.from(''),
    queueId: 'Q1',
    sender: 'a@b.test',
    rcpts: ['c@d.test', 'e@f.test'],
    ip: '192.0.2.1',
    helo: 'mail.b.test\r\nX: y',
    reverseName: 'mail.b.test',
    user: 'alice',
    mtaName: 'mx.example.org',
    tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
  });
  assert.deepEqual(h, {
    'Queue-Id': 'Q1',
    From: 'a@b.test',
    Rcpt: ['c@d.test', 'e@f.test'],
    'MTA-Name': 'mx.example.org',
    IP: '192.0.2.1',
    Helo: 'mail.b.test X: y',
    Hostname: 'mail.b.test',
    User: 'alice',
    'TLS-Version': 'TLSv1.3',
    'TLS-Cipher': 'TLS_AES_256_GCM_SHA384',
  });
});
