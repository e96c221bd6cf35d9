import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCodeRange } from '../../../src/config/dnsbl.ts';
import { validateConfig } from '../../../src/config/schema.ts';

const base = { hostname: 'mx.example.org', data_dir: 'data', domain: [{ name: 'example.org', mailboxes: ['alice'] }] };

test('[inbound.dnsbl]: off by default; zones with weights and codes, threshold, allowlists', () => {
  const defaults = validateConfig(base, '/');
  assert.ok(defaults.ok);
  assert.deepEqual(defaults.config.inbound.dnsbl, { zones: [], threshold: 1, allowNetworks: [], allowDomains: [] });
  assert.equal(defaults.config.limits.connectionsPerMinutePerIp, 0);
  const r = validateConfig(
    {
      ...base,
      limits: { connections_per_minute_per_ip: 30 },
      inbound: {
        dnsbl: {
          zones: [{ zone: 'Zen.Spamhaus.org.', weight: 2, codes: ['127.0.0.2-127.0.0.11'] }, { zone: 'bl.spamcop.net' }],
          threshold: 2,
          allow_networks: ['192.0.2.0/24'],
          allow_domains: ['.Partner.example'],
        },
      },
    },
    '/',
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  const d = r.config.inbound.dnsbl;
  assert.deepEqual(
    d.zones.map((z) => [z.zone, z.weight, z.codes.length]),
    [
      ['zen.spamhaus.org', 2, 1],
      ['bl.spamcop.net', 1, 1],
    ],
  );
  assert.equal(d.threshold, 2);
  assert.deepEqual(d.allowDomains, ['partner.example']);
  assert.equal(d.allowNetworks[0]?.prefix, 24);
  assert.equal(r.config.limits.connectionsPerMinutePerIp, 30);
});

test('[inbound.dnsbl]: every problem with its key path', () => {
  const r = validateConfig(
    {
      ...base,
      inbound: {
        dnsbl: {
          zones: [{ zone: 'nodot', weight: 500, codes: ['127.0.0.9-127.0.0.2', 'x'], colour: 'red' }, 'zen.spamhaus.org'],
          threshold: 0,
          allow_networks: ['nonsense'],
          allow_domains: ['localhost'],
          extra: true,
        },
      },
    },
    '/',
  );
  assert.ok(!r.ok);
  assert.deepEqual(r.problems.map((p) => p.path).sort(), [
    'inbound.dnsbl.allow_domains[0]',
    'inbound.dnsbl.allow_networks[0]',
    'inbound.dnsbl.extra',
    'inbound.dnsbl.threshold',
    'inbound.dnsbl.zones[0].codes[0]',
    'inbound.dnsbl.zones[0].codes[1]',
    'inbound.dnsbl.zones[0].colour',
    'inbound.dnsbl.zones[0].weight',
    'inbound.dnsbl.zones[0].zone',
    'inbound.dnsbl.zones[1]',
  ]);
});

test('parseCodeRange: one answer or an inclusive range', () => {
  assert.deepEqual(parseCodeRange('127.0.0.2'), { from: 0x7f000002, to: 0x7f000002 });
  assert.deepEqual(parseCodeRange('127.0.0.2-127.0.0.11'), { from: 0x7f000002, to: 0x7f00000b });
  assert.match(String(parseCodeRange('127.0.0.11-127.0.0.2')), /ends before it begins/);
  assert.match(String(parseCodeRange('127.0.0.256')), /not an answer/);
});
