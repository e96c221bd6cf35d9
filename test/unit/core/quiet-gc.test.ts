// The collection after a burst (src/core/quiet-gc.ts): the decision table, the sampler driven by a
// fake loop, and the real V8 collection freeing a Buffer only old objects still point to.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BURST_BUSY_MS, quietDecision, startQuietGc, v8FullGc } from '../../../src/core/quiet-gc.ts';

test('quietDecision: collects on the first quiet interval after a burst, never while busy or idle', { timeout: 5_000 }, () => {
  const rows: { busyMs: number; activeMs: number; intervalMs: number; collect: boolean; next: number; why: string }[] = [
    { busyMs: 0, activeMs: 0, intervalMs: 1000, collect: false, next: 0, why: 'idle daemon: nothing to give back' },
    { busyMs: 0, activeMs: 900, intervalMs: 1000, collect: false, next: 900, why: 'busy: count' },
    { busyMs: 900, activeMs: 500, intervalMs: 1000, collect: false, next: 1400, why: 'still busy' },
    { busyMs: 1400, activeMs: 10, intervalMs: 1000, collect: true, next: 0, why: 'quiet after a burst: collect, count again' },
    { busyMs: BURST_BUSY_MS - 1, activeMs: 0, intervalMs: 1000, collect: false, next: BURST_BUSY_MS - 1, why: 'too little work since the last one' },
    { busyMs: BURST_BUSY_MS, activeMs: 19, intervalMs: 1000, collect: true, next: 0, why: 'under 2 % active is quiet' },
    { busyMs: BURST_BUSY_MS, activeMs: 20, intervalMs: 1000, collect: false, next: BURST_BUSY_MS + 20, why: '2 % is not' },
    { busyMs: 5000, activeMs: 0, intervalMs: 0, collect: false, next: 5000, why: 'an empty interval says nothing' },
  ];
  for (const r of rows) {
    const d = quietDecision({ busyMs: r.busyMs }, { activeMs: r.activeMs, intervalMs: r.intervalMs });
    assert.deepEqual({ collect: d.collect, next: d.state.busyMs }, { collect: r.collect, next: r.next }, r.why);
  }
});

test('startQuietGc: one collection per burst, after the loop goes quiet', { timeout: 5_000 }, async () => {
  let active = 0;
  let ticks = 0;
  let clock = 0;
  let collections = 0;
  // Each tick reads the clock twice: every sampled interval is 500 fake milliseconds.
  const now = () => (clock += 250);
  const stop = startQuietGc({ activeMs: () => active, now, gc: () => collections++, intervalMs: 2, onCollect: () => undefined });
  const ticked = async (n: number) => {
    const until = ticks + n;
    while (Math.floor(clock / 500) < until) await sleep(1);
    ticks = until;
  };
  try {
    await ticked(5);
    assert.equal(collections, 0, 'an idle loop: no collection');
    active += 2000; // a burst: 2 s of loop work
    await ticked(3);
    assert.equal(collections, 1, 'collected once the burst was over');
    await ticked(10);
    assert.equal(collections, 1, 'not again while idle');
  } finally {
    stop();
  }
});

test('startQuietGc: after each collection the allocator gives its free pages back (trim), once per burst', { timeout: 5_000 }, async () => {
  let clock = 0;
  const order: string[] = [];
  const now = () => (clock += 250);
  const stop = startQuietGc({ activeMs: () => 0, now, gc: () => order.push('gc'), trim: () => order.push('trim'), intervalMs: 2, afterStart: true });
  try {
    while (clock < 500 * 6) await sleep(1);
    assert.deepEqual(order, ['gc', 'trim']);
  } finally {
    stop();
  }
});

test('startQuietGc afterStart: the start-up counts as a burst, collected at the first quiet interval', { timeout: 5_000 }, async () => {
  let clock = 0;
  let collections = 0;
  const now = () => (clock += 250);
  const stop = startQuietGc({ activeMs: () => 0, now, gc: () => collections++, intervalMs: 2, afterStart: true });
  try {
    while (clock < 500 * 3) await sleep(1);
    assert.equal(collections, 1, 'collected once after the start');
    while (clock < 500 * 12) await sleep(1);
    assert.equal(collections, 1, 'not again while idle');
  } finally {
    stop();
  }
});

test('v8FullGc frees a large Buffer held only by garbage', { timeout: 10_000 }, () => {
  const gc = v8FullGc();
  gc();
  const base = process.memoryUsage().arrayBuffers;
  let holder: { b: Buffer } | undefined = { b: Buffer.alloc(64 * 1024 * 1024, 1) };
  assert.ok(process.memoryUsage().arrayBuffers - base >= 64 * 1024 * 1024);
  holder = undefined;
  gc();
  assert.equal(holder, undefined);
  assert.ok(process.memoryUsage().arrayBuffers - base < 1024 * 1024, 'the 64 MiB were given back');
});
