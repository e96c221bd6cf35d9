// AttemptsStore.page: the attempts of a time range, a page at a time, each exactly once, in (at, id)
// order, also when rows with the same start time straddle a page boundary.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { openDb } from '../../../src/db/open.ts';
import { type AttemptRecord, type AttemptsCursor, AttemptsStore } from '../../../src/outbound/attempts-store.ts';

const migrations = path.resolve(import.meta.dirname, '../../../migrations');

test('pages of a range: every row once, in order, none outside', { timeout: 10_000 }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sealpost-attempts-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const db = openDb(dir, migrations);
  t.after(() => db.close());
  const store = new AttemptsStore(db);
  const at = [5, 10, 10, 10, 10, 10, 11, 12, 12, 20, 30];
  for (const [i, ms] of at.entries())
    store.record({
      queueId: `Q${i}`,
      at: ms,
      domain: 'd.test',
      rcpts: [],
      mx: 'mx',
      ip: '192.0.2.1',
      port: 25,
      policy: 'may',
      policySource: 'default',
      result: 'delivered',
      ms: 1,
    });
  for (const size of [1, 2, 3, 4, 100]) {
    const seen: AttemptRecord[] = [];
    let after: AttemptsCursor | undefined;
    for (let pages = 0; pages < 50; pages++) {
      const page = await store.page(10, 30, after, size);
      seen.push(...page.attempts);
      if (!page.next) break;
      after = page.next;
    }
    assert.deepEqual(
      seen.map((a) => a.queueId),
      ['Q1', 'Q2', 'Q3', 'Q4', 'Q5', 'Q6', 'Q7', 'Q8', 'Q9'],
      `pages of ${size}`,
    );
  }
});
