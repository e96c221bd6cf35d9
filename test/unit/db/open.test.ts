// openDb: the pragmas durability depends on, and a page cache bounded at SQLite's default (what a
// queue drain keeps in the process).
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { MIGRATIONS_DIR, openDb } from '../../../src/db/open.ts';
import { tempDir } from '../../helpers/tmp.ts';

test("the queue database: WAL, synchronous=FULL, foreign keys, and a 2 MiB page cache (not better-sqlite3's 16 MiB)", { timeout: 10_000 }, async (t) => {
  const db = openDb(path.join(await tempDir(t), 'q'), MIGRATIONS_DIR);
  t.after(() => db.close());
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL');
  assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
  assert.equal(db.pragma('cache_size', { simple: true }), -2000, "KiB, as SQLite's own default");
});
