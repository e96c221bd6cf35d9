import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freeSlot, HANDOVER_MAX, handOver, slotWaitMs, type TakenSlot } from '../../../../src/queue/pg/slots.ts';

const now = 10_000;
const held = (slot: number, leaseUntil = now + 5000): TakenSlot => ({ slot, leaseUntil });

test('freeSlot: a slot below the limit that no live lease holds, the lowest with pick 0', { timeout: 5000 }, () => {
  const cases: [string, TakenSlot[], number, number | undefined][] = [
    ['none held: slot 0', [], 3, 0],
    ['0 held: slot 1', [held(0)], 3, 1],
    ['a gap is filled first', [held(0), held(2)], 3, 1],
    ['all held: none', [held(0), held(1), held(2)], 3, undefined],
    ['a lease that ran out is free (its node died)', [held(0), held(1, now - 1), held(2)], 3, 1],
    ['a lease ending exactly now still holds', [held(0, now)], 1, undefined],
    ['slots above a lowered limit do not count', [held(3), held(4)], 2, 0],
    ['limit 1, held: none', [held(0)], 1, undefined],
  ];
  for (const [name, taken, limit, want] of cases) assert.equal(freeSlot(taken, limit, now), want, name);
  // pick: where among the free slots (1, 3, 4 here) a delivery tries, so that concurrent ones spread out.
  const picks: [number, number][] = [
    [0, 1],
    [0.34, 3],
    [0.67, 4],
    [0.999, 4],
  ];
  for (const [pick, want] of picks) assert.equal(freeSlot([held(0), held(2)], 5, now, pick), want, `pick ${pick}`);
});

test('slotWaitMs: until the earliest lease below the limit runs out, at most the poll, at least 1 ms', { timeout: 5000 }, () => {
  const cases: [string, TakenSlot[], number, number][] = [
    ['leases longer than the poll: the poll', [held(0, now + 60_000)], 1, 1000],
    ['a lease ending sooner: just past its end', [held(0, now + 60_000), held(1, now + 300)], 2, 301],
    ['a slot above the limit is not waited for', [held(0, now + 60_000), held(5, now + 10)], 1, 1000],
    ['a lease already past: at once', [held(0, now - 50)], 1, 1],
    ['nothing held: the poll', [], 1, 1000],
  ];
  for (const [name, taken, limit, want] of cases) assert.equal(slotWaitMs(taken, limit, now, 1000), want, name);
});

test('handOver: a released slot goes to the next waiting delivery of this node, under its limit, HANDOVER_MAX in a row', { timeout: 5000 }, () => {
  const cases: [string, number, number, number | undefined, boolean][] = [
    ['nobody waits: back to the database', 0, 1, undefined, false],
    ['a waiter: handed over', 0, 1, 5, true],
    ['the slot is above the waiter’s limit', 3, 1, 2, false],
    ['just under the run', 0, HANDOVER_MAX - 1, 5, true],
    ['the run is over: back to the database, where other nodes may take it', 0, HANDOVER_MAX, 5, false],
  ];
  for (const [name, slot, uses, limit, want] of cases) assert.equal(handOver(slot, uses, limit), want, name);
});
