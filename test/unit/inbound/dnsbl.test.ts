import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCodeRange } from '../../../src/config/dnsbl.ts';
import type { DnsblZone } from '../../../src/config/types.ts';
import type { DnsAnswer } from '../../../src/dns/resolver.ts';
import { dnsblReply, dnsblVerdict, inDomain, ptrName, reversedAddress, type ZoneResult, zoneResult } from '../../../src/inbound/dnsbl.ts';

const range = (text: string) => {
  const r = parseCodeRange(text);
  if (typeof r === 'string') throw new Error(r);
  return r;
};
const zen: DnsblZone = { zone: 'zen.spamhaus.org', weight: 2, codes: [range('127.0.0.2-127.0.0.11')] };
const wide: DnsblZone = { zone: 'any.example', weight: 1, codes: [range('127.0.0.2-127.255.255.255')] };
const records = (...r: string[]): DnsAnswer<string> => ({ kind: 'records', records: r });

test('dnsbl: the query name of a client address (RFC 5782 §2.1, §2.4)', () => {
  const cases: [string, string | undefined][] = [
    ['192.0.2.99', '99.2.0.192'],
    ['::ffff:192.0.2.99', '99.2.0.192'],
    ['2001:db8:1:2:3:4:567:89ab', 'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2'],
    ['2001:db8::1', '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2'],
    ['300.1.1.1', undefined],
    ['not an address', undefined],
  ];
  for (const [ip, want] of cases) assert.equal(reversedAddress(ip), want, ip);
  assert.equal(ptrName('192.0.2.99'), '99.2.0.192.in-addr.arpa');
  assert.match(ptrName('2001:db8::1') ?? '', /\.8\.b\.d\.0\.1\.0\.0\.2\.ip6\.arpa$/);
});

test('dnsbl: answer codes, and the refused-answer rule before them', () => {
  const cases: [string, DnsblZone, DnsAnswer<string>, ZoneResult['kind'], string?][] = [
    ['listed inside the codes', zen, records('127.0.0.2'), 'listed'],
    ['the last code of the range', zen, records('127.0.0.11'), 'listed'],
    ['outside the codes (PBL-only style answer filtered out)', zen, records('127.0.0.12'), 'clean'],
    ['one answer of several in the codes', zen, records('127.0.0.20', '127.0.0.4'), 'listed'],
    ['NXDOMAIN: not listed', zen, { kind: 'nxdomain' }, 'clean'],
    ['NODATA: not listed', zen, { kind: 'nodata' }, 'clean'],
    ['Spamhaus: public resolver', zen, records('127.255.255.254'), 'unavailable', 'refused'],
    ['Spamhaus: typing error', zen, records('127.255.255.252'), 'unavailable', 'refused'],
    ['Spamhaus: too many queries', zen, records('127.255.255.255'), 'unavailable', 'refused'],
    ['refused wins even where the codes cover it', wide, records('127.255.255.254'), 'unavailable', 'refused'],
    ['refused beside a listing code', zen, records('127.0.0.2', '127.255.255.254'), 'unavailable', 'refused'],
    ['outside 127/8: a resolver that rewrites NXDOMAIN', wide, records('198.51.100.7'), 'unavailable', 'bad-answer'],
    ['SERVFAIL', zen, { kind: 'servfail', detail: 'SERVFAIL' }, 'unavailable', 'temporary'],
    ['timeout', zen, { kind: 'timeout', detail: 'x' }, 'unavailable', 'temporary'],
  ];
  for (const [name, zone, answer, kind, why] of cases) {
    const r = zoneResult(zone, answer);
    assert.equal(r.kind, kind, name);
    if (why) assert.equal(r.kind === 'unavailable' && r.why, why, name);
  }
});

test('dnsbl: the score is the sum of the listing weights; refused at or above the threshold, naming the heaviest zone', () => {
  const listed = (zone: string, weight: number): ZoneResult => ({ zone, kind: 'listed', answer: '127.0.0.2', weight });
  const clean = (zone: string): ZoneResult => ({ zone, kind: 'clean' });
  const unavailable = (zone: string): ZoneResult => ({ zone, kind: 'unavailable', why: 'refused', answer: '127.255.255.254' });
  const cases: [string, ZoneResult[], number, 'pass' | 'refuse', number, string?][] = [
    ['none listed', [clean('a.test'), clean('b.test')], 1, 'pass', 0],
    ['one listing at the threshold', [listed('a.test', 2), clean('b.test')], 2, 'refuse', 2, 'a.test'],
    ['one listing below the threshold', [listed('a.test', 1)], 2, 'pass', 1],
    ['two listings add up', [listed('a.test', 1), listed('b.test', 1)], 2, 'refuse', 2, 'a.test'],
    ['the heaviest zone is named', [listed('a.test', 1), listed('b.test', 3)], 2, 'refuse', 4, 'b.test'],
    ['an allowlist zone (negative weight) lowers the score', [listed('a.test', 2), listed('wl.test', -2)], 1, 'pass', 0],
    ['unavailable zones count nothing', [unavailable('a.test'), unavailable('b.test')], 1, 'pass', 0],
    ['no zones', [], 1, 'pass', 0],
  ];
  for (const [name, results, threshold, kind, score, zone] of cases) {
    const v = dnsblVerdict(results, threshold);
    assert.equal(v.kind, kind, name);
    assert.equal(v.score, score, name);
    if (zone) assert.equal(v.kind === 'refuse' && v.zone, zone, name);
  }
});

test('dnsbl: the reply text and allow_domains matching', () => {
  assert.equal(dnsblReply('192.0.2.1', 'zen.spamhaus.org'), '5.7.1 Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org');
  assert.equal(inDomain('mail.example.org', 'example.org'), true);
  assert.equal(inDomain('example.org', 'example.org'), true);
  assert.equal(inDomain('badexample.org', 'example.org'), false);
});
