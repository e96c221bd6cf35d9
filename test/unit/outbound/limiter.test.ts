import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Limiter } from '../../../src/outbound/limiter.ts';

test('caps work in total and per destination', async () => {
  const limiter = new Limiter(3, 2);
  const a1 = await limiter.acquire('a');
  const a2 = await limiter.acquire('a');
  let a3Granted = false;
  const a3 = limiter.acquire('a').then((release) => {
    a3Granted = true;
    return release;
  });
  const b1 = await limiter.acquire('b');
  assert.equal(limiter.inUse(), 3);
  assert.equal(limiter.inUse('a'), 2);
  let c1Granted = false;
  const c1 = limiter.acquire('c').then((release) => {
    c1Granted = true;
    return release;
  });
  await Promise.resolve();
  assert.equal(a3Granted, false, 'per-destination cap');
  assert.equal(c1Granted, false, 'total cap');
  b1(); // frees a total slot: c can run, a is still at its cap
  await c1;
  assert.equal(a3Granted, false);
  a1();
  a1(); // a second call does nothing
  (await c1)();
  const release = await a3;
  assert.equal(limiter.inUse('a'), 2);
  release();
  a2();
  assert.equal(limiter.inUse(), 0);
});
