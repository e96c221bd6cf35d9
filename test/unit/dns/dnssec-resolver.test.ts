import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDnssecResolver, parseServer } from '../../../src/dns/dnssec-resolver.ts';
import { describeProbe, probeValidation } from '../../../src/dns/validation-probe.ts';
import { type DnsServer, startDnsServer } from '../../helpers/dns-server.ts';

let dns: DnsServer;

before(async () => {
  dns = await startDnsServer(
    new Map([
      ['example.test', { MX: [{ preference: 10, exchange: 'MX.Example.TEST.' }], TXT: ['v=spf1 ', `${'a'.repeat(300)}`] }],
      ['mx.example.test', { A: ['192.0.2.1'], AAAA: ['2001:db8::1'] }],
      ['www.example.test', { CNAME: 'mx.example.test' }],
      ['far.example.test', { CNAME: 'mid.test' }],
      ['mid.test', { CNAME: 'other.test' }],
      ['other.test', { A: ['192.0.2.9'] }],
      ['broken.test', { rcode: 'SERVFAIL' }],
      ['silent.test', { rcode: 'DROP' }],
      ['1.2.0.192.in-addr.arpa', { PTR: ['mx.example.test'] }],
      ['ca.test', { CAA: [{ flags: 0, tag: 'issue', value: 'letsencrypt.org' }] }],
    ]),
  );
});

after(() => dns.close());

test('answers from a plain DNS server (no AD bit) are typed and never secure', { timeout: 20_000 }, async () => {
  const r = createDnssecResolver({ servers: [dns.address], timeoutMs: 1000, trustAd: true });
  assert.deepEqual(await r.resolveMx('example.test'), { kind: 'records', records: [{ exchange: 'mx.example.test', preference: 10 }], secure: false });
  assert.deepEqual(await r.resolveTxt('example.test'), { kind: 'records', records: ['v=spf1 ', 'a'.repeat(300)], secure: false });
  assert.deepEqual(await r.resolve4('mx.example.test'), { kind: 'records', records: ['192.0.2.1'], secure: false });
  assert.deepEqual(await r.resolve6('mx.example.test'), { kind: 'records', records: ['2001:db8::1'], secure: false });
  assert.deepEqual(await r.resolveTlsa('_25._tcp.mx.example.test'), { kind: 'nxdomain', secure: false });
  assert.deepEqual(await r.resolveMx('mx.example.test'), { kind: 'nodata', secure: false });
  assert.deepEqual(await r.resolvePtr('1.2.0.192.in-addr.arpa'), { kind: 'records', records: ['mx.example.test'], secure: false });
  assert.deepEqual(await r.reverse('192.0.2.1'), { kind: 'records', records: ['mx.example.test'], secure: false });
  assert.deepEqual(await r.resolveCaa('ca.test'), { kind: 'records', records: ['0 issue "letsencrypt.org"'], secure: false });
  assert.deepEqual(await r.resolveCname('www.example.test'), { kind: 'records', records: ['mx.example.test'], secure: false });
  assert.deepEqual(await r.resolve4('broken.test'), { kind: 'servfail', detail: 'SERVFAIL' });
  assert.equal((await r.resolve4('silent.test')).kind, 'timeout');
});

test('CNAME chains are followed, in the answer and by asking for the target', { timeout: 20_000 }, async () => {
  const r = createDnssecResolver({ servers: [dns.address], timeoutMs: 1000, trustAd: false });
  // canonical: the end of the chain, the TLSA base name of a DANE hop (RFC 7672 §2.2.2).
  assert.deepEqual(await r.resolve4('www.example.test'), { kind: 'records', records: ['192.0.2.1'], secure: false, canonical: 'mx.example.test' });
  // The test server follows one link of a chain: the answer ends at mid.test, which is asked next.
  dns.queries.length = 0;
  assert.deepEqual(await r.resolve4('far.example.test'), { kind: 'records', records: ['192.0.2.9'], secure: false, canonical: 'other.test' });
  assert.deepEqual(dns.queries, ['far.example.test A', 'mid.test A']);
});

test('a server that answers SERVFAIL is skipped for the next one', { timeout: 20_000 }, async () => {
  const silent = await startDnsServer(new Map([['mx.example.test', { rcode: 'SERVFAIL' }]]));
  try {
    const r = createDnssecResolver({ servers: [silent.address, dns.address], timeoutMs: 2000, trustAd: false });
    assert.deepEqual(await r.resolve4('mx.example.test'), { kind: 'records', records: ['192.0.2.1'], secure: false });
    assert.deepEqual(silent.queries, ['mx.example.test A']);
  } finally {
    await silent.close();
  }
});

test('the probe says no, and why, for a server without the root DNSKEY or AD', { timeout: 20_000 }, async () => {
  const probe = await probeValidation([parseServer(dns.address)!], false, 1000);
  assert.equal(probe.validating, false);
  assert.match(describeProbe(probe), /^DNSSEC validation: no \(resolver 127\.0\.0\.1:\d+ answered the root DNSKEY query with NXDOMAIN\)$/);
  dns.zone.set('', { A: ['192.0.2.2'] });
  const noAd = await probeValidation([parseServer(dns.address)!], true, 1000);
  assert.match(noAd.why, /does not validate DNSSEC \(no AD bit/);
  assert.match((await probeValidation([], false, 1000)).why, /no DNS server/);
});

test('server texts: IP, IP:PORT, [IPv6]:PORT', () => {
  assert.deepEqual(parseServer('127.0.0.1'), { host: '127.0.0.1', port: 53 });
  assert.deepEqual(parseServer('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353 });
  assert.deepEqual(parseServer('[::1]:5353'), { host: '::1', port: 5353 });
  assert.deepEqual(parseServer('::1'), { host: '::1', port: 53 });
});
