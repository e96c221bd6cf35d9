// glibc's free heap pages given back (src/core/malloc-trim.ts): a heap left full of holes by
// freed buffers (every 16th kept) stays resident after a full collection, and mallocTrim returns it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { mallocTrim, onGlibc } from '../../../src/core/malloc-trim.ts';
import { v8FullGc } from '../../../src/core/quiet-gc.ts';

const MiB = 2 ** 20;

test('mallocTrim gives back the free pages between the buffers still in use', { timeout: 30_000, skip: !onGlibc() && 'not glibc' }, async () => {
  const gc = v8FullGc();
  const trim = mallocTrim();
  let freed: Buffer[] = [];
  const kept: Buffer[] = [];
  // 160 MiB of 8 KiB buffers (each its own malloc), every 16th kept: the holes cannot be given
  // back from the heap's top, where glibc trims by itself.
  for (let i = 0; i < 20_000; i++) {
    const b = Buffer.allocUnsafeSlow(8192).fill(i);
    if (i % 16 === 0) kept.push(b);
    else freed.push(b);
  }
  freed = [];
  gc();
  await sleep(200); // V8 frees array buffers' memory on a background thread after the collection
  gc();
  const before = process.memoryUsage.rss();
  trim();
  const after = process.memoryUsage.rss();
  assert.ok(before - after > 80 * MiB, `resident ${Math.round(before / MiB)} → ${Math.round(after / MiB)} MiB: the holes given back`);
  assert.equal(kept[1]?.[0], 16, 'the buffers in use are intact');
  assert.equal(freed.length, 0);
});

test('mallocTrim off glibc does nothing (and opens nothing)', { timeout: 5_000 }, () => {
  const trim = mallocTrim(false);
  trim();
});
