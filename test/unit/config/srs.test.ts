import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../../src/config/schema.ts';

const base = {
  hostname: 'mx.example.org',
  data_dir: 'data',
  domain: [
    { name: 'example.org', mailboxes: ['alice'], dkim_selectors: ['s1'] },
    { name: 'second.example', mailboxes: ['bob'] },
  ],
};

test('[srs]: defaults (first domain, secret in data_dir, 21 days); [arc] off', () => {
  const r = validateConfig(base, '/etc/sealpost');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  assert.deepEqual(r.config.srs, { domain: 'example.org', secretFile: '/etc/sealpost/data/srs/secret', maxAgeDays: 21 });
  assert.deepEqual(r.config.arc, { enabled: false });
  const set = validateConfig(
    { ...base, srs: { domain: 'Second.Example', secret_file: 'srs.key', max_age_days: 10 }, arc: { enabled: false } },
    '/etc/sealpost',
  );
  assert.ok(set.ok, JSON.stringify(!set.ok && set.problems));
  assert.deepEqual(set.config.srs, { domain: 'second.example', secretFile: '/etc/sealpost/srs.key', maxAgeDays: 10 });
  const arc = validateConfig({ ...base, arc: { enabled: true } }, '/etc/sealpost');
  assert.ok(arc.ok, JSON.stringify(!arc.ok && arc.problems));
  assert.equal(arc.config.arc.enabled, true);
});

test('[srs] and [arc] problems are listed with their key paths and the fix', () => {
  const r = validateConfig({ ...base, srs: { domain: 'not a domain', max_age_days: 0, secret: 'x' }, arc: { enabled: true, key: 'y' } }, '/etc/sealpost');
  assert.ok(!r.ok);
  assert.deepEqual(r.problems.map((p) => p.path).sort(), ['arc.enabled', 'arc.key', 'srs.domain', 'srs.max_age_days', 'srs.secret']);
  // ARC signs with the [srs] domain's DKIM key; second.example has none.
  const noKey = validateConfig({ ...base, srs: { domain: 'second.example' }, arc: { enabled: true } }, '/etc/sealpost');
  assert.ok(!noKey.ok);
  assert.match(
    noKey.problems.map((p) => `${p.path}: ${p.message}`).join('\n'),
    /arc\.enabled: .*second\.example.*sealpost dkim keygen --domain second\.example/,
  );
  const noChecks = validateConfig({ ...base, inbound: { authentication_results: false }, arc: { enabled: true } }, '/etc/sealpost');
  assert.ok(!noChecks.ok);
  assert.match(noChecks.problems[0]?.message ?? '', /authentication_results/);
  const elsewhere = validateConfig({ ...base, srs: { domain: 'srs.example.net' } }, '/etc/sealpost');
  assert.ok(elsewhere.ok);
  assert.match(elsewhere.warnings.map((w) => `${w.path}: ${w.message}`).join('\n'), /srs\.domain: srs\.example\.net is not one of the \[\[domain\]\] entries/);
});
