import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../../src/config/schema.ts';

const base = { hostname: 'mx.example.test', data_dir: '/tmp/x', domain: [{ name: 'example.test', mailboxes: ['a'] }] };

test('[outbound] and [queue] defaults', () => {
  const r = validateConfig(base, '/etc');
  assert.ok(r.ok);
  assert.deepEqual(r.config.outbound, {
    port: 25,
    tlsDefault: 'dane',
    tlsPolicy: {},
    caFile: '',
    mtaSts: true,
    ipv6: true,
    addressFamily: 'any',
    prefer: 'ipv6',
    concurrency: 100,
    concurrencyPerDestination: 20,
    connectTimeoutSeconds: 30,
    commandTimeoutSeconds: 300,
    maxMxHosts: 5,
  });
  assert.deepEqual(r.config.queue, {
    minBackoffMs: 300_000,
    maxBackoffMs: 14_400_000,
    maxLifetimeMs: 432_000_000,
    delayWarningMs: 14_400_000,
    attemptsRetentionMs: 2_592_000_000,
  });
});

test('[outbound] values, tls_policy keys canonical', () => {
  const r = validateConfig(
    {
      ...base,
      outbound: {
        port: 2525,
        tls_default: 'verify',
        ca_file: 'ca.pem',
        ipv6: false,
        tls_policy: { 'Example.ORG': 'verify', '.example.net': 'encrypt', 'legacy.example': 'none' },
      },
      queue: { min_backoff: '30s', max_backoff: '1h', max_lifetime: '2d', delay_warning: '0', attempts_retention: '7d' },
    },
    '/etc/sealpost',
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  assert.equal(r.config.outbound.port, 2525);
  assert.equal(r.config.outbound.caFile, '/etc/sealpost/ca.pem');
  assert.deepEqual(r.config.outbound.tlsPolicy, { 'example.org': 'verify', '.example.net': 'encrypt', 'legacy.example': 'none' });
  assert.deepEqual(r.config.queue, {
    minBackoffMs: 30_000,
    maxBackoffMs: 3_600_000,
    maxLifetimeMs: 172_800_000,
    delayWarningMs: 0,
    attemptsRetentionMs: 604_800_000,
  });
});

test('every problem with its key path', () => {
  const r = validateConfig(
    {
      ...base,
      outbound: { tls_default: 'danish', tls_policy: { 'bad..name': 'verify', 'ok.test': 'secure' }, port: 0, bogus: 1 },
      queue: { min_backoff: '5 minutes', max_backoff: '1m', max_lifetime: '0' },
    },
    '/etc',
  );
  assert.ok(!r.ok);
  const paths = r.problems.map((p) => p.path).sort();
  assert.deepEqual(paths, [
    'outbound.bogus',
    'outbound.port',
    'outbound.tls_default',
    'outbound.tls_policy."bad..name"',
    'outbound.tls_policy."ok.test"',
    'queue.max_lifetime',
    'queue.min_backoff',
  ]);
});

test('[outbound] source addresses and address families: values, and every problem with its key path and fix', () => {
  const ok = validateConfig({ ...base, outbound: { source_ipv4: '127.0.0.2', source_ipv6: '[::1]', prefer: 'ipv4' } }, '/etc');
  assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.problems));
  assert.equal(ok.config.outbound.sourceIpv4, '127.0.0.2');
  assert.equal(ok.config.outbound.sourceIpv6, '::1');
  assert.equal(ok.config.outbound.prefer, 'ipv4');
  assert.equal(ok.config.outbound.addressFamily, 'any');
  const v4 = validateConfig({ ...base, outbound: { address_family: 'ipv4' } }, '/etc');
  assert.ok(v4.ok && v4.config.outbound.ipv6 === false, 'address_family = "ipv4" turns IPv6 off everywhere');
  const moot = validateConfig({ ...base, outbound: { address_family: 'ipv6', prefer: 'ipv4' } }, '/etc');
  assert.ok(moot.ok);
  assert.deepEqual(
    moot.warnings.map((w) => `${w.path}: ${w.message}`),
    ['outbound.prefer: has no effect with address_family = "ipv6" (only one family is used); remove it or set address_family = "any"'],
  );
  const old = validateConfig({ ...base, outbound: { ipv6: false } }, '/etc');
  assert.ok(old.ok && old.config.outbound.addressFamily === 'ipv4', 'ipv6 = false still means IPv4 only');

  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ source_ipv4: '2001:db8::7' }, 'outbound.source_ipv4', /not an IPv4 address \(an IPv6 address: use source_ipv6\)/],
    [{ source_ipv6: '203.0.113.7' }, 'outbound.source_ipv6', /not an IPv6 address \(an IPv4 address: use source_ipv4\)/],
    [{ source_ipv4: 'mx.example.org' }, 'outbound.source_ipv4', /not an IPv4 address; write one of this machine's addresses/],
    [{ address_family: 'ipv4', source_ipv6: '::1' }, 'outbound.source_ipv6', /never used: address_family = "ipv4"/],
    [{ address_family: 'ipv6', source_ipv4: '127.0.0.2' }, 'outbound.source_ipv4', /never used: address_family = "ipv6"/],
    [{ address_family: 'both' }, 'outbound.address_family', /must be one of "any", "ipv4", "ipv6"/],
    [{ prefer: 'ipv5' }, 'outbound.prefer', /must be one of "ipv6", "ipv4"/],
    [{ ipv6: false, address_family: 'any' }, 'outbound.ipv6', /address_family = "ipv4" says the same/],
  ];
  for (const [outbound, keyPath, message] of cases) {
    const r = validateConfig({ ...base, outbound }, '/etc');
    assert.ok(!r.ok, JSON.stringify(outbound));
    assert.deepEqual(
      r.problems.map((p) => p.path),
      [keyPath],
      JSON.stringify(outbound),
    );
    assert.match(r.problems[0]?.message ?? '', message);
  }
});
