// The [tlsrpt] section: on by default once a DKIM key exists; organization and contact defaults.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../../src/config/schema.ts';
import { reportIdentity } from '../../../src/config/tlsrpt-sending.ts';

const base = { hostname: 'mx.example.org', data_dir: 'data', domain: [{ name: 'example.org', mailboxes: ['alice'] }] };
const signing = { ...base, domain: [{ name: 'example.org', mailboxes: ['alice'], dkim_selectors: ['s1'] }] };

test('[tlsrpt] defaults: off without a DKIM key, on with one; hostname and postmaster@ the first domain', () => {
  const off = validateConfig(base, '/etc/sealpost');
  assert.ok(off.ok);
  assert.deepEqual(off.config.tlsrpt, { enabled: false });
  const on = validateConfig(signing, '/etc/sealpost');
  assert.ok(on.ok);
  assert.deepEqual(on.config.tlsrpt, { enabled: true });
  assert.deepEqual(reportIdentity(on.config), { organization: 'mx.example.org', contact: 'postmaster@example.org' });
  const set = validateConfig({ ...signing, tlsrpt: { enabled: false, organization: 'Example Org', contact: 'tls@example.org' } }, '/etc/sealpost');
  assert.ok(set.ok);
  assert.deepEqual(reportIdentity(set.config), { organization: 'Example Org', contact: 'tls@example.org' });
  assert.equal(set.config.tlsrpt.enabled, false);
});

test('[tlsrpt] problems name their key path; enabled without a key is a warning', () => {
  const bad = validateConfig({ ...base, tlsrpt: { enabled: 'yes', organization: '', contact: 3, rua: 'x' } }, '/etc/sealpost');
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems.map((p) => p.path).sort(), ['tlsrpt.contact', 'tlsrpt.enabled', 'tlsrpt.organization', 'tlsrpt.rua']);
  const unsigned = validateConfig({ ...base, tlsrpt: { enabled: true } }, '/etc/sealpost');
  assert.ok(unsigned.ok);
  assert.equal(unsigned.config.tlsrpt.enabled, true);
  assert.match(unsigned.warnings.find((w) => w.path === 'tlsrpt.enabled')?.message ?? '', /dkim keygen/);
});
