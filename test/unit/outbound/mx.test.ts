import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AddressFamily, PreferFamily } from '../../../src/config/types.ts';
import { orderAddresses, orderMx, walkHost, walkMx } from '../../../src/outbound/mx.ts';
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

const ANY = { family: 'any', prefer: 'ipv6', maxHosts: 5 } as const;

test('address order by address_family and prefer, table', () => {
  const v6 = ['2001:db8::1', '2001:db8::2'];
  const v4 = ['192.0.2.1', '192.0.2.2'];
  const cases: [AddressFamily, PreferFamily, string[]][] = [
    ['any', 'ipv6', [...v6, ...v4]],
    ['any', 'ipv4', [...v4, ...v6]],
    ['ipv4', 'ipv6', v4],
    ['ipv4', 'ipv4', v4],
    ['ipv6', 'ipv4', v6],
    ['ipv6', 'ipv6', v6],
  ];
  for (const [family, prefer, expect] of cases) assert.deepEqual(orderAddresses(v6, v4, family, prefer), expect, `${family}/${prefer}`);
  assert.deepEqual(orderAddresses([], v4, 'any', 'ipv6'), v4, 'only one family published');
});

test('a bracketed next hop of a family not used is deferred, not tried', async () => {
  const resolver = fakeResolver(zone);
  const v6 = await walkHost('::1', resolver, { ...ANY, family: 'ipv4' });
  assert.ok(v6.kind === 'transient' && /address_family "ipv4"/.test(v6.reason), JSON.stringify(v6));
  const v4 = await walkHost('127.0.0.1', resolver, { ...ANY, family: 'ipv4' });
  assert.ok(v4.kind === 'hosts' && v4.hosts[0]?.addresses[0] === '127.0.0.1');
});

test('the MX walk, table', async () => {
  const resolver = fakeResolver(zone);
  const cases: { domain: string; family?: AddressFamily; prefer?: PreferFamily; max?: number; expect: string }[] = [
    { domain: 'mx.test', expect: 'hosts mx1.mx.test=2001:db8::1,192.0.2.1 mx2.mx.test=192.0.2.2' },
    { domain: 'mx.test', family: 'ipv4', expect: 'hosts mx1.mx.test=192.0.2.1 mx2.mx.test=192.0.2.2' },
    { domain: 'mx.test', prefer: 'ipv4', expect: 'hosts mx1.mx.test=192.0.2.1,2001:db8::1 mx2.mx.test=192.0.2.2' },
    // mx2 has no AAAA: dropped from the walk, not a reason to fail it.
    { domain: 'mx.test', family: 'ipv6', expect: 'hosts mx1.mx.test=2001:db8::1' },
    { domain: 'implicit.test', family: 'ipv6', expect: 'permanent 5.1.2' },
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
    const walk = await walkMx(c.domain, resolver, first, { family: c.family ?? 'any', prefer: c.prefer ?? 'ipv6', maxHosts: c.max ?? 5 });
    const got =
      walk.kind === 'hosts'
        ? `hosts ${walk.hosts.map((h) => `${h.name}=${h.addresses.join(',')}${h.implicit ? ' (implicit)' : ''}`).join(' ')}`
        : `${walk.kind} ${walk.enhanced}`;
    assert.equal(got, c.expect, c.domain);
  }
});

test('reasons name the domain and the cause', async () => {
  const resolver = fakeResolver(zone);
  const nullMx = await walkMx('nullmx.test', resolver, first, ANY);
  assert.ok(nullMx.kind === 'permanent' && /null MX/.test(nullMx.reason));
  const flaky = await walkMx('flaky.test', resolver, first, ANY);
  assert.ok(flaky.kind === 'transient' && /mx\.flaky\.test.*timeout/.test(flaky.reason), JSON.stringify(flaky));
});
