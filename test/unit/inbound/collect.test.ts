import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import { collectBody } from '../../../src/inbound/collect.ts';
import { BodyBudget } from '../../../src/inbound/memory-budget.ts';
import { Spool } from '../../../src/queue/spool.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-collect-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const spool = new Spool(path.join(dir, 'spool'));
let n = 0;
const openSpool = () => spool.create(`F${n++}`);

function feed(chunks: string[]): PassThrough {
  const stream = new PassThrough();
  setImmediate(() => {
    for (const c of chunks) stream.write(Buffer.from(c, 'latin1'));
    stream.end();
  });
  return stream;
}

test('a body within the threshold stays in memory, as it arrived; its bytes count against the budget until released', { timeout: 5000 }, async () => {
  const budget = new BodyBudget(1000);
  const c = collectBody(feed(['Subject: a\r\n', '\r\nbare\nLF\r\n']), { threshold: 100, budget, openSpool, bareNewline: 'normalize' });
  const got = await c.done;
  assert.equal(got.kind, 'memory');
  assert.equal(got.kind === 'memory' && got.body.toString('latin1'), 'Subject: a\r\n\r\nbare\nLF\r\n');
  assert.equal(budget.inUse, 23);
  c.release();
  assert.equal(budget.inUse, 0);
});

test('a body above the threshold goes to a spool file, normalized across chunk boundaries; only its header stays in memory', { timeout: 5000 }, async () => {
  const budget = new BodyBudget(1000);
  const c = collectBody(feed(['Subject: big\r', '\n\r', '\nline one\r', 'line two\n', 'x'.repeat(200), '\r']), {
    threshold: 64,
    budget,
    openSpool,
    bareNewline: 'normalize',
  });
  const got = await c.done;
  assert.equal(got.kind, 'spooled');
  if (got.kind !== 'spooled') return;
  const expected = `Subject: big\r\n\r\nline one\r\nline two\r\n${'x'.repeat(200)}\r\n`;
  assert.equal(readFileSync(got.body.file, 'latin1'), expected);
  assert.equal(got.body.prefix.toString('latin1'), 'Subject: big\r\n\r\n');
  assert.equal(got.body.offset, got.body.prefix.length);
  assert.equal(got.body.size, expected.length);
  assert.equal(budget.inUse, 0, 'nothing held once the body is on disk');
});

test('over the memory budget a small body goes to disk early; with no spool either, the answer is no-room', { timeout: 5000 }, async () => {
  const budget = new BodyBudget(10);
  const early = await collectBody(feed(['Subject: s\r\n', '\r\nhi\r\n']), { threshold: 1000, budget, openSpool, bareNewline: 'normalize' }).done;
  assert.equal(early.kind, 'spooled');
  const broken = () => {
    throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
  };
  const refused = await collectBody(feed(['Subject: s\r\n', '\r\nhi\r\n']), { threshold: 1000, budget, openSpool: broken, bareNewline: 'normalize' }).done;
  assert.equal(refused.kind, 'no-room');
  assert.equal(budget.inUse, 0);
});

test('bare_newline = "reject": a spooled body with a bare LF is refused', { timeout: 5000 }, async () => {
  const budget = new BodyBudget(1000);
  const got = await collectBody(feed(['Subject: big\r\n\r\n', 'y'.repeat(100), '\nend\r\n']), { threshold: 32, budget, openSpool, bareNewline: 'reject' }).done;
  assert.equal(got.kind, 'bare');
});

test('the feed gets each chunk as it arrives, in memory and on the way to the spool; it is dropped when the client leaves', { timeout: 5000 }, async () => {
  const recorder = () => {
    const seen: string[] = [];
    return {
      seen,
      feed: { push: (chunk: Buffer) => seen.push(chunk.toString('latin1')) > 0, onDrain: (fn: () => void) => fn(), drop: () => void seen.push('drop') },
    };
  };
  const kept = recorder();
  const budget = new BodyBudget(10_000);
  const inMemory = collectBody(feed(['Subject: a\r', '\n\r\nbody\r\n']), { threshold: 1000, budget, openSpool, bareNewline: 'normalize', feed: kept.feed });
  assert.equal((await inMemory.done).kind, 'memory');
  assert.deepEqual(kept.seen, ['Subject: a\r', '\n\r\nbody\r\n']);
  inMemory.release();

  const spilled = recorder();
  const big = await collectBody(feed(['Subject: big\r\n\r\n', 'x'.repeat(100), 'y'.repeat(100)]), {
    threshold: 64,
    budget,
    openSpool,
    bareNewline: 'normalize',
    feed: spilled.feed,
  }).done;
  assert.equal(big.kind, 'spooled');
  assert.deepEqual(spilled.seen, ['Subject: big\r\n\r\n', 'x'.repeat(100), 'y'.repeat(100)], 'the spooled part too, as received');

  const left = recorder();
  const stream = new PassThrough();
  collectBody(stream, { threshold: 1000, budget, openSpool, bareNewline: 'normalize', feed: left.feed });
  stream.write(Buffer.from('Subject: gone\r\n'));
  await new Promise((r) => setImmediate(r));
  stream.destroy();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(left.seen, ['Subject: gone\r\n', 'drop']);
});

test('a feed that falls behind on a spooled body pauses the client until it drains', { timeout: 5000 }, async () => {
  const drains: (() => void)[] = [];
  const pushed: number[] = [];
  const slow = { push: (chunk: Buffer) => pushed.push(chunk.length) === 0, onDrain: (fn: () => void) => void drains.push(fn), drop: () => {} };
  const stream = new PassThrough();
  const c = collectBody(stream, { threshold: 16, budget: new BodyBudget(10_000), openSpool, bareNewline: 'normalize', feed: slow });
  stream.write(Buffer.from('Subject: slow\r\n\r\n'));
  await new Promise((r) => setImmediate(r));
  assert.equal(stream.isPaused(), true, 'paused while the checks are behind');
  assert.equal(drains.length, 1);
  stream.write(Buffer.from('more\r\n'));
  stream.end();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(pushed, [17], 'nothing more read while paused');
  drains.shift()?.();
  // Each chunk read from here asks to wait again: keep draining until the body has ended.
  const done = c.done;
  while (drains.length > 0 || pushed.length < 2) {
    await new Promise((r) => setImmediate(r));
    drains.shift()?.();
  }
  const got = await done;
  assert.equal(got.kind, 'spooled');
  assert.deepEqual(pushed, [17, 6]);
});

test('a spill of many early chunks into a full spool file waits for one drain at a time, not one per chunk', { timeout: 5000 }, async () => {
  let waiting = 0;
  let most = 0;
  const counting = () => {
    const file = openSpool();
    const onDrain = file.onDrain.bind(file);
    file.onDrain = (callback) => {
      most = Math.max(most, ++waiting);
      onDrain(() => {
        waiting--;
        callback();
      });
    };
    return file;
  };
  // 16 chunks of 64 KiB held in memory (the threshold), then spilled at once: 4 fill the spool
  // file's 256 KiB buffer and the other 12 each found it full.
  const chunk = 'x'.repeat(64 * 1024);
  const chunks = ['Subject: big\r\n\r\n', ...Array.from({ length: 20 }, () => chunk)];
  const got = await collectBody(feed(chunks), {
    threshold: 1024 * 1024,
    budget: new BodyBudget(4 * 1024 * 1024),
    openSpool: counting,
    bareNewline: 'normalize',
  }).done;
  assert.equal(got.kind, 'spooled');
  assert.equal(got.kind === 'spooled' && readFileSync(got.body.file).length, chunks.join('').length);
  assert.equal(most, 1, 'at most one drain waiter at any time');
});

test('a spooled body tells the budget of every byte it streams (the young collections are paced by them)', { timeout: 5000 }, async () => {
  let collections = 0;
  const budget = new BodyBudget(4 * 1024 * 1024, () => collections++);
  const chunk = 'y'.repeat(64 * 1024);
  // 20 MiB through the spool: two collections, at 8 and 16 MiB.
  const chunks = ['Subject: big\r\n\r\n', ...Array.from({ length: 320 }, () => chunk)];
  const got = await collectBody(feed(chunks), { threshold: 1024 * 1024, budget, openSpool, bareNewline: 'normalize' }).done;
  assert.equal(got.kind, 'spooled');
  assert.equal(collections, 2);
});
