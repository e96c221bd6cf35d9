import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../../src/config/schema.ts';

const base = { hostname: 'mx.example.org', data_dir: 'data', domain: [{ name: 'example.org', mailboxes: ['alice'] }] };

test("[doctor] defaults: no addresses (the machine's), the three DNSBLs, dbl, gmail.com, at start-up", () => {
  const r = validateConfig(base, '/etc/sealpost');
  assert.ok(r.ok);
  assert.deepEqual(r.config.doctor, {
    addresses: [],
    dnsbl: ['zen.spamhaus.org', 'bl.spamcop.net', 'b.barracudacentral.org'],
    domainDnsbl: ['dbl.spamhaus.org'],
    probeMx: 'gmail.com',
    atStartup: true,
  });
});

test('[doctor] problems name their key path and the fix', () => {
  const r = validateConfig(
    { ...base, doctor: { addresses: ['203.0.113.7', '203.0.113.0/24'], dnsbl: ['nodots'], probe_mx: '127.0.0.1:99999', at_startup: 'yes', probes: 1 } },
    '/etc/sealpost',
  );
  assert.ok(!r.ok);
  const paths = r.problems.map((p) => p.path);
  assert.deepEqual(paths.sort(), ['doctor.addresses[1]', 'doctor.at_startup', 'doctor.dnsbl[0]', 'doctor.probe_mx', 'doctor.probes'].sort());
  assert.match(r.problems.find((p) => p.path === 'doctor.addresses[1]')?.message ?? '', /no port, no prefix/);
});

test('[doctor] probe_mx takes a domain or IP:PORT', () => {
  for (const probe of ['gmail.com', '127.0.0.1:2525', '[::1]:25']) {
    const r = validateConfig({ ...base, doctor: { probe_mx: probe } }, '/etc/sealpost');
    assert.ok(r.ok, probe);
    assert.equal(r.config.doctor.probeMx, probe);
  }
});
