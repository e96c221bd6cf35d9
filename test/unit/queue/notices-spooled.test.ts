import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SpooledBody } from '../../../src/core/body.ts';
import { noticeMessage } from '../../../src/queue/notices.ts';

test('the DSN of a spooled message copies its header from the prefix and never reads the file', () => {
  const body: SpooledBody = {
    kind: 'spooled',
    prefix: Buffer.from('Received: from x\r\nFrom: alice@example.test\r\nSubject: a big one\r\n\r\n'),
    file: '/nonexistent/spool/file',
    offset: 60,
    size: 40 * 1024 * 1024,
  };
  const dsn = noticeMessage(
    {
      kind: 'failed',
      queueId: 'Q1',
      sender: 'alice@example.test',
      receivedAt: 0,
      body,
      recipients: [{ rcpt: 'b@remote.test', address: 'b@remote.test', reason: '5.1.1 no such user' }],
    },
    { hostname: 'mx.example.test', now: () => 1000, newId: () => 'D1', route: () => ({ kind: 'local', mailbox: 'alice@example.test' }), maxLifetimeMs: 1 },
  );
  assert.ok(dsn && Buffer.isBuffer(dsn.body));
  const text = dsn.body.toString('utf8');
  assert.match(text, /Content-Type: text\/rfc822-headers/);
  assert.match(text, /Subject: a big one\r\n/);
});
