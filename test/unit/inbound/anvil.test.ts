import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Anvil, type AnvilEvent, type AnvilMember } from '../../../src/inbound/anvil.ts';
import type { EvictionCandidate } from '../../../src/inbound/slow-clients.ts';

/** A session made of data: its eviction view, and what the anvil did to it. */
class FakeSession implements AnvilMember {
  evicted = false;
  rearmed = 0;
  readonly remoteAddress: string;
  readonly view: Omit<EvictionCandidate, 'id'>;
  private readonly anvil: Anvil;
  constructor(remoteAddress: string, view: Omit<EvictionCandidate, 'id'>, anvil: Anvil) {
    this.remoteAddress = remoteAddress;
    this.view = view;
    this.anvil = anvil;
  }
  candidate(): EvictionCandidate {
    return { id: this.remoteAddress + this.view.openedAt, ...this.view };
  }
  evict(): void {
    this.evicted = true;
    this.anvil.leave(this);
  }
  rearm(): void {
    this.rearmed++;
  }
}

function setup(limits = { connections: 5, perAddress: 2, perNetwork: 3 }) {
  let now = 10_000;
  const events: AnvilEvent[] = [];
  const anvil = new Anvil({ limits, policy: { commandMs: 300_000, stressMs: 10_000, dataMinRate: 500 }, now: () => now, report: (e) => events.push(e) });
  const session = (ip: string, view: Partial<EvictionCandidate> = {}) =>
    new FakeSession(ip, { openedAt: now, busy: false, dataProgressing: false, lastProgressAt: now, ...view }, anvil);
  return { anvil, events, session, tick: (ms: number) => (now += ms) };
}

test('anvil: per address (IPv6 /64), per network, and a slot freed by leave', () => {
  const { anvil, events, session } = setup();
  const a = session('2001:db8:1:2::1');
  assert.deepEqual(anvil.enter(a), { kind: 'accept' });
  assert.deepEqual(anvil.enter(session('2001:db8:1:2::ffff')), { kind: 'accept' });
  assert.deepEqual(anvil.enter(session('2001:db8:1:2:dead::1')), { kind: 'refuse', limit: 'address' }, 'the same /64');
  assert.deepEqual(anvil.enter(session('2001:db8:1:3::1')), { kind: 'accept' }, 'another /64 of the /48');
  assert.deepEqual(anvil.enter(session('2001:db8:1:4::1')), { kind: 'refuse', limit: 'network' }, 'a fourth of the /48');
  assert.deepEqual(anvil.enter(session('::ffff:192.0.2.1')), { kind: 'accept' });
  assert.deepEqual(anvil.enter(session('192.0.2.1')), { kind: 'accept' }, 'mapped and plain IPv4 are one address');
  assert.deepEqual(anvil.enter(session('192.0.2.1')), { kind: 'refuse', limit: 'address' });
  anvil.leave(a);
  anvil.leave(a);
  assert.equal(anvil.open, 4, 'leave is idempotent');
  assert.deepEqual(anvil.enter(session('2001:db8:1:2::7')), { kind: 'accept' });
  assert.deepEqual(
    events.filter((e) => e.kind === 'refused').map((e) => e.kind === 'refused' && e.limit),
    ['address', 'network', 'address'],
  );
});

test('anvil: stress mode at 80 % (existing sessions rearmed), off below 70 %', () => {
  const { anvil, events, session } = setup({ connections: 10, perAddress: 10, perNetwork: 10 });
  const sessions = Array.from({ length: 8 }, (_, i) => session(`192.0.2.${i}`));
  for (const s of sessions.slice(0, 7)) anvil.enter(s);
  assert.equal(anvil.stressed, false);
  anvil.enter(sessions[7] as FakeSession);
  assert.equal(anvil.stressed, true);
  assert.deepEqual(
    sessions.map((s) => s.rearmed),
    [1, 1, 1, 1, 1, 1, 1, 1],
  );
  anvil.leave(sessions[0] as FakeSession);
  assert.equal(anvil.stressed, true, '7 of 10: still on');
  anvil.leave(sessions[1] as FakeSession);
  assert.equal(anvil.stressed, false);
  assert.deepEqual(
    events.filter((e) => e.kind === 'stress'),
    [
      { kind: 'stress', on: true, open: 8, limit: 10 },
      { kind: 'stress', on: false, open: 6, limit: 10 },
    ],
  );
});

test('anvil: when full, the session stuck longest makes room; none stuck: refused', () => {
  const { anvil, events, session, tick } = setup({ connections: 3, perAddress: 3, perNetwork: 3 });
  const busy = session('192.0.2.1', { busy: true, lastProgressAt: 0 });
  const stuck = session('192.0.2.2');
  const active = session('192.0.2.3');
  for (const s of [busy, stuck, active]) anvil.enter(s);
  // Nobody stuck for a second yet: refused, like before.
  assert.deepEqual(anvil.enter(session('198.51.100.1')), { kind: 'refuse', limit: 'total' });
  tick(5_000);
  (active.view as { lastProgressAt: number }).lastProgressAt = 14_500;
  assert.deepEqual(anvil.enter(session('198.51.100.2')), { kind: 'accept' });
  assert.deepEqual(
    [busy, stuck, active].map((s) => s.evicted),
    [false, true, false],
  );
  assert.equal(anvil.open, 3);
  const evicted = events.find((e) => e.kind === 'evicted');
  assert.deepEqual(evicted, { kind: 'evicted', clientIp: '192.0.2.2', stuckMs: 5_000, ageMs: 5_000, open: 3 });
});

test('anvil: connections_per_minute_per_ip refuses the next connection within a minute; exempt addresses are not counted', () => {
  let now = 10_000;
  const events: AnvilEvent[] = [];
  const anvil = new Anvil({
    limits: { connections: 100, perAddress: 100, perNetwork: 100 },
    policy: { commandMs: 300_000, stressMs: 10_000, dataMinRate: 500 },
    now: () => now,
    report: (e) => events.push(e),
    perMinute: 2,
    rateExempt: (ip) => ip === '127.0.0.1',
  });
  const session = (ip: string) => new FakeSession(ip, { openedAt: now, busy: false, dataProgressing: false, lastProgressAt: now }, anvil);
  for (let i = 0; i < 2; i++) {
    const s = session('192.0.2.1');
    assert.equal(anvil.enter(s).kind, 'accept');
    anvil.leave(s);
  }
  assert.deepEqual(anvil.enter(session('192.0.2.1')), { kind: 'refuse', limit: 'rate' });
  assert.deepEqual(events.at(-1), { kind: 'refused', clientIp: '192.0.2.1', limit: 'rate', open: 0 });
  // Another address, and an exempt one, are not affected.
  assert.equal(anvil.enter(session('192.0.2.2')).kind, 'accept');
  for (let i = 0; i < 5; i++) assert.equal(anvil.enter(session('127.0.0.1')).kind, 'accept');
  now += 60_000;
  assert.equal(anvil.enter(session('192.0.2.1')).kind, 'accept');
});
