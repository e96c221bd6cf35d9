import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Admission, admit, clientKeys, type OpenCounts, rateAdmit } from '../../../src/inbound/client-limits.ts';

test('clientKeys: IPv4 address and /24; IPv6 /64 and /48; IPv4-mapped IPv6 counts as IPv4', () => {
  const table: [string, string, string][] = [
    ['192.0.2.7', '192.0.2.7', '192.0.2.0/24'],
    ['127.1.0.1', '127.1.0.1', '127.1.0.0/24'],
    ['::ffff:192.0.2.7', '192.0.2.7', '192.0.2.0/24'],
    ['::FFFF:192.0.2.7', '192.0.2.7', '192.0.2.0/24'],
    ['::ffff:c000:207', '192.0.2.7', '192.0.2.0/24'],
    ['0:0:0:0:0:ffff:192.0.2.7', '192.0.2.7', '192.0.2.0/24'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64', '2001:db8:1::/48'],
    ['2001:db8:1:2::99', '2001:db8:1:2::/64', '2001:db8:1::/48'],
    ['2001:0DB8:0001:0002:ffff::1', '2001:db8:1:2::/64', '2001:db8:1::/48'],
    ['2001:db8::1', '2001:db8:0:0::/64', '2001:db8:0::/48'],
    ['::1', '0:0:0:0::/64', '0:0:0::/48'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64', 'fe80:0:0::/48'],
    ['64:ff9b::192.0.2.7', '64:ff9b:0:0::/64', '64:ff9b:0::/48'],
    ['not an address', 'not an address', 'not an address'],
    ['1:2:3', '1:2:3', '1:2:3'],
    ['1::2::3', '1::2::3', '1::2::3'],
    ['300.1.1.1', '300.1.1.1', '300.1.1.1'],
  ];
  for (const [ip, address, network] of table) assert.deepEqual(clientKeys(ip), { address, network }, ip);
  // Two hosts in one /64 are one client; two /64s of one /48 are two clients of one network.
  assert.equal(clientKeys('2001:db8:1:2::a').address, clientKeys('2001:db8:1:2:ffff:ffff:ffff:ffff').address);
  assert.notEqual(clientKeys('2001:db8:1:2::a').address, clientKeys('2001:db8:1:3::a').address);
  assert.equal(clientKeys('2001:db8:1:2::a').network, clientKeys('2001:db8:1:3::a').network);
});

test('admit: the address limit, then the network limit, then the total', () => {
  const limits = { connections: 10, perAddress: 2, perNetwork: 4 };
  const open = (total: number, address: number, network: number): OpenCounts => ({ total, address, network });
  const table: [string, OpenCounts, Admission][] = [
    ['nothing open', open(0, 0, 0), { kind: 'accept' }],
    ['one below every limit', open(9, 1, 3), { kind: 'accept' }],
    ['address at its limit', open(2, 2, 2), { kind: 'refuse', limit: 'address' }],
    ['address at its limit, server full too', open(10, 2, 4), { kind: 'refuse', limit: 'address' }],
    ['network at its limit', open(4, 1, 4), { kind: 'refuse', limit: 'network' }],
    ['network at its limit, server full too', open(10, 0, 4), { kind: 'refuse', limit: 'network' }],
    ['server full', open(10, 0, 0), { kind: 'full' }],
  ];
  for (const [what, counts, expected] of table) assert.deepEqual(admit(counts, limits), expected, what);
});

test('rateAdmit: a sliding minute per address; 0 is no limit', () => {
  const cases: [string, number[], number, number, boolean, number][] = [
    ['under the limit', [1000, 2000], 3000, 3, true, 2],
    ['at the limit', [1000, 2000, 2500], 3000, 3, false, 3],
    ['old ones leave the window', [1000, 2000, 2500], 61_000, 3, true, 2],
    ['exactly a minute ago is out', [1000], 61_000, 1, true, 0],
    ['no limit', [1, 2, 3, 4], 5, 0, true, 4],
  ];
  for (const [name, opened, now, limit, ok, recent] of cases) {
    const r = rateAdmit(opened, now, limit);
    assert.equal(r.ok, ok, name);
    assert.equal(r.recent.length, recent, name);
  }
});
