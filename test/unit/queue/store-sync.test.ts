// Group commit of the queue store: an enqueue is answered only after a WAL sync that started after
// its commit; batches committed while a sync runs share the next one; workers hear of a message
// only once it is on disk.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { MIGRATIONS_DIR, openDb } from '../../../src/db/open.ts';
import type { NewMessage } from '../../../src/queue/message.ts';
import { QueueStore } from '../../../src/queue/store.ts';
import { tempDir } from '../../helpers/tmp.ts';

const retry = { minBackoffMs: 60_000, maxBackoffMs: 3_600_000, maxLifetimeMs: 86_400_000 };

function message(id: string): NewMessage {
  return {
    id,
    receivedAt: 1000,
    sender: 's@example.test',
    body: Buffer.from(`Subject: ${id}\r\n\r\nhi\r\n`),
    smtputf8: false,
    eightBit: false,
    origin: 'smtp',
    recipients: [{ rcpt: 'u@example.test', address: 'u@example.test', transport: 'local' }],
  };
}

/** A sync the test finishes by hand. */
function manualSync() {
  const calls: { file: string; finish: (err?: Error) => void }[] = [];
  const syncFile = (file: string) => new Promise<void>((resolve, reject) => calls.push({ file, finish: (err) => (err ? reject(err) : resolve()) }));
  return { calls, syncFile };
}

const settled = (p: Promise<unknown>) =>
  Promise.race([
    p.then(
      () => 'resolved',
      () => 'rejected',
    ),
    new Promise((r) => setTimeout(() => r('pending'), 20)),
  ]);

test('an enqueue is answered after the WAL sync; batches committed meanwhile share the next sync', { timeout: 10_000 }, async (t) => {
  const db = openDb(path.join(await tempDir(t), 'q'), MIGRATIONS_DIR);
  t.after(() => db.close());
  const sync = manualSync();
  const store = new QueueStore(db, retry, { syncFile: sync.syncFile });
  let wakeups = 0;
  store.onEnqueued(() => wakeups++);

  const a = store.enqueue(message('A'));
  assert.equal(await settled(a), 'pending', 'not answered before the sync');
  assert.equal(sync.calls.length, 1);
  assert.equal(sync.calls[0]?.file, `${db.name}-wal`);
  assert.equal(db.prepare<[], { n: number }>('SELECT count(*) AS n FROM messages').get()?.n, 1, 'committed before the sync');
  assert.equal(wakeups, 0, 'workers wait for the sync');

  const b = store.enqueue(message('B'));
  await new Promise((r) => setImmediate(r));
  const c = store.enqueue(message('C'));
  assert.equal(await settled(b), 'pending');
  assert.equal(sync.calls.length, 1, 'one sync at a time');

  sync.calls[0]?.finish();
  assert.equal(await settled(a), 'resolved');
  assert.equal(await settled(b), 'pending', 'B committed after the first sync began');
  assert.equal(wakeups, 1);
  assert.equal(sync.calls.length, 2, 'B and C share the second sync');
  sync.calls[1]?.finish();
  assert.deepEqual([await settled(b), await settled(c)], ['resolved', 'resolved']);
  assert.equal(sync.calls.length, 2);
});

test('a failed sync fails the enqueues that waited for it', { timeout: 10_000 }, async (t) => {
  const db = openDb(path.join(await tempDir(t), 'q'), MIGRATIONS_DIR);
  t.after(() => db.close());
  const sync = manualSync();
  const store = new QueueStore(db, retry, { syncFile: sync.syncFile });
  const a = store.enqueue(message('A'));
  await new Promise((r) => setImmediate(r));
  sync.calls[0]?.finish(Object.assign(new Error('EIO'), { code: 'EIO' }));
  await assert.rejects(a, /EIO/);
  const b = store.enqueue(message('B'));
  await new Promise((r) => setImmediate(r));
  sync.calls[1]?.finish();
  await b;
});

test('claims do not wait for the disk, and the connection keeps its synchronous level', { timeout: 10_000 }, async (t) => {
  const db = openDb(path.join(await tempDir(t), 'q'), MIGRATIONS_DIR);
  t.after(() => db.close());
  const store = new QueueStore(db, retry);
  await store.enqueue(message('A'));
  assert.equal(store.claim('local', 2000, 10).length, 1);
  assert.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL for every other write');
});
