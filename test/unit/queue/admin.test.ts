import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { listText } from '../../../src/cli/queue.ts';
import { MIGRATIONS_DIR, openDb } from '../../../src/db/open.ts';
import { QueueAdmin } from '../../../src/queue/admin.ts';
import { QueueStore } from '../../../src/queue/store.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-admin-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const retry = { minBackoffMs: 60_000, maxBackoffMs: 3_600_000, maxLifetimeMs: 86_400_000 };

test('queue list pages by id with --limit/--after, and always says the total and that the list is cut', { timeout: 20_000 }, async () => {
  const db = openDb(path.join(dir, 'paging'), MIGRATIONS_DIR);
  const store = new QueueStore(db, retry);
  const ids = ['M1', 'M2', 'M3', 'M4', 'M5'];
  await Promise.all(
    ids.map((id, i) =>
      store.enqueue({ id, receivedAt: 1000 + i, sender: 's@remote.test', body: Buffer.from('Subject: x\r\n\r\n'), smtputf8: false, eightBit: false, origin: 'smtp', recipients: [{ rcpt: `${id}@example.test`, address: `${id}@example.test`, transport: 'local' }] }),
    ),
  );
  const admin = new QueueAdmin(db);

  const first = admin.list({ limit: 2 });
  assert.deepEqual(first.messages.map((m) => m.id), ['M1', 'M2']);
  assert.deepEqual({ total: first.total, more: first.more, next: first.next, after: first.after }, { total: 5, more: true, next: 'M2', after: null });
  assert.equal(first.messages[0]?.recipients[0]?.address, 'M1@example.test', 'the recipients of the page come with it');
  assert.match(listText(first), /\n-- 2 of 5 messages shown \(list cut; next page: --after M2\)\n$/);

  const second = admin.list({ limit: 2, after: 'M2' });
  assert.deepEqual(second.messages.map((m) => m.id), ['M3', 'M4']);
  assert.equal(second.next, 'M4');
  assert.match(listText(second), /-- 2 of 5 messages shown after M2 \(list cut; next page: --after M4\)/);

  const last = admin.list({ limit: 2, after: 'M4' });
  assert.deepEqual(last.messages.map((m) => m.id), ['M5']);
  assert.deepEqual({ more: last.more, next: last.next }, { more: false, next: null });
  assert.match(listText(last), /-- 1 of 5 messages shown after M4 \(list cut; no more after these\)/);

  // A page boundary delivered meanwhile: the next page still starts after it.
  admin.delete('M2');
  assert.deepEqual(admin.list({ limit: 2, after: 'M2' }).messages.map((m) => m.id), ['M3', 'M4']);

  const whole = admin.list();
  assert.equal(whole.more, false);
  assert.match(listText(whole), /\n-- 4 messages\n$/);
  db.close();
});

test('an empty queue says so', () => {
  assert.equal(listText({ total: 0, after: null, more: false, next: null, messages: [] }), 'queue is empty\n');
});
