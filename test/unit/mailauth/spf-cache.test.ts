// The SPF result cache: a settled verdict is reused for its window by the same ip, HELO and sender;
// a temperror, a missing result or a failure is asked again; concurrent asks share one evaluation.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SPFResult, SpfInput } from '../../../src/mailauth/checks.ts';
import { cachedSpf } from '../../../src/mailauth/spf-cache.ts';

const input: SpfInput = { ip: '192.0.2.1', helo: 'mx.sender.test', sender: 'a@sender.test' };
const verdict = (result: string) => ({ status: { result }, header: `Received-SPF: ${result}` }) as unknown as SPFResult;

function counted(answers: (() => Promise<SPFResult | undefined>)[]) {
  const asked: SpfInput[] = [];
  return {
    asked,
    check: (i: SpfInput) => {
      asked.push(i);
      const next = answers[Math.min(asked.length - 1, answers.length - 1)];
      if (!next) throw new Error('no answer');
      return next();
    },
  };
}

test('cachedSpf: which results are reused within the window, and which are asked again', { timeout: 5000 }, async () => {
  const table: { answer: () => Promise<SPFResult | undefined>; kept: boolean }[] = [
    { answer: async () => verdict('pass'), kept: true },
    { answer: async () => verdict('fail'), kept: true },
    { answer: async () => verdict('softfail'), kept: true },
    { answer: async () => verdict('none'), kept: true },
    { answer: async () => verdict('permerror'), kept: true },
    { answer: async () => verdict('temperror'), kept: false },
    { answer: async () => undefined, kept: false },
    { answer: () => Promise.reject(new Error('mailauth bug')), kept: false },
  ];
  for (const c of table) {
    let now = 1000;
    const { asked, check } = counted([c.answer]);
    const spf = cachedSpf(check, { now: () => now, keepMs: 30_000 });
    await spf(input).catch(() => {});
    now += 29_000;
    await spf(input).catch(() => {});
    assert.equal(asked.length, c.kept ? 1 : 2, JSON.stringify(await c.answer().catch((e: Error) => e.message)));
  }
});

test('cachedSpf: the key is the whole input, the window ends, concurrent asks share one evaluation', { timeout: 5000 }, async () => {
  let now = 0;
  let release: (r: SPFResult) => void = () => {};
  const pending = new Promise<SPFResult>((resolve) => {
    release = resolve;
  });
  const { asked, check } = counted([() => pending, async () => verdict('pass')]);
  const spf = cachedSpf(check, { now: () => now, keepMs: 30_000 });
  const first = spf(input);
  const second = spf(input);
  assert.equal(asked.length, 1, 'one evaluation in flight for both');
  release(verdict('fail'));
  assert.equal((await first)?.status.result, 'fail');
  assert.equal((await second)?.status.result, 'fail');
  for (const other of [
    { ...input, ip: '192.0.2.2' },
    { ...input, helo: 'other.test' },
    { ...input, sender: 'b@sender.test' },
  ])
    await spf(other);
  assert.equal(asked.length, 4, 'another ip, HELO or sender is another evaluation');
  now += 30_001;
  assert.equal((await spf(input))?.status.result, 'pass', 'past the window: evaluated again');
  assert.equal(asked.length, 5);
});

test('cachedSpf: bounded, the oldest entry out first', { timeout: 5000 }, async () => {
  const { asked, check } = counted([async () => verdict('pass')]);
  const spf = cachedSpf(check, { now: () => 0, maxEntries: 2 });
  for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) await spf({ ...input, ip });
  await spf({ ...input, ip: '192.0.2.3' });
  assert.equal(asked.length, 3, 'the newest is kept');
  await spf({ ...input, ip: '192.0.2.1' });
  assert.equal(asked.length, 4, 'the oldest was let go');
});
