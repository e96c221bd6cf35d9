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
