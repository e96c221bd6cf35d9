import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { migrate } from '../../../src/db/migrate.ts';
import { type Db, MIGRATIONS_DIR, openDb } from '../../../src/db/open.ts';
import { enableIncrementalVacuum } from '../../../src/db/vacuum.ts';
import { pruneAttempts, startAttemptsPruning } from '../../../src/outbound/attempts-prune.ts';
import { AttemptsStore } from '../../../src/outbound/attempts-store.ts';
import { captureLog } from '../../helpers/log.ts';
import { waitFor } from '../../helpers/wait.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-prune-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const DAY = 86_400_000;
const now = 1_800_000_000_000;

/** `count` attempt rows at `at`, about 1 KB each, like a deferred remote delivery's. */
function fill(db: Db, count: number, at: number): void {
  const insert = db.prepare(
    `INSERT INTO attempts (queue_id, at, domain, rcpts, mx, ip, port, policy, policy_source, result, reply_code, reply_text, ms)
     VALUES (?, ?, 'remote.test', '["bob@remote.test"]', 'mx.remote.test', '127.0.0.1', 25, 'may', 'default', 'transient', 451, ?, 12)`,
  );
  db.transaction(() => {
    for (let i = 0; i < count; i++) insert.run(`Q${at}-${i}`, at, `4.3.0 try again later ${'x'.repeat(900)} ${i}`);
  })();
}

/** The database file's size once the WAL is in it. */
function fileSize(db: Db): number {
  db.pragma('wal_checkpoint(TRUNCATE)');
  return statSync(db.name).size;
}

test('rows older than the retention are deleted, newer ones kept, and the file shrinks', { timeout: 60_000 }, async () => {
  const db = openDb(path.join(dir, 'new'), MIGRATIONS_DIR);
  assert.equal(db.pragma('auto_vacuum', { simple: true }), 2, 'a new database is INCREMENTAL');
  fill(db, 20_000, now - 40 * DAY);
  fill(db, 100, now - DAY);
  const full = fileSize(db);
  assert.ok(full > 20 * 1024 * 1024, `filled: ${full} bytes`);
  const attempts = new AttemptsStore(db);
  const round = await pruneAttempts({ db, attempts, retentionMs: 30 * DAY, now: () => now, log: captureLog().log, batchRows: 3000, batchPages: 500 });
  assert.equal(round.deleted, 20_000);
  assert.ok(round.pages > 0);
  assert.equal(db.prepare<[], { n: number }>('SELECT count(*) AS n FROM attempts').get()?.n, 100, 'the last 30 days stay');
  const pruned = fileSize(db);
  assert.ok(pruned < full / 10, `the file shrank: ${full} → ${pruned} bytes`);
  db.close();
});

test('a database made before INCREMENTAL is converted once by VACUUM, and then shrinks when pruned', { timeout: 60_000 }, async () => {
  mkdirSync(path.join(dir, 'old'));
  // As the daemon made it before: auto_vacuum NONE.
  const raw = new Database(path.join(dir, 'old', 'sealpost.db'));
  raw.pragma('journal_mode = WAL');
  migrate(raw, MIGRATIONS_DIR);
  assert.equal(raw.pragma('auto_vacuum', { simple: true }), 0);
  fill(raw, 5000, now - 40 * DAY);
  assert.equal(enableIncrementalVacuum(raw), 'converted');
  assert.equal(raw.pragma('auto_vacuum', { simple: true }), 2);
  assert.equal(enableIncrementalVacuum(raw), 'already', 'once only');
  const full = fileSize(raw);
  const { log, records } = captureLog();
  const stop = startAttemptsPruning({ db: raw, attempts: new AttemptsStore(raw), retentionMs: 30 * DAY, now: () => now, log });
  await waitFor(() => records.some((r) => r['state'] === 'pruned'), { timeoutMs: 20_000, what: 'the first round at start' });
  stop();
  assert.equal(records.find((r) => r['state'] === 'pruned')?.['deleted'], 5000);
  const pruned = fileSize(raw);
  assert.ok(pruned < full / 4, `the file shrank: ${full} → ${pruned} bytes`);
  raw.close();
});
