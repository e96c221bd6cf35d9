import assert from 'node:assert/strict';
import { test } from 'node:test';
import { expired, nextAttemptAt } from '../../../src/queue/schedule.ts';

const policy = { minBackoffMs: 300_000, maxBackoffMs: 4 * 3_600_000, maxLifetimeMs: 5 * 86_400_000 };

test('backoff doubles from the minimum up to the maximum', () => {
  const table: [number, number][] = [
    [1, 300_000],
    [2, 600_000],
    [3, 1_200_000],
    [6, 9_600_000],
    [7, 14_400_000],
    [50, 14_400_000],
  ];
  for (const [attempts, delay] of table) assert.equal(nextAttemptAt(attempts, 1000, policy) - 1000, delay, `after ${attempts}`);
  assert.equal(nextAttemptAt(1, 0, policy, 0.5), 315_000, 'jitter adds up to a tenth');
});

test('a recipient expires at the maximum queue lifetime', () => {
  assert.equal(expired(0, policy.maxLifetimeMs - 1, policy), false);
  assert.equal(expired(0, policy.maxLifetimeMs, policy), true);
});
