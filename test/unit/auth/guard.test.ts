import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthGuard, afterFailure, afterReserve, afterSettle, decide, guardKey, MAX_DELAY_MS } from '../../../src/auth/guard.ts';

const policy = { slowAfter: 3, delayMs: 1000, maxFailures: 6, lockoutMs: 900_000, maxConcurrent: 3 };

test('decide: free, then slowed (doubling, capped), then refused until the lockout ends', () => {
  const at = (failures: number, lastFailureAt = 0, inFlight = 0) => ({ failures, lastFailureAt, inFlight });
  const table: [string, ReturnType<typeof at> | undefined, number, ReturnType<typeof decide>][] = [
    ['no record', undefined, 0, { kind: 'allow', delayMs: 0 }],
    ['below slow_after', at(2), 10, { kind: 'allow', delayMs: 0 }],
    ['at slow_after', at(3), 10, { kind: 'allow', delayMs: 1000 }],
    ['one more', at(4), 10, { kind: 'allow', delayMs: 2000 }],
    ['two more', at(5), 10, { kind: 'allow', delayMs: 4000 }],
    ['at max_failures', at(6), 60_000, { kind: 'refuse', retryInMs: 840_000 }],
    ['lockout over', at(6), 900_000, { kind: 'allow', delayMs: 0 }],
    // Attempts in flight count as failures until they settle.
    ['two in flight, none failed', at(0, 0, 2), 10, { kind: 'allow', delayMs: 0 }],
    ['in flight reach slow_after', at(1, 0, 2), 10, { kind: 'allow', delayMs: 1000 }],
    ['at max_concurrent', at(0, 0, 3), 10, { kind: 'busy' }],
    ['failures and in flight reach max_failures', at(4, 0, 2), 10, { kind: 'busy' }],
    ['in flight after old failures expired', at(5, 0, 2), 900_000, { kind: 'allow', delayMs: 0 }],
    ['locked out, attempts still in flight', at(6, 0, 1), 10, { kind: 'refuse', retryInMs: 899_990 }],
  ];
  for (const [what, record, now, expected] of table) assert.deepEqual(decide(record, now, policy), expected, what);
  assert.deepEqual(decide(at(40), 1, { ...policy, maxFailures: 100 }), { kind: 'allow', delayMs: MAX_DELAY_MS }, 'capped');
});

test('afterFailure counts up, and starts over once the old failures are forgotten', () => {
  assert.deepEqual(afterFailure(undefined, 5, policy), { failures: 1, lastFailureAt: 5 });
  assert.deepEqual(afterFailure({ failures: 4, lastFailureAt: 5 }, 10, policy), { failures: 5, lastFailureAt: 10 });
  assert.deepEqual(afterFailure({ failures: 4, lastFailureAt: 5 }, 5 + 900_000, policy), { failures: 1, lastFailureAt: 900_005 });
});

test('afterReserve / afterSettle: a reservation is counted until it fails, succeeds (forgets) or is released', () => {
  assert.deepEqual(afterReserve(undefined, 5, policy), { failures: 0, lastFailureAt: 5, inFlight: 1 });
  assert.deepEqual(afterReserve({ failures: 2, lastFailureAt: 3, inFlight: 1 }, 5, policy), { failures: 2, lastFailureAt: 3, inFlight: 2 });
  assert.deepEqual(
    afterReserve({ failures: 2, lastFailureAt: 3 }, 3 + 900_000, policy),
    { failures: 0, lastFailureAt: 900_003, inFlight: 1 },
    'old failures forgotten',
  );
  assert.deepEqual(afterFailure({ failures: 2, lastFailureAt: 3, inFlight: 2 }, 9, policy), { failures: 3, lastFailureAt: 9, inFlight: 1 });
  assert.deepEqual(afterSettle({ failures: 2, lastFailureAt: 3, inFlight: 2 }, 9, policy, false), { failures: 2, lastFailureAt: 3, inFlight: 1 }, 'released');
  assert.deepEqual(
    afterSettle({ failures: 2, lastFailureAt: 3, inFlight: 2 }, 9, policy, true),
    { failures: 0, lastFailureAt: 3, inFlight: 1 },
    'success forgets the failures',
  );
  assert.equal(afterSettle({ failures: 0, lastFailureAt: 3, inFlight: 1 }, 9, policy, false), undefined, 'nothing left');
  assert.equal(afterSettle({ failures: 2, lastFailureAt: 3 }, 9, policy, true), undefined, 'a success without a reservation forgets');
});

test('AuthGuard.begin: parallel attempts reserve, so no more than max_failures get a password check', () => {
  const guard = new AuthGuard(policy);
  // Ten at once: max_concurrent (3) go ahead, the rest are busy.
  const burst = Array.from({ length: 10 }, () => guard.begin('192.0.2.5', 100).kind);
  assert.deepEqual(burst, ['allow', 'allow', 'allow', 'busy', 'busy', 'busy', 'busy', 'busy', 'busy', 'busy']);
  for (let i = 0; i < 3; i++) guard.failure('192.0.2.5', 200);
  // Three failed; three more may run, and a fourth would pass max_failures (6) together with them.
  assert.deepEqual(
    [0, 1, 2, 3].map(() => guard.begin('192.0.2.5', 300).kind),
    ['allow', 'allow', 'allow', 'busy'],
  );
  guard.release('192.0.2.5', 300);
  assert.equal(guard.begin('192.0.2.5', 300).kind, 'allow', 'a released reservation frees its place');
  for (let i = 0; i < 2; i++) guard.failure('192.0.2.5', 400);
  assert.equal(guard.begin('192.0.2.5', 500).kind, 'busy', 'five failed, one still in flight');
  guard.failure('192.0.2.5', 400);
  assert.equal(guard.begin('192.0.2.5', 500).kind, 'refuse', 'locked out');
  assert.deepEqual(guard.begin('192.0.2.6', 500), { kind: 'allow', delayMs: 0 }, 'other addresses are not affected');
});

test('guardKey: IPv4 as is (also when mapped), IPv6 by /64', () => {
  assert.equal(guardKey('192.0.2.7'), '192.0.2.7');
  assert.equal(guardKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(guardKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(guardKey('2001:DB8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
  assert.equal(guardKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(guardKey('::1'), '0:0:0:0::/64');
});

test('AuthGuard: per network, a success forgets, neighbours in a /64 share the count', () => {
  const guard = new AuthGuard(policy);
  for (let i = 0; i < 3; i++) guard.failure('2001:db8::1', 1000);
  assert.deepEqual(guard.check('2001:db8::2', 1000), { kind: 'allow', delayMs: 1000 });
  assert.deepEqual(guard.check('2001:db9::2', 1000), { kind: 'allow', delayMs: 0 });
  for (let i = 0; i < 3; i++) guard.failure('2001:db8::3', 2000);
  assert.equal(guard.check('2001:db8::1', 3000).kind, 'refuse');
  assert.equal(guard.check('2001:db8::1', 2000 + 900_000).kind, 'allow');
  guard.failure('192.0.2.1', 0);
  guard.success('192.0.2.1');
  assert.equal(guard.failure('192.0.2.1', 1), 1);
});
