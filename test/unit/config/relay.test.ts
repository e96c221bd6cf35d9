// relay.networks bounds (src/config/relay.ts through validateConfig) and the config warnings
// class: a table of networks → refused, allowed with one warning, or fine.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { relayWidth } from '../../../src/config/relay.ts';
import { validateConfig } from '../../../src/config/schema.ts';

const base = { hostname: 'mx.example.org', data_dir: '/var/lib/sealpost', domain: [{ name: 'example.org', mailboxes: ['a'] }] };
const eightSlash8s = Array.from({ length: 256 }, (_, i) => `${i}.0.0.0/8`);

describe('relay.networks: how much of the Internet may relay', { timeout: 10_000 }, () => {
  const cases: { networks: string[]; refused: string[]; why: string }[] = [
    { networks: ['0.0.0.0/0'], refused: ['relay.networks[0]'], why: 'all of IPv4' },
    { networks: ['::/0'], refused: ['relay.networks[0]'], why: 'all of IPv6' },
    { networks: ['0.0.0.0/1', '128.0.0.0/1'], refused: ['relay.networks[0]', 'relay.networks[1]'], why: 'two /1s' },
    { networks: ['10.0.0.0/7'], refused: ['relay.networks[0]'], why: 'one prefix shorter than /8' },
    { networks: ['2001:db8::/31'], refused: ['relay.networks[0]'], why: 'IPv6 shorter than /32' },
    { networks: ['::ffff:0.0.0.0/96'], refused: ['relay.networks[0]'], why: 'all IPv4-mapped addresses, matched as IPv4' },
    { networks: eightSlash8s, refused: ['relay.networks'], why: '256 /8s: each fine, together all of IPv4' },
    { networks: ['1.0.0.0/8', '2.0.0.0/8', '3.0.0.0/8', '4.0.0.0/8', '5.0.0.0/8'], refused: ['relay.networks'], why: 'five /8s together' },
    {
      networks: ['2001:db8::/32', '2001:db9::/32', '2001:dba::/32', '2001:dbb::/32', '2001:dbc::/32'],
      refused: ['relay.networks'],
      why: 'five IPv6 /32s together',
    },
    {
      networks: ['127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '::1/128', 'fd00::/32'],
      refused: [],
      why: 'loopback, RFC 1918, CGNAT: fine',
    },
    { networks: ['127.0.0.1/32', '::1/128'], refused: [], why: 'the default' },
    { networks: ['2001:db8::/32'], refused: [], why: 'one IPv6 /32' },
  ];
  for (const c of cases) {
    test(`${c.why}: ${c.refused.length === 0 ? 'accepted' : `refused at ${c.refused.join(', ')}`}`, () => {
      const r = validateConfig({ ...base, relay: { networks: c.networks } }, '/');
      if (c.refused.length === 0) {
        assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
        assert.deepEqual(r.warnings, []);
        return;
      }
      assert.ok(!r.ok, 'accepted');
      assert.deepEqual(r.problems.map((p) => p.path).sort(), [...c.refused].sort());
      for (const p of r.problems) assert.match(p.message, /relay\.allow_wide = true/);

      const allowed = validateConfig({ ...base, relay: { networks: c.networks, allow_wide: true } }, '/');
      assert.ok(allowed.ok, JSON.stringify(!allowed.ok && allowed.problems));
      assert.equal(allowed.config.relay.allowWide, true);
      assert.deepEqual(
        allowed.warnings.map((w) => w.path),
        ['relay.allow_wide'],
        'one warning, however many networks',
      );
      assert.match(allowed.warnings[0]?.message ?? '', /relay mail to anywhere/);
    });
  }

  test('relay.allow_wide must be a boolean; unused, it warns of nothing', () => {
    const bad = validateConfig({ ...base, relay: { allow_wide: 'yes' } }, '/');
    assert.ok(!bad.ok);
    assert.deepEqual(
      bad.problems.map((p) => p.path),
      ['relay.allow_wide'],
    );
    const unused = validateConfig({ ...base, relay: { networks: ['10.0.0.0/8'], allow_wide: true } }, '/');
    assert.ok(unused.ok);
    assert.deepEqual(unused.warnings, []);
  });

  test('relayWidth sums per family, IPv4-mapped IPv6 as IPv4', () => {
    const cidr = (address: string, prefix: number, family: 'ipv4' | 'ipv6') => ({ address, prefix, family });
    const w = relayWidth([cidr('10.0.0.0', 8, 'ipv4'), cidr('::ffff:192.0.2.0', 120, 'ipv6'), cidr('2001:db8::', 64, 'ipv6')]);
    assert.deepEqual(w.wide, []);
    assert.equal(w.total.ipv4, 2n ** 24n + 256n);
    assert.equal(w.total.ipv6, 2n ** 64n);
  });
});

describe('config warnings: TLS 1.0 and 1.1 (RFC 8996)', { timeout: 10_000 }, () => {
  const cases: { raw: Record<string, unknown>; warned: string[] }[] = [
    { raw: { tls: { min_version: 'TLSv1' } }, warned: ['tls.min_version'] },
    { raw: { tls: { min_version: 'TLSv1.1' } }, warned: ['tls.min_version'] },
    { raw: { submission: { min_version: 'TLSv1' } }, warned: ['submission.min_version'] },
    { raw: { submissions: { min_version: 'TLSv1.1' } }, warned: ['submissions.min_version'] },
    {
      raw: { tls: { min_version: 'TLSv1' }, submission: { min_version: 'TLSv1.2' }, submissions: { min_version: 'TLSv1' } },
      warned: ['tls.min_version', 'submissions.min_version'],
    },
    { raw: { tls: { min_version: 'TLSv1.2' } }, warned: [] },
    { raw: { tls: { min_version: 'TLSv1.3' }, submission: { min_version: 'TLSv1.2' } }, warned: [] },
    { raw: {}, warned: [] },
  ];
  for (const c of cases) {
    test(`${JSON.stringify(c.raw)} → ${c.warned.length === 0 ? 'no warning' : c.warned.join(', ')}`, () => {
      const r = validateConfig({ ...base, ...c.raw }, '/');
      assert.ok(r.ok, 'a warning never makes the config invalid');
      assert.deepEqual(
        r.warnings.map((w) => w.path),
        c.warned,
      );
      for (const w of r.warnings) assert.match(w.message, /RFC 8996.*"TLSv1\.2"/);
    });
  }
});
