import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyReloadable, planReload } from '../../../src/config/reload.ts';
import { validateConfig } from '../../../src/config/schema.ts';
import type { Config } from '../../../src/config/types.ts';

const BASE = {
  hostname: 'mx.example.org',
  data_dir: '/var/lib/sealpost',
  listen: { smtp: ['0.0.0.0:25'] },
  domain: [{ name: 'example.org', mailboxes: ['alice'], aliases: { postmaster: 'alice' } }],
  outbound: { tls_policy: { 'a.example': 'verify', '.b.example': 'encrypt' } },
};

function config(overrides: Record<string, unknown> = {}): Config {
  const r = validateConfig({ ...BASE, ...overrides }, '/etc/sealpost');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.config;
}

test('which changes apply at once and which need a restart, table', () => {
  const cases: [string, Record<string, unknown>, string[], string[]][] = [
    ['nothing changed', {}, [], []],
    ['the same table in another order', { outbound: { tls_policy: { '.b.example': 'encrypt', 'a.example': 'verify' } } }, [], []],
    ['a new mailbox', { domain: [{ name: 'example.org', mailboxes: ['alice', 'carol'], aliases: { postmaster: 'alice' } }] }, ['domain'], []],
    ['a new domain', { domain: [...BASE.domain, { name: 'example.net', mailboxes: ['bob'] }] }, ['domain'], []],
    [
      'TLS policy table and default',
      { outbound: { tls_policy: { 'a.example': 'may' }, tls_default: 'encrypt' } },
      ['outbound.tls_default', 'outbound.tls_policy'],
      [],
    ],
    ['log level', { log: { level: 'debug' } }, ['log.level'], []],
    ['listener address', { listen: { smtp: ['0.0.0.0:2525'] } }, [], ['listen.smtp']],
    // The SRS secret's default place is in data_dir: it moves with it.
    ['data dir and hostname', { data_dir: '/srv/mail', hostname: 'mx2.example.org' }, [], ['hostname', 'data_dir', 'srs.secret_file']],
    [
      'timeouts keep their TOML names',
      { outbound: { ...BASE.outbound, connect_timeout_s: 10 }, queue: { min_backoff: '1m' } },
      [],
      ['outbound.connect_timeout_s', 'queue.min_backoff'],
    ],
    ['relay networks need a restart', { relay: { networks: ['10.0.0.0/8'] } }, [], ['relay.networks']],
    ['[mta_sts] needs a restart', { mta_sts: { max_age: '2w', extra_mx: ['b.example.test'] } }, [], ['mta_sts.max_age', 'mta_sts.extra_mx']],
    ['rspamd turned on needs a restart', { inbound: { rspamd: { url: 'http://127.0.0.1:11333' } } }, [], ['inbound.rspamd']],
    [
      'slow-client limits need a restart',
      { limits: { stress_timeout_s: 5, data_min_rate: 1000, connections_per_net: 200 } },
      [],
      ['limits.connections_per_net', 'limits.stress_timeout_s', 'limits.data_min_rate'],
    ],
    [
      'both kinds at once',
      { listen: { smtp: ['127.0.0.1:25'] }, domain: [{ name: 'example.org', mailboxes: ['alice', 'bob'] }], tls: { cert_file: 'c.pem', key_file: 'k.pem' } },
      ['domain'],
      ['listen.smtp', 'tls.cert_file', 'tls.key_file'],
    ],
  ];
  const current = config();
  for (const [name, overrides, applied, restart] of cases) {
    const plan = planReload(current, config(overrides));
    assert.deepEqual(
      plan.applied.map((c) => c.key),
      applied,
      `${name}: applied`,
    );
    assert.deepEqual(plan.restart.map((c) => c.key).sort(), [...restart].sort(), `${name}: restart`);
  }
  const scanning = config({ inbound: { rspamd: { url: 'http://127.0.0.1:11333' } } });
  const retuned = planReload(scanning, config({ inbound: { rspamd: { url: 'http://127.0.0.1:11333', timeout_ms: 500, junk_folder: true } } }));
  assert.deepEqual(retuned.restart.map((c) => c.key).sort(), ['inbound.rspamd.junk_folder', 'inbound.rspamd.timeout_ms'], 'rspamd keys keep their TOML names');
  const moved = planReload(current, config({ listen: { smtp: ['0.0.0.0:2525'] } })).restart[0];
  assert.deepEqual(moved, { key: 'listen.smtp', from: [{ host: '0.0.0.0', port: 25 }], to: [{ host: '0.0.0.0', port: 2525 }] });
});

test('after a reload: new reloadable settings, old values for the rest; the courier sees the new snapshot, a held one never changes', () => {
  const current = config();
  const next = config({
    listen: { smtp: ['0.0.0.0:2525'] },
    domain: [{ name: 'example.net', mailboxes: ['bob'] }],
    outbound: { tls_policy: { 'c.example': 'none' }, tls_default: 'verify', port: 2525 },
  });
  let inForce = current;
  // What main.ts hands the remote courier: the [outbound] snapshot in force.
  const outbound = () => inForce.outbound;
  const held = outbound();
  assert.equal(outbound().tlsDefault, 'dane');
  inForce = applyReloadable(current, next);
  assert.deepEqual(
    inForce.domains.map((d) => d.name),
    ['example.net'],
  );
  assert.deepEqual(inForce.listen.smtp, [{ host: '0.0.0.0', port: 25 }], 'the listener stays until a restart');
  assert.equal(inForce.outbound.port, 25, 'outbound.port stays until a restart');
  assert.ok(Object.isFrozen(inForce));
  // The snapshot in force follows the reload for tls_policy and tls_default only.
  assert.equal(outbound().tlsDefault, 'verify');
  assert.deepEqual(outbound().tlsPolicy, { 'c.example': 'none' });
  assert.equal(outbound().port, 25);
  assert.ok(Object.isFrozen(outbound()) && Object.isFrozen(outbound().tlsPolicy), 'an immutable snapshot');
  // A delivery under way holds the snapshot it started with: the reload swapped the reference, not its values.
  assert.notEqual(held, outbound());
  assert.equal(held.tlsDefault, 'dane');
  assert.deepEqual(held.tlsPolicy, { 'a.example': 'verify', '.b.example': 'encrypt' });
  // Reloading the same file again leaves the restart-only change reported, nothing to apply.
  const again = planReload(inForce, next);
  assert.deepEqual(again.applied, []);
  // srs.domain: its default (the first domain) changed with the domains; SRS keeps its domain until a restart.
  assert.deepEqual(again.restart.map((c) => c.key).sort(), ['listen.smtp', 'outbound.port', 'srs.domain']);
});
