// The Maildir writer threads (src/offload/writers.ts), real threads writing into temp dirs: which
// thread takes a write (pickWriter, a table), writes spread over threads and answered each to its
// own caller, a thread that dies (its writes fail, the next write starts another), the idle end
// of the extra threads and then of the last, and close.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { maildirThreadCount, pickWriter, startMaildirWriters } from '../../../src/offload/writers.ts';
import { tempDir } from '../../helpers/tmp.ts';
import { waitFor } from '../../helpers/wait.ts';

const noTrim = () => undefined;

test('pickWriter: the least busy thread, the first of equals; a new one only when every running thread has a write in flight, is loaded, and there is room', () => {
  /** Threads as [in flight, utilization]. */
  const cases: [[number, number][], number, ReturnType<typeof pickWriter>][] = [
    [[], 4, { kind: 'start' }],
    [[], 1, { kind: 'start' }],
    [[[0, 0.9]], 4, { kind: 'thread', index: 0 }],
    [[[1, 0.9]], 4, { kind: 'start' }],
    [[[1, 0.3]], 4, { kind: 'thread', index: 0 }],
    [[[5, 0.5]], 4, { kind: 'thread', index: 0 }],
    [[[1, 0.9]], 1, { kind: 'thread', index: 0 }],
    [
      [
        [3, 0.9],
        [0, 0.9],
        [0, 0.9],
      ],
      4,
      { kind: 'thread', index: 1 },
    ],
    [
      [
        [2, 0.9],
        [1, 0.9],
        [2, 0.9],
      ],
      3,
      { kind: 'thread', index: 1 },
    ],
    [
      [
        [2, 0.9],
        [1, 0.9],
        [2, 0.9],
      ],
      4,
      { kind: 'start' },
    ],
    [
      [
        [2, 0.9],
        [1, 0.9],
        [2, 0.2],
      ],
      4,
      { kind: 'thread', index: 1 },
    ],
    [
      [
        [5, 0.9],
        [5, 0.9],
      ],
      2,
      { kind: 'thread', index: 0 },
    ],
  ];
  for (const [threads, most, expected] of cases) {
    const loads = threads.map(([inFlight, utilization]) => ({ inFlight, utilization }));
    assert.deepEqual(pickWriter(loads, most), expected, `${JSON.stringify(threads)} of ${most}`);
  }
  assert.deepEqual(pickWriter([{ inFlight: 1, utilization: 0 }], 2, -1), { kind: 'start' }, 'busy -1: any thread counts as loaded');
});

test('maildir_threads: a number as it is; "auto" half the CPUs, at least 1, at most 8', () => {
  const cases: [number | 'auto', number, number][] = [
    [3, 16, 3],
    [64, 2, 64],
    ['auto', 1, 1],
    ['auto', 2, 1],
    ['auto', 3, 1],
    ['auto', 8, 4],
    ['auto', 16, 8],
    ['auto', 64, 8],
  ];
  for (const [setting, cpus, expected] of cases) assert.equal(maildirThreadCount(setting, cpus), expected, `${setting} on ${cpus} CPUs`);
});

test('writes at once spread over the threads, each answered to its own caller; a retry finds its file', { timeout: 30_000 }, async (t) => {
  const root = await tempDir(t);
  const writers = startMaildirWriters({ threads: 4, busyUtilization: -1, trim: noTrim });
  try {
    const dirs = Array.from({ length: 8 }, (_, i) => path.join(root, `box${i}`));
    // A large one among them: answered after the small ones that went to other threads.
    const big = Buffer.alloc(4 * 1024 * 1024, 'b');
    const writes = Array.from({ length: 40 }, (_, i) => {
      const dir = dirs[i % dirs.length] as string;
      const body = i === 0 ? big : Buffer.from(`message ${i}\r\n`);
      return writers.write(dir, `m${i}`, [Buffer.from('Return-Path: <a@b.test>\r\n'), body]).then((result) => ({ i, dir, result }));
    });
    assert.deepEqual(writers.inFlight(), [10, 10, 10, 10], 'four threads started, the writes dealt out evenly');
    for (const { i, dir, result } of await Promise.all(writes)) {
      assert.equal(result, 'written');
      const text = readFileSync(path.join(dir, 'new', `m${i}`), 'latin1');
      assert.equal(text, `Return-Path: <a@b.test>\r\n${i === 0 ? big.toString('latin1') : `message ${i}\r\n`}`);
    }
    assert.deepEqual(
      dirs.map((d) => readdirSync(path.join(d, 'new')).length),
      [5, 5, 5, 5, 5, 5, 5, 5],
    );
    assert.deepEqual(readdirSync(path.join(dirs[0] as string, 'tmp')), []);
    assert.equal(await writers.write(dirs[0] as string, 'm0', [Buffer.from('again')]), 'exists');
    assert.deepEqual(writers.inFlight(), [0, 0, 0, 0]);
  } finally {
    await writers.close();
  }
});

test('a burst on threads not yet loaded: one thread takes it (another starts only once the first is busy)', { timeout: 30_000 }, async (t) => {
  const root = await tempDir(t);
  const writers = startMaildirWriters({ threads: 4, trim: noTrim });
  try {
    const writes = Array.from({ length: 20 }, (_, i) => writers.write(path.join(root, 'erin'), `m${i}`, [Buffer.from('x')]));
    assert.deepEqual(writers.inFlight(), [20]);
    assert.ok((await Promise.all(writes)).every((r) => r === 'written'));
  } finally {
    await writers.close();
  }
});

test('the writes of one turn cross to the thread in one message; those of later turns in their own', { timeout: 30_000 }, async (t) => {
  const dir = path.join(await tempDir(t), 'fay');
  const writers = startMaildirWriters({ threads: 1, trim: noTrim, entry: new URL('./counting-writer.ts', import.meta.url) });
  try {
    const turn = Array.from({ length: 6 }, (_, i) => writers.write(dir, `m${i}`, [Buffer.from(`message ${i}\r\n`)]));
    assert.ok((await Promise.all(turn)).every((r) => r === 'written'));
    assert.equal(await writers.write(dir, 'later', [Buffer.from('x')]), 'written');
    assert.deepEqual(readFileSync(path.join(dir, 'batches.log'), 'utf8').trim().split('\n'), ['6', '1']);
  } finally {
    await writers.close();
  }
});

test('writes one after another: one thread does them all, in order, and a file-system error comes back with its code', { timeout: 30_000 }, async (t) => {
  const root = await tempDir(t);
  const writers = startMaildirWriters({ threads: 4, busyUtilization: -1, trim: noTrim });
  try {
    const dir = path.join(root, 'alice');
    for (let i = 0; i < 10; i++) {
      assert.equal(await writers.write(dir, `${1_700_000_000 + i}.m${i}`, [Buffer.from(`n${i}`)]), 'written');
      assert.deepEqual(writers.inFlight(), [0], 'no second thread for a write at a time');
    }
    const files = readdirSync(path.join(dir, 'new')).sort();
    assert.deepEqual(
      files.map((f) => readFileSync(path.join(dir, 'new', f), 'latin1')),
      Array.from({ length: 10 }, (_, i) => `n${i}`),
    );
    const notADirectory = path.join(root, 'a-file');
    writeFileSync(notADirectory, '');
    await assert.rejects(writers.write(path.join(notADirectory, 'x'), 'n', [Buffer.from('x')]), { code: 'ENOTDIR' });
    assert.equal(await writers.write(dir, 'after', [Buffer.from('y')]), 'written', 'the thread goes on after an error');
  } finally {
    await writers.close();
  }
});

test('a thread that dies fails its writes in flight (no file in new/), is reported, and the next write starts another', { timeout: 30_000 }, async (t) => {
  const root = await tempDir(t);
  const died: string[] = [];
  let trims = 0;
  const writers = startMaildirWriters({
    threads: 1,
    entry: new URL('./dying-writer.ts', import.meta.url),
    trim: () => trims++,
    onDied: (reason) => died.push(reason),
  });
  try {
    const dir = path.join(root, 'bob');
    // The first waits for its Maildir's mkdir and fsync when "die" arrives: it is in flight.
    const first = writers.write(dir, 'first', [Buffer.from('x')]);
    const death = writers.write(dir, 'die', [Buffer.from('x')]);
    await assert.rejects(first, /Maildir writer thread exited \(code 3\)/);
    await assert.rejects(death, /Maildir writer thread exited \(code 3\)/);
    assert.deepEqual(died, ['the Maildir writer thread exited (code 3)']);
    assert.deepEqual(writers.inFlight(), []);
    assert.equal(trims, 1, 'malloc_trim after the thread ended');
    assert.ok(!existsSync(path.join(dir, 'new', 'first')), 'not delivered: the message stays queued');
    assert.equal(await writers.write(dir, 'first', [Buffer.from('x')]), 'written', 'a new thread, and the retry delivers');
    assert.deepEqual(writers.inFlight(), [0]);
  } finally {
    await writers.close();
  }
  assert.equal(died.length, 1, 'close is not a death');
});

test('idle threads end: the extra ones first, the last after its longer wait; each end trims; a later write starts one again', {
  timeout: 30_000,
}, async (t) => {
  const root = await tempDir(t);
  let trims = 0;
  const writers = startMaildirWriters({ threads: 3, busyUtilization: -1, extraIdleMs: 200, lastIdleMs: 1500, trim: () => trims++ });
  try {
    const dir = path.join(root, 'carol');
    const writes = Array.from({ length: 6 }, (_, i) => writers.write(dir, `m${i}`, [Buffer.from('x')]));
    assert.equal(writers.inFlight().length, 3);
    await Promise.all(writes);
    const idleSince = Date.now();
    await waitFor(() => writers.inFlight().length === 1, { timeoutMs: 5000, intervalMs: 10, what: 'the two extra threads to end' });
    assert.ok(Date.now() - idleSince < 1200, 'the extra threads end after their short wait');
    await waitFor(() => trims === 2, { timeoutMs: 5000, intervalMs: 10, what: 'a trim after each of the two' });
    await waitFor(() => writers.inFlight().length === 0, { timeoutMs: 5000, intervalMs: 10, what: 'the last thread to end' });
    assert.ok(Date.now() - idleSince >= 1400, `the last thread waits longer (${Date.now() - idleSince} ms)`);
    await waitFor(() => trims === 3, { timeoutMs: 5000, intervalMs: 10, what: 'a trim after the last' });
    assert.equal(await writers.write(dir, 'later', [Buffer.from('y')]), 'written');
    assert.deepEqual(writers.inFlight(), [0]);
  } finally {
    await writers.close();
  }
});

test('close waits for the writes in flight, then ends the threads; later writes fail', { timeout: 30_000 }, async (t) => {
  const root = await tempDir(t);
  const writers = startMaildirWriters({ threads: 2, busyUtilization: -1, trim: noTrim });
  const dir = path.join(root, 'dave');
  const writes = Array.from({ length: 4 }, (_, i) => writers.write(dir, `m${i}`, [Buffer.from('x')]));
  await writers.close();
  assert.deepEqual(await Promise.all(writes), ['written', 'written', 'written', 'written']);
  assert.deepEqual(writers.inFlight(), []);
  await assert.rejects(writers.write(dir, 'late', [Buffer.from('x')]), /closed/);
});
