import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SharedAnvil } from '../../../src/cluster/shared-anvil.ts';

const limits = { connections: 100, perAddress: 2, perNetwork: 3, perMinute: 0, rateExempt: () => false };

test('per-address and per-network counts span processes; a left session frees its slot', () => {
  const anvil = new SharedAnvil(limits, () => 0);
  assert.deepEqual(anvil.admit('mx', '192.0.2.1', 1), { kind: 'accept' });
  assert.deepEqual(anvil.admit('mx', '192.0.2.1', 2), { kind: 'accept' });
  assert.deepEqual(anvil.admit('mx', '192.0.2.1', 1), { kind: 'refuse', limit: 'address' });
  // Another role counts apart (port 587 has its own table, as with one process).
  assert.deepEqual(anvil.admit('submission', '192.0.2.1', 1), { kind: 'accept' });
  assert.deepEqual(anvil.admit('mx', '192.0.2.7', 2), { kind: 'accept' });
  assert.deepEqual(anvil.admit('mx', '192.0.2.8', 2), { kind: 'refuse', limit: 'network' });
  anvil.left('mx', '192.0.2.1', 2);
  assert.equal(anvil.openFor('mx', '192.0.2.1'), 1);
  assert.deepEqual(anvil.admit('mx', '192.0.2.1', 1), { kind: 'accept' });
  // A "left" for a session the process never held changes nothing.
  anvil.left('mx', '198.51.100.1', 1);
  anvil.left('mx', '192.0.2.7', 1);
  assert.equal(anvil.openFor('mx', '192.0.2.7'), 1);
});

test('a dead process takes its sessions with it', () => {
  const anvil = new SharedAnvil(limits, () => 0);
  anvil.admit('mx', '192.0.2.1', 1);
  anvil.admit('mx', '192.0.2.1', 2);
  anvil.gone(1);
  assert.equal(anvil.openFor('mx', '192.0.2.1'), 1);
  anvil.gone(2);
  assert.equal(anvil.openFor('mx', '192.0.2.1'), 0);
  assert.deepEqual(anvil.admit('mx', '192.0.2.1', 3), { kind: 'accept' });
});

test('the per-minute rate counts on port 25 only, not for exempt networks, across processes', () => {
  let now = 0;
  const anvil = new SharedAnvil({ ...limits, perAddress: 100, perNetwork: 100, perMinute: 2, rateExempt: (ip) => ip === '127.0.0.1' }, () => now);
  assert.equal(anvil.admit('mx', '192.0.2.1', 1).kind, 'accept');
  assert.equal(anvil.admit('mx', '192.0.2.1', 2).kind, 'accept');
  assert.deepEqual(anvil.admit('mx', '192.0.2.1', 1), { kind: 'refuse', limit: 'rate' });
  assert.equal(anvil.admit('submission', '192.0.2.1', 1).kind, 'accept');
  for (let i = 0; i < 5; i++) assert.equal(anvil.admit('mx', '127.0.0.1', 1).kind, 'accept');
  now = 60_000;
  assert.equal(anvil.admit('mx', '192.0.2.1', 1).kind, 'accept');
});

test('limits.connections counts every process together', () => {
  const anvil = new SharedAnvil({ ...limits, connections: 2 }, () => 0);
  assert.equal(anvil.admit('mx', '192.0.2.1', 1).kind, 'accept');
  assert.equal(anvil.admit('mx', '198.51.100.1', 2).kind, 'accept');
  assert.deepEqual(anvil.admit('mx', '203.0.113.1', 1), { kind: 'refuse', limit: 'total' });
  anvil.gone(2);
  assert.equal(anvil.admit('mx', '203.0.113.1', 1).kind, 'accept');
});
