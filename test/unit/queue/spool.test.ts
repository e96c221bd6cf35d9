import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { bodyChunks, isSpooled, type SpooledBody } from '../../../src/core/body.ts';
import { MIGRATIONS_DIR, openDb } from '../../../src/db/open.ts';
import { QueueStore } from '../../../src/queue/store.ts';
import { waitFor } from '../../helpers/wait.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-spool-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const retry = { minBackoffMs: 60_000, maxBackoffMs: 3_600_000, maxLifetimeMs: 86_400_000 };

const header = Buffer.from('Subject: big\r\n\r\n');
const rest = Buffer.alloc(300_000, 'x');

/** A spool file written and fsync'd as collect.ts does, and the spooled body naming it. */
async function spooled(store: QueueStore, name: string): Promise<SpooledBody> {
  const file = store.spool.create(name);
  file.write(header);
  file.write(rest);
  await file.finish();
  const received = Buffer.from('Received: by test\r\n');
  return {
    kind: 'spooled',
    prefix: Buffer.concat([received, header]),
    file: file.file,
    offset: header.length,
    size: received.length + header.length + rest.length,
  };
}

async function text(body: Parameters<typeof bodyChunks>[0]): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of bodyChunks(body, 64 * 1024)) parts.push(c);
  return Buffer.concat(parts).toString('latin1');
}

const message = (id: string, body: SpooledBody) => ({
  id,
  receivedAt: 1000,
  sender: 's@remote.test',
  body,
  smtputf8: false,
  eightBit: false,
  origin: 'smtp' as const,
  recipients: [{ rcpt: 'a@example.test', address: 'a@example.test', transport: 'local' as const }],
});

test('a spooled message is stored as prefix + file, read back in chunks, and its file goes with the message', { timeout: 10_000 }, async () => {
  const dataDir = path.join(dir, 'a');
  const store = new QueueStore(openDb(dataDir, MIGRATIONS_DIR), retry);
  assert.equal(store.spool.dir, path.join(dataDir, 'spool'));
  const body = await spooled(store, 'S1');
  await store.enqueue(message('M1', body));
  const [job] = store.claim('local', 1000, 10);
  assert.ok(job && isSpooled(job.body));
  assert.equal(job.size, body.size);
  assert.equal(await text(job.body), `Received: by test\r\nSubject: big\r\n\r\n${rest.toString('latin1')}`);
  store.complete(job, new Map(job.recipients.map((r) => [r.id, { kind: 'delivered' as const }])), 2000);
  await waitFor(() => !existsSync(body.file), { timeoutMs: 5000, what: 'the spool file removed after delivery' });
});

test('after a crash: a spool file without its row is removed at start; one with its row stays and reads whole', { timeout: 10_000 }, async () => {
  const dataDir = path.join(dir, 'b');
  const db = openDb(dataDir, MIGRATIONS_DIR);
  const store = new QueueStore(db, retry);
  const kept = await spooled(store, 'KEPT');
  await store.enqueue(message('M2', kept));
  // fsync'd, then the crash before the commit: no row names it.
  const orphan = await spooled(store, 'ORPHAN');
  db.close();

  const restarted = new QueueStore(openDb(dataDir, MIGRATIONS_DIR), retry);
  assert.equal(await restarted.sweepSpool(), 1);
  assert.deepEqual(readdirSync(path.join(dataDir, 'spool')), ['KEPT']);
  assert.equal(existsSync(orphan.file), false);
  const [job] = restarted.claim('local', 1000, 10);
  assert.ok(job);
  assert.equal((await text(job.body)).length, kept.size);
  assert.equal(await restarted.sweepSpool(), 0);
});

test('sealpost queue delete removes the spool file with the row', { timeout: 10_000 }, async () => {
  const dataDir = path.join(dir, 'c');
  const db = openDb(dataDir, MIGRATIONS_DIR);
  const store = new QueueStore(db, retry);
  const body = await spooled(store, 'DEL');
  await store.enqueue(message('M3', body));
  assert.equal(await store.delete('M3'), 1);
  assert.equal(existsSync(body.file), false);
});
