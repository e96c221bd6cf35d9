import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { MIGRATIONS_DIR, openDb } from '../../../src/db/open.ts';
import { StsCache } from '../../../src/tls-policy/sts-cache.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-sts-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a policy fetched while the disk is full still applies (returned, not cached); other errors still throw', { timeout: 10_000 }, async () => {
  const db = openDb(path.join(dir, 'full'), MIGRATIONS_DIR);
  const cache = new StsCache(db);
  const policy = { mode: 'enforce' as const, mx: Array.from({ length: 300 }, (_, i) => `mx${i}.a-rather-long-name.example.test`), maxAge: 86_400 };
  // The database may not grow by one page: what SQLite says on a full disk (SQLITE_FULL).
  db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
  const got = await cache.put('example.test', 'id1', policy, 1000);
  assert.equal(got.mode, 'enforce');
  assert.equal(got.mx.length, 300);
  assert.equal(await cache.get('example.test', 2000), undefined, 'not cached: fetched again next time');
  await cache.delete('example.test');
  db.close();
  // Not a storage fault (a bug: the database closed under it): still thrown.
  const other = openDb(path.join(dir, 'closed'), MIGRATIONS_DIR);
  const closed = new StsCache(other);
  other.close();
  await assert.rejects(closed.put('x.test', 'id', policy, 1000), /not open/);
});
