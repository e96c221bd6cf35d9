import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../../src/config/load.ts';
import { validateConfig } from '../../../src/config/schema.ts';
import { tempDir } from '../../helpers/tmp.ts';

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

test('config check: an SRS secret file that others may read is a problem with the chmod; an absent one is made at start', { timeout: 10_000 }, async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'sealpost.toml');
  await writeFile(
    file,
    `hostname = "mx.example.test"\ndata_dir = "${dir}/data"\n[[domain]]\nname = "example.test"\nmailboxes = ["a"]\n[srs]\nsecret_file = "srs.key"\n`,
  );
  assert.ok((await loadConfig(file)).ok, 'absent: fine');
  const key = path.join(dir, 'srs.key');
  await writeFile(key, 'srs-secret-9Kq\n');
  await chmod(key, 0o640);
  const open = await loadConfig(file);
  assert.ok(!open.ok);
  assert.deepEqual(open.problems, [
    { path: 'srs.secret_file', message: `${key} is readable by others (mode 0640); whoever reads it can forge bounce addresses: run chmod 600 ${key}` },
  ]);
  await chmod(key, 0o600);
  assert.ok((await loadConfig(file)).ok);
});
