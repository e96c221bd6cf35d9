import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DnsAnswer, TlsaRecord } from '../../../src/dns/resolver.ts';
import { lookupDane } from '../../../src/outbound/dane-lookup.ts';
import { walkMx } from '../../../src/outbound/mx.ts';
import { fakeResolver } from '../dns/fake-resolver.ts';

const ee: TlsaRecord = { usage: 3, selector: 1, matchingType: 1, data: 'ab'.repeat(32) };
const secure = <T>(records: T[]): DnsAnswer<T> => ({ kind: 'records', records, secure: true });

function tlsa(zone: Record<string, DnsAnswer<TlsaRecord>>, asked: string[] = []) {
  return {
    resolveTlsa: async (name: string): Promise<DnsAnswer<TlsaRecord>> => {
      asked.push(name);
      return zone[name] ?? { kind: 'nxdomain', secure: true };
    },
  };
}

test('RFC 7672 §2.2: the MX walk keeps whether the MX and address answers were secure, and the CNAME target', async () => {
  const resolver = fakeResolver({
    'dest.test': { MX: secure([{ exchange: 'mx.dest.test', preference: 10 }]) },
    'mx.dest.test': { A: { kind: 'records', records: ['192.0.2.1'], secure: true, canonical: 'real.dest.test' }, AAAA: { kind: 'nodata', secure: true } },
    'open.test': { MX: [{ exchange: 'mx.open.test', preference: 10 }] },
    'mx.open.test': { A: ['192.0.2.2'] },
  });
  const walk = await walkMx('dest.test', resolver, () => 0, { maxHosts: 5, family: 'any', prefer: 'ipv6', dnssec: true });
  assert.ok(walk.kind === 'hosts');
  assert.deepEqual(walk.hosts[0]?.secure, { mx: true, addresses: true });
  assert.equal(walk.hosts[0]?.canonical, 'real.dest.test');
  const open = await walkMx('open.test', resolver, () => 0, { maxHosts: 5, family: 'any', prefer: 'ipv6', dnssec: true });
  assert.ok(open.kind === 'hosts');
  assert.deepEqual(open.hosts[0]?.secure, { mx: false, addresses: false });
  // Without the DNSSEC resolver, hosts carry no such facts.
  const plain = await walkMx('dest.test', resolver, () => 0, { maxHosts: 5, family: 'any', prefer: 'ipv6' });
  assert.ok(plain.kind === 'hosts' && plain.hosts[0]?.secure === undefined);
});

test('the DANE lookup of one MX host, table', async () => {
  const host = { name: 'mx.dest.test', preference: 10, implicit: false, addresses: ['192.0.2.1'], secure: { mx: true, addresses: true } };
  const cases: [string, typeof host & { canonical?: string }, Record<string, DnsAnswer<TlsaRecord>>, string, string[]][] = [
    ['secure TLSA', host, { '_25._tcp.mx.dest.test': secure([ee]) }, 'records mx.dest.test', ['_25._tcp.mx.dest.test']],
    ['insecure MX: no TLSA asked', { ...host, secure: { mx: false, addresses: true } }, {}, 'insecure', []],
    ['insecure addresses: no TLSA asked', { ...host, secure: { mx: true, addresses: false } }, {}, 'insecure', []],
    ['TLSA SERVFAIL', host, { '_25._tcp.mx.dest.test': { kind: 'servfail', detail: 'SERVFAIL' } }, 'failed', ['_25._tcp.mx.dest.test']],
    ['TLSA timeout', host, { '_25._tcp.mx.dest.test': { kind: 'timeout', detail: 'no answer' } }, 'failed', ['_25._tcp.mx.dest.test']],
    ['insecure TLSA', host, { '_25._tcp.mx.dest.test': { kind: 'records', records: [ee], secure: false } }, 'insecure', ['_25._tcp.mx.dest.test']],
    ['secure denial', host, {}, 'none', ['_25._tcp.mx.dest.test']],
    [
      'CNAME: the target first',
      { ...host, canonical: 'real.dest.test' },
      { '_25._tcp.real.dest.test': secure([ee]), '_25._tcp.mx.dest.test': secure([ee]) },
      'records real.dest.test',
      ['_25._tcp.real.dest.test'],
    ],
    [
      'CNAME: the MX name when the target has none',
      { ...host, canonical: 'real.dest.test' },
      { '_25._tcp.mx.dest.test': secure([ee]) },
      'records mx.dest.test',
      ['_25._tcp.real.dest.test', '_25._tcp.mx.dest.test'],
    ],
  ];
  for (const [name, h, zone, want, wantAsked] of cases) {
    const asked: string[] = [];
    const got = await lookupDane(tlsa(zone, asked), h, 25);
    assert.equal(got.kind === 'records' ? `records ${got.base}` : got.kind, want, name);
    assert.deepEqual(asked, wantAsked, name);
  }
});
