import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simpleParser } from 'mailparser';
import { buildDsn, originalHeader, shouldBounce } from '../../../src/queue/bounce.ts';

const original = Buffer.from('Received: from x\r\nFrom: alice@example.test\r\nSubject: hello\r\nMessage-ID: <m1@example.test>\r\n\r\nsecret body\r\n');
const base = {
  reportingMta: 'mx.example.test',
  queueId: 'Q1',
  sender: 'alice@example.test',
  arrivalDate: Date.UTC(2024, 0, 1, 10, 0, 0),
  now: Date.UTC(2024, 0, 1, 11, 0, 0),
  original,
  messageId: 'dsn1@mx.example.test',
  boundary: 'BOUNDARY1',
};

test('never bounce to the null sender', () => {
  assert.equal(shouldBounce(''), false);
  assert.equal(shouldBounce('<>'), false);
  assert.equal(shouldBounce('alice@example.test'), true);
});

test('a failure DSN: multipart/report with delivery-status and the original headers', async () => {
  const dsn = buildDsn({
    ...base,
    kind: 'failed',
    recipients: [
      {
        rcpt: 'Bob@remote.test',
        address: 'bob@remote.test',
        reason: 'host mx.remote.test[192.0.2.1]:25 said: 550 5.1.1 no such user (in reply to RCPT TO)',
        enhanced: '5.1.1',
      },
      { rcpt: 'carol@remote.test', address: 'carol@remote.test', reason: 'remote.test does not accept mail (null MX, RFC 7505)', enhanced: '5.1.10' },
    ],
  });
  assert.equal(dsn.sender, '');
  assert.equal(dsn.recipient, 'alice@example.test');
  const text = dsn.body.toString('utf8');
  assert.ok(!/[^\r]\n/.test(text), 'CRLF line ends only');
  assert.match(text, /^Content-Type: multipart\/report; report-type=delivery-status;\r\n boundary="BOUNDARY1"/m);
  assert.match(text, /^Auto-Submitted: auto-replied\r$/m);
  assert.match(text, /Reporting-MTA: dns; mx\.example\.test\r\nX-Sealpost-Queue-ID: Q1\r\nArrival-Date: Mon, 01 Jan 2024 10:00:00 \+0000/);
  assert.match(
    text,
    /Original-Recipient: rfc822; Bob@remote\.test\r\nFinal-Recipient: rfc822; bob@remote\.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; mx\.remote\.test\r\nDiagnostic-Code: smtp; 550 5\.1\.1 no such user\r\n/,
  );
  assert.match(text, /Final-Recipient: rfc822; carol@remote\.test\r\nAction: failed\r\nStatus: 5\.1\.10\r\n/);
  assert.ok(!text.includes('secret body'), 'only the headers of the original');
  assert.match(text, /Content-Type: text\/rfc822-headers\r\n\r\nReceived: from x\r\n[\s\S]*Message-ID: <m1@example\.test>\r\n\r\n--BOUNDARY1--\r\n$/);
  const parsed = await simpleParser(dsn.body);
  assert.equal(parsed.subject, 'Undelivered Mail Returned to Sender');
  assert.match(parsed.text ?? '', /could not\s+be delivered/);
  assert.match(parsed.text ?? '', /<bob@remote\.test>: host mx\.remote\.test/);
});

test('a delay notice', () => {
  const dsn = buildDsn({
    ...base,
    kind: 'delayed',
    willRetryUntil: Date.UTC(2024, 0, 6, 10, 0, 0),
    recipients: [{ rcpt: 'bob@remote.test', address: 'bob@remote.test', reason: '4.4.1 connect to mx.remote.test[192.0.2.1]:25: ECONNREFUSED' }],
  });
  const text = dsn.body.toString('utf8');
  assert.match(text, /Subject: Delayed Mail \(still being retried\)/);
  assert.match(text, /Action: delayed\r\nStatus: 4\.4\.1\r\nRemote-MTA: dns; mx\.remote\.test\r\n/);
  assert.match(text, /Will-Retry-Until: Sat, 06 Jan 2024 10:00:00 \+0000/);
  assert.ok(!text.includes('Original-Recipient'), 'same as the final recipient');
});

test('the original header ends at the first empty line', () => {
  assert.equal(originalHeader(Buffer.from('A: 1\nB: 2\n\nbody')).toString(), 'A: 1\nB: 2\n');
  assert.equal(originalHeader(Buffer.from('A: 1\r\n\r\nbody')).toString(), 'A: 1\r\n');
  assert.equal(originalHeader(Buffer.from('A: 1')).toString(), 'A: 1');
});
