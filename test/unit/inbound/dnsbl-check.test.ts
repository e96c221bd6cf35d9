import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DnsblConfig } from '../../../src/config/types.ts';
import type { DnsAnswer } from '../../../src/dns/resolver.ts';
import { createDnsblCheck, type DnsblResolver, logDnsblProblems, oncePerZone } from '../../../src/inbound/dnsbl-check.ts';
import { captureLog } from '../../helpers/log.ts';

const ANY = [{ from: 0x7f000002, to: 0x7fffffff }];

function fakeResolver(a: Record<string, string[]>, ptr: Record<string, string[]> = {}) {
  const asked: string[] = [];
  const answer = (table: Record<string, string[]>, name: string): Promise<DnsAnswer<string>> => {
    asked.push(name);
    const r = table[name];
    return Promise.resolve(r ? { kind: 'records', records: r } : { kind: 'nxdomain' });
  };
  const resolver: DnsblResolver = {
    resolve4: (name) => answer(a, name),
    resolve6: (name) => answer(a, name),
    resolvePtr: (name) => answer(ptr, name),
  };
  return { resolver, asked };
}

const config = (over: Partial<DnsblConfig> = {}): DnsblConfig => ({
  zones: [
    { zone: 'one.test', weight: 1, codes: ANY },
    { zone: 'two.test', weight: 1, codes: ANY },
  ],
  threshold: 2,
  allowNetworks: [],
  allowDomains: [],
  ...over,
});

test('dnsbl check: every zone is asked; listed in both reaches the threshold', async () => {
  const { resolver, asked } = fakeResolver({ '2.2.0.192.one.test': ['127.0.0.2'], '2.2.0.192.two.test': ['127.0.0.3'] });
  const check = createDnsblCheck(config(), resolver, logDnsblProblems(captureLog().log));
  const v = await check('192.0.2.2');
  assert.equal(v.kind, 'refuse');
  assert.deepEqual(asked.sort(), ['2.2.0.192.one.test', '2.2.0.192.two.test']);
  assert.equal((await check('192.0.2.3')).kind, 'pass');
});

test('dnsbl check: allow_networks are never looked up; allow_domains need a forward-confirmed reverse name', async () => {
  const listedEverywhere = { '5.2.0.192.one.test': ['127.0.0.2'], '5.2.0.192.two.test': ['127.0.0.2'], 'mx.partner.test': ['192.0.2.5'] };
  const byNet = fakeResolver(listedEverywhere);
  const net = await createDnsblCheck(
    config({ allowNetworks: [{ address: '192.0.2.0', prefix: 24, family: 'ipv4' }] }),
    byNet.resolver,
    logDnsblProblems(captureLog().log),
  )('192.0.2.5');
  assert.deepEqual(net, { kind: 'allowed', by: 'network' });
  assert.deepEqual(byNet.asked, []);

  const confirmed = fakeResolver(listedEverywhere, { '5.2.0.192.in-addr.arpa': ['mx.partner.test.'] });
  const byName = await createDnsblCheck(config({ allowDomains: ['partner.test'] }), confirmed.resolver, logDnsblProblems(captureLog().log))('192.0.2.5');
  assert.deepEqual(byName, { kind: 'allowed', by: 'domain', name: 'mx.partner.test' });

  // A PTR its owner points at an allowed domain, without the forward record: not allowed.
  const forged = fakeResolver({ ...listedEverywhere, 'mx.partner.test': ['198.51.100.1'] }, { '5.2.0.192.in-addr.arpa': ['mx.partner.test'] });
  const v = await createDnsblCheck(config({ allowDomains: ['partner.test'] }), forged.resolver, logDnsblProblems(captureLog().log))('192.0.2.5');
  assert.equal(v.kind, 'refuse');
});

test('dnsbl check: a "query refused" zone is logged once as a configuration problem and lists no one', async () => {
  const { resolver } = fakeResolver({
    '7.2.0.192.one.test': ['127.255.255.254'],
    '8.2.0.192.one.test': ['127.255.255.254'],
    '7.2.0.192.two.test': ['127.0.0.2'],
  });
  const { log, records } = captureLog();
  const check = createDnsblCheck(config({ threshold: 1 }), resolver, logDnsblProblems(log));
  const first = await check('192.0.2.7');
  assert.equal(first.kind, 'refuse');
  assert.equal(first.kind === 'refuse' && first.zone, 'two.test');
  assert.equal((await check('192.0.2.8')).kind, 'pass');
  const problems = records.filter((r) => r['problem'] === 'dnsbl');
  assert.equal(problems.length, 1);
  assert.equal(problems[0]?.['zone'], 'one.test');
  assert.match(String(problems[0]?.['msg']), /local resolver/);
});

test('dnsbl check: session processes each tell a zone once, and the primary logs it once for all', async () => {
  const { resolver } = fakeResolver({ '7.2.0.192.one.test': ['127.255.255.254'], '8.2.0.192.one.test': ['127.255.255.254'] });
  const { log, records } = captureLog();
  const primary = logDnsblProblems(log);
  const told: string[] = [];
  const sessionProcess = () =>
    createDnsblCheck(
      config(),
      resolver,
      oncePerZone((p) => {
        told.push(p.zone);
        primary(p);
      }),
    );
  const [one, two] = [sessionProcess(), sessionProcess()];
  for (const ip of ['192.0.2.7', '192.0.2.8']) {
    await one(ip);
    await two(ip);
  }
  assert.deepEqual(told, ['one.test', 'one.test'], 'each process tells the primary once');
  assert.equal(records.filter((r) => r['problem'] === 'dnsbl').length, 1);
});
