import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../../src/config/load.ts';
import { validateConfig } from '../../../src/config/schema.ts';
import { MIN_FREE_FLOOR_MB } from '../../../src/config/types.ts';

const root = path.join(import.meta.dirname, '..', '..', '..');

test('the example and the dev config validate', async () => {
  for (const file of ['config/sealpost.example.toml', 'config/sealpost.dev.toml']) {
    const loaded = await loadConfig(path.join(root, file));
    assert.ok(loaded.ok, `${file}: ${JSON.stringify(!loaded.ok && loaded.problems)}`);
  }
});

test('defaults fill what a minimal config leaves out, and the result is frozen', () => {
  const r = validateConfig({ hostname: 'MX.Example.ORG', data_dir: 'data', domain: [{ name: 'Example.ORG', mailboxes: ['Alice'] }] }, '/etc/sealpost');
  assert.ok(r.ok);
  assert.equal(r.config.hostname, 'mx.example.org');
  assert.equal(r.config.dataDir, '/etc/sealpost/data');
  assert.deepEqual(r.config.listen.smtp, [
    { host: '0.0.0.0', port: 25 },
    { host: '::', port: 25 },
  ]);
  assert.equal(r.config.tls.minVersion, 'TLSv1.2');
  assert.deepEqual(r.config.domains[0]?.mailboxes, ['alice']);
  assert.ok(Object.isFrozen(r.config.limits));
});

test('every problem is reported at once, each with its key path and a fix', () => {
  const r = validateConfig(
    {
      hostnme: 'x',
      data_dir: 5,
      listen: { smtp: ['localhost:25'] },
      tls: { min_version: 'SSLv3', cert_file: 'a.pem' },
      dns: { servers: ['dns.example:53'] },
      domain: [{ name: 'ok.test', mailboxes: ['a'], aliases: { b: 'nobody' }, catch_all: 'zed' }, { name: 'ok.test' }],
      relay: { networks: ['10.0.0.0/33'] },
      limits: { message_size: -1 },
    },
    '/',
  );
  assert.ok(!r.ok);
  const paths = r.problems.map((p) => p.path);
  for (const expected of [
    'hostnme',
    'hostname',
    'data_dir',
    'listen.smtp[0]',
    'tls.min_version',
    'tls.key_file',
    'dns.servers[0]',
    'domain[0].aliases.b',
    'domain[0].catch_all',
    'domain[1].name',
    'relay.networks[0]',
    'limits.message_size',
  ]) {
    assert.ok(paths.includes(expected), `missing problem for ${expected}: ${JSON.stringify(r.problems, null, 1)}`);
  }
  assert.match(r.problems.find((p) => p.path === 'hostnme')?.message ?? '', /did you mean "hostname"/);
  assert.match(r.problems.find((p) => p.path === 'listen.smtp[0]')?.message ?? '', /"localhost" is not an IP address/);
});

test('[limits] slow-client keys: defaults, connections_per_net derived from connections_per_ip, and its floor', () => {
  const base = { hostname: 'mx.example.org', data_dir: 'data', domain: [{ name: 'example.org', mailboxes: ['alice'] }] };
  const defaults = validateConfig(base, '/');
  assert.ok(defaults.ok);
  const { connectionsPerIp, connectionsPerNet, stressTimeoutSeconds, dataMinRate } = defaults.config.limits;
  assert.deepEqual(
    { connectionsPerIp, connectionsPerNet, stressTimeoutSeconds, dataMinRate },
    { connectionsPerIp: 50, connectionsPerNet: 100, stressTimeoutSeconds: 10, dataMinRate: 500 },
  );
  const derived = validateConfig({ ...base, limits: { connections_per_ip: 80 } }, '/');
  assert.ok(derived.ok);
  assert.equal(derived.config.limits.connectionsPerNet, 160);
  const bad = validateConfig({ ...base, limits: { connections_per_ip: 10, connections_per_net: 5, data_min_rate: 0, stress_timeout_s: 0 } }, '/');
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems.map((p) => p.path).sort(), ['limits.connections_per_net', 'limits.data_min_rate', 'limits.stress_timeout_s']);
  assert.match(bad.problems.find((p) => p.path === 'limits.connections_per_net')?.message ?? '', /smaller than limits\.connections_per_ip \(10\)/);
});

test('inbound.min_free_mb below the floor, 0 included, means the floor', () => {
  const base = { hostname: 'mx.example.org', data_dir: 'data', domain: [{ name: 'example.org', mailboxes: ['alice'] }] };
  const at = (minFree: number) => {
    const r = validateConfig({ ...base, inbound: { min_free_mb: minFree } }, '/etc/sealpost');
    assert.ok(r.ok);
    return r.config.inbound.minFreeMegabytes;
  };
  assert.equal(at(0), MIN_FREE_FLOOR_MB);
  assert.equal(at(1), MIN_FREE_FLOOR_MB);
  assert.equal(at(500), 500);
  assert.ok(MIN_FREE_FLOOR_MB >= 4, 'room for one WAL checkpoint');
});

test('[dns] trust_ad: false unless set; a non-boolean is a problem at its key', () => {
  const base = { hostname: 'mx.example.org', data_dir: 'data', domain: [{ name: 'example.org', mailboxes: ['alice'] }] };
  const defaults = validateConfig(base, '/');
  assert.ok(defaults.ok);
  assert.equal(defaults.config.dns.trustAd, false);
  const set = validateConfig({ ...base, dns: { servers: ['192.0.2.53'], trust_ad: true } }, '/');
  assert.ok(set.ok);
  assert.equal(set.config.dns.trustAd, true);
  const wrong = validateConfig({ ...base, dns: { trust_ad: 'yes' } }, '/');
  assert.ok(!wrong.ok);
  assert.deepEqual(
    wrong.problems.map((p) => p.path),
    ['dns.trust_ad'],
  );
});

test('listen.metrics: off by default, port 9309 by default, a warning off loopback', () => {
  const base = { hostname: 'mx.example.org', data_dir: 'data', domain: [{ name: 'example.org', mailboxes: ['a'] }] };
  const off = validateConfig(base, '/etc/sealpost');
  assert.ok(off.ok);
  assert.deepEqual(off.config.listen.metrics, []);
  const on = validateConfig({ ...base, listen: { metrics: ['127.0.0.1', '[::1]:9100'] } }, '/etc/sealpost');
  assert.ok(on.ok);
  assert.deepEqual(on.config.listen.metrics, [
    { host: '127.0.0.1', port: 9309 },
    { host: '::1', port: 9100 },
  ]);
  assert.deepEqual(on.warnings, []);
  const wide = validateConfig({ ...base, listen: { metrics: ['0.0.0.0:9309'] } }, '/etc/sealpost');
  assert.ok(wide.ok);
  assert.deepEqual(
    wide.warnings.map((w) => w.path),
    ['listen.metrics[0]'],
  );
  assert.match(wide.warnings[0]?.message ?? '', /no password/);
  const bad = validateConfig({ ...base, listen: { metrics: ['metrics.example:x'] } }, '/etc/sealpost');
  assert.ok(!bad.ok);
  assert.ok(
    bad.problems.some((p) => p.path.startsWith('listen.metrics')),
    JSON.stringify(bad.problems),
  );
});
