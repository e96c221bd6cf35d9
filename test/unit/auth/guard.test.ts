import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthGuard, MAX_DELAY_MS, afterFailure, decide, guardKey } from '../../../src/auth/guard.ts';

const policy = { slowAfter: 3, delayMs: 1000, maxFailures: 6, lockoutMs: 900_000 };

test('decide: free, then slowed (doubling, capped), then refused until the lockout ends', () => {
  const at = (failures: number, lastFailureAt = 0) => ({ failures, lastFailureAt });
  const table: [string, ReturnType<typeof at> | undefined, number, ReturnType<typeof decide>][] = [
    ['no record', undefined, 0, { kind: 'allow', delayMs: 0 }],
    ['below slow_after', at(2), 10, { kind: 'allow', delayMs: 0 }],
    ['at slow_after', at(3), 10, { kind: 'allow', delayMs: 1000 }],
    ['one more', at(4), 10, { kind: 'allow', delayMs: 2000 }],
    ['two more', at(5), 10, { kind: 'allow', delayMs: 4000 }],
    ['at max_failures', at(6), 60_000, { kind: 'refuse', retryInMs: 840_000 }],
    ['lockout over', at(6), 900_000, { kind: 'allow', delayMs: 0 }],
  ];
  for (const [what, record, now, expected] of table) assert.deepEqual(decide(record, now, policy), expected, what);
  assert.deepEqual(decide(at(40), 1, { ...policy, maxFailures: 100 }), { kind: 'allow', delayMs: MAX_DELAY_MS }, 'capped');
});

test('afterFailure counts up, and starts over once the old failures are forgotten', () => {
  assert.deepEqual(afterFailure(undefined, 5, policy), { failures: 1, lastFailureAt: 5 });
  assert.deepEqual(afterFailure({ failures: 4, lastFailureAt: 5 }, 10, policy), { failures: 5, lastFailureAt: 10 });
  assert.deepEqual(afterFailure({ failures: 4, lastFailureAt: 5 }, 5 + 900_000, policy), { failures: 1, lastFailureAt: 900_005 });
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
