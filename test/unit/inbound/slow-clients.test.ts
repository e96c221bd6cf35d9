import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  afterData,
  type DataClock,
  type Deadline,
  dataProgressing,
  deadline,
  type EvictionCandidate,
  pickEviction,
  type SessionClock,
  startData,
  timeoutMs,
  underStress,
} from '../../../src/inbound/slow-clients.ts';

const policy = { commandMs: 15_000, stressMs: 10_000, dataMinRate: 500 };

test('stress mode from 80 % of the connection limit until below 70 %; its timeout is the shorter one', () => {
  const table: [number, number, boolean, boolean][] = [
    [0, 100, false, false],
    [79, 100, false, false],
    [80, 100, false, true],
    [100, 100, false, true],
    [79, 100, true, true],
    [70, 100, true, true],
    [69, 100, true, false],
    [3, 3, false, true],
    [2, 3, false, false],
    [2, 3, true, false],
    [1, 1, false, true],
    [0, 1, true, false],
  ];
  for (const [open, limit, was, expected] of table) assert.equal(underStress(open, limit, was), expected, `${open}/${limit}, stressed before: ${was}`);
  assert.equal(timeoutMs(policy, false), 15_000);
  assert.equal(timeoutMs(policy, true), 10_000);
  assert.equal(timeoutMs({ ...policy, commandMs: 5_000 }, true), 5_000, 'never longer than the command timeout');
});

test('deadline: none while busy; idle from our reply, a command line from its first byte, DATA by its credit', () => {
  const clock: DataClock = { startedAt: 1000, at: 4000, creditMs: 12_000, bytes: 10 };
  const table: [string, SessionClock, boolean, Deadline | undefined][] = [
    ['busy', { kind: 'busy' }, false, undefined],
    ['idle', { kind: 'idle', since: 1000 }, false, { at: 16_000, reason: 'idle' }],
    ['idle, stressed', { kind: 'idle', since: 1000 }, true, { at: 11_000, reason: 'idle' }],
    ['command line', { kind: 'command', since: 2000 }, false, { at: 17_000, reason: 'command' }],
    ['command line, stressed', { kind: 'command', since: 2000 }, true, { at: 12_000, reason: 'command' }],
    ['data', { kind: 'data', clock }, false, { at: 16_000, reason: 'data' }],
    ['data, stressed: the credit is cut to the stress timeout', { kind: 'data', clock }, true, { at: 14_000, reason: 'data' }],
  ];
  for (const [what, session, stressed, expected] of table) assert.deepEqual(deadline(session, policy, stressed), expected, what);
});

/** Feeds `bytes` every `everyMs` from t=0; returns when the DATA deadline passes (or undefined within `forMs`). */
function runsOutAt(bytes: number, everyMs: number, forMs: number, stressed = false): number | undefined {
  let clock = startData(0, policy, stressed);
  for (let now = everyMs; now <= forMs; now += everyMs) {
    const due = deadline({ kind: 'data', clock }, policy, stressed);
    if (due && due.at < now) return due.at;
    clock = afterData(clock, bytes, now, policy, stressed);
  }
  const due = deadline({ kind: 'data', clock }, policy, stressed);
  return due && due.at <= forMs ? due.at : undefined;
}

test('DATA credit: a byte every 5 s runs out at the timeout; the minimum rate and a slow real link never do', () => {
  // The attack of issue 11: one byte every 5 s.
  const trickle = runsOutAt(1, 5000, 60_000);
  assert.ok(trickle !== undefined && trickle <= 15_100, `a byte every 5 s ran out at ${trickle}`);
  // Half the minimum rate: out after about twice the timeout.
  const half = runsOutAt(250, 1000, 60_000);
  assert.ok(half !== undefined && half > 25_000 && half < 35_000, `half the rate ran out at ${half}`);
  // Exactly the minimum rate, in 1 s steps, for an hour.
  assert.equal(runsOutAt(500, 1000, 3_600_000), undefined);
  // A 9600 bit/s link (1200 bytes/s) whose bytes come in bursts 10 s apart.
  assert.equal(runsOutAt(12_000, 10_000, 3_600_000), undefined);
  // A fast start earns no more than the timeout: 1 MB at once, then silence, runs out 15 s later.
  let clock = afterData(startData(0, policy, false), 1_000_000, 100, policy, false);
  assert.deepEqual(deadline({ kind: 'data', clock }, policy, false), { at: 15_100, reason: 'data' });
  // Bytes that come after the credit ran out do not bring it back.
  clock = afterData(clock, 1_000_000, 20_000, policy, false);
  assert.ok(clock.creditMs <= 0);
  assert.ok((deadline({ kind: 'data', clock }, policy, false)?.at ?? Number.POSITIVE_INFINITY) <= 20_000);
});

test('dataProgressing: the average rate since DATA began, after a first second of grace', () => {
  const clock = (bytes: number): DataClock => ({ startedAt: 0, at: 0, creditMs: 15_000, bytes });
  assert.equal(dataProgressing(clock(0), 500, policy), true, 'just begun');
  assert.equal(dataProgressing(clock(5000), 10_000, policy), true, 'at the minimum rate');
  assert.equal(dataProgressing(clock(4999), 10_000, policy), false, 'below it');
  assert.equal(dataProgressing(clock(2), 10_000, policy), false, 'a trickle');
});

test('pickEviction: the session stuck longest, never one that waits for us or sends DATA at a good rate', () => {
  const now = 100_000;
  const c = (id: string, lastProgressAt: number, extra: Partial<EvictionCandidate> = {}): EvictionCandidate => ({
    id,
    openedAt: 0,
    busy: false,
    dataProgressing: false,
    lastProgressAt,
    ...extra,
  });
  const table: [string, EvictionCandidate[], string | undefined][] = [
    ['nobody', [], undefined],
    ['the one stuck longest', [c('a', 90_000), c('b', 50_000), c('c', 99_500)], 'b'],
    ['a tie: the oldest session', [c('a', 50_000, { openedAt: 40_000 }), c('b', 50_000, { openedAt: 30_000 })], 'b'],
    ['not one that waits for our reply', [c('busy', 0, { busy: true }), c('a', 80_000)], 'a'],
    ['not a DATA at a good rate', [c('data', 0, { dataProgressing: true }), c('a', 80_000)], 'a'],
    ['not one stuck for less than a second', [c('fresh', 99_200)], undefined],
    ['only busy or progressing ones: none', [c('busy', 0, { busy: true }), c('data', 0, { dataProgressing: true })], undefined],
  ];
  for (const [what, candidates, expected] of table) assert.equal(pickEviction(candidates, now)?.id, expected, what);
});
