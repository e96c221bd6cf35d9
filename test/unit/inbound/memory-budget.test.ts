// The body budget (src/inbound/memory-budget.ts): bytes held in memory reserved and given back,
// and the young collections paced by the bytes that pass through on their way to the spool.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BodyBudget, PASSED_PER_YOUNG_GC } from '../../../src/inbound/memory-budget.ts';

const MiB = 2 ** 20;

test('take and give: reserved up to the limit, never below zero', { timeout: 5_000 }, () => {
  const budget = new BodyBudget(100, () => undefined);
  assert.equal(budget.take(60), true);
  assert.equal(budget.take(41), false, 'past the limit: nothing reserved');
  assert.equal(budget.inUse, 60);
  budget.give(100);
  assert.equal(budget.inUse, 0);
});

test('passed: one young collection after every PASSED_PER_YOUNG_GC bytes streamed, counted across sessions', { timeout: 5_000 }, () => {
  assert.equal(PASSED_PER_YOUNG_GC, 8 * MiB);
  const rows: { chunks: number[]; collections: number; why: string }[] = [
    { chunks: [], collections: 0, why: 'nothing streamed' },
    { chunks: [8 * MiB - 1], collections: 0, why: 'just under the step' },
    { chunks: [4 * MiB, 4 * MiB], collections: 1, why: 'two sessions reach it together' },
    { chunks: Array.from({ length: 40 }, () => MiB), collections: 5, why: '40 MiB: five steps' },
    { chunks: [64 * 1024, 8 * MiB], collections: 1, why: 'one large write: one collection, the count starts again' },
  ];
  for (const r of rows) {
    let collections = 0;
    const budget = new BodyBudget(MiB, () => collections++);
    for (const c of r.chunks) budget.passed(c);
    assert.equal(collections, r.collections, r.why);
  }
});
