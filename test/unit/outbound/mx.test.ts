import assert from 'node:assert/strict';
import { test } from 'node:test';
import { orderMx, walkMx } from '../../../src/outbound/mx.ts';
import { fakeResolver } from '../dns/fake-resolver.ts';

const first = () => 0;
const last = () => 0.999;

test('MX records sorted by preference, shuffled among equals', () => {
  const records = [
    { exchange: 'c', preference: 20 },
    { exchange: 'a1', preference: 10 },
    { exchange: 'a2', preference: 10 },
    { exchange: 'a3', preference: 10 },
  ];
  const orders = new Set<string>();
  let seed = 1;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < 60; i++) {
    const order = orderMx(records, random).map((r) => r.exchange);
    assert.equal(order[3], 'c');
    orders.add(order.slice(0, 3).join(','));
  }
  assert.ok(orders.size > 1, 'equal preferences are shuffled');
  assert.deepEqual(
    orderMx(records, last).map((r) => r.preference),
    [10, 10, 10, 20],
  );
});

const zone = {
  'mx.test': {
    MX: [
      { exchange: 'mx2.mx.test', preference: 20 },
      { exchange: 'mx1.mx.test', preference: 10 },
    ],
  },
  'mx1.mx.test': { A: ['192.0.2.1'], AAAA: ['2001:db8::1'] },
  'mx2.mx.test': { A: ['192.0.2.2'] },
  'implicit.test': { A: ['192.0.2.9'] },
  'nothing.test': {},
  'nullmx.test': { MX: [{ exchange: '', preference: 0 }] },
  'nullmx-dot.test': { MX: [{ exchange: '.', preference: 0 }] },
  'servfail.test': { MX: { kind: 'servfail' as const, detail: 'SERVFAIL' } },
  'timeout.test': { MX: { kind: 'timeout' as const, detail: 'no answer' } },
  'dangling.test': { MX: [{ exchange: 'gone.dangling.test', preference: 10 }] },
  'flaky.test': { MX: [{ exchange: 'mx.flaky.test', preference: 10 }] },
  'mx.flaky.test': { A: { kind: 'timeout' as const, detail: 'x' } },
  'many.test': { MX: Array.from({ length: 8 }, (_, i) => ({ exchange: `mx${i}.many.test`, preference: i })) },
  ...Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`mx${i}.many.test`, { A: [`192.0.2.${10 + i}`] }])),
};

test('the MX walk, table', async () => {
  const resolver = fakeResolver(zone);
  const cases: { domain: string; ipv6?: boolean; max?: number; expect: string }[] = [
    { domain: 'mx.test', expect: 'hosts mx1.mx.test=2001:db8::1,192.0.2.1 mx2.mx.test=192.0.2.2' },
    { domain: 'mx.test', ipv6: false, expect: 'hosts mx1.mx.test=192.0.2.1 mx2.mx.test=192.0.2.2' },
    { domain: 'implicit.test', expect: 'hosts implicit.test=192.0.2.9 (implicit)' },
    { domain: 'nxdomain.test', expect: 'permanent 5.1.2' },
    { domain: 'nothing.test', expect: 'permanent 5.1.2' },
    { domain: 'nullmx.test', expect: 'permanent 5.1.10' },
    { domain: 'nullmx-dot.test', expect: 'permanent 5.1.10' },
    { domain: 'servfail.test', expect: 'transient 4.4.3' },
    { domain: 'timeout.test', expect: 'transient 4.4.3' },
    { domain: 'dangling.test', expect: 'permanent 5.4.4' },
    { domain: 'flaky.test', expect: 'transient 4.4.3' },
    { domain: 'many.test', max: 3, expect: 'hosts mx0.many.test=192.0.2.10 mx1.many.test=192.0.2.11 mx2.many.test=192.0.2.12' },
  ];
  for (const c of cases) {
    const walk = await walkMx(c.domain, resolver, first, { ipv6: c.ipv6 ?? true, maxHosts: c.max ?? 5 });
    const got =
      walk.kind === 'hosts'
        ? `hosts ${walk.hosts.map((h) => `${h.name}=${h.addresses.join(',')}${h.implicit ? ' (implicit)' : ''}`).join(' ')}`
        : `${walk.kind} ${walk.enhanced}`;
    assert.equal(got, c.expect, c.domain);
  }
});

test('reasons name the domain and the cause', async () => {
  const resolver = fakeResolver(zone);
  const nullMx = await walkMx('nullmx.test', resolver, first, { ipv6: true, maxHosts: 5 });
  assert.ok(nullMx.kind === 'permanent' && /null MX/.test(nullMx.reason));
  const flaky = await walkMx('flaky.test', resolver, first, { ipv6: true, maxHosts: 5 });
  assert.ok(flaky.kind === 'transient' && /mx\.flaky\.test.*timeout/.test(flaky.reason), JSON.stringify(flaky));
});
