import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../../src/config/schema.ts';

const base = { hostname: 'mx.example.org', data_dir: 'data', domain: [{ name: 'example.org', mailboxes: ['alice'] }] };

test('[inbound.rspamd]: off without a url; defaults with one; [outbound.rspamd] enabled', () => {
  const off = validateConfig(base, '/etc/sealpost');
  assert.ok(off.ok);
  assert.equal(off.config.rspamd, null);
  const on = validateConfig({ ...base, inbound: { rspamd: { url: 'http://127.0.0.1:11333' } }, outbound: { rspamd: { enabled: true } } }, '/etc/sealpost');
  assert.ok(on.ok, JSON.stringify(!on.ok && on.problems));
  assert.deepEqual(on.config.rspamd, { url: 'http://127.0.0.1:11333', timeoutMs: 10_000, fail: 'tempfail', junkFolder: false, outbound: true });
});

test('[inbound.rspamd] problems are listed with their key paths', () => {
  const r = validateConfig(
    { ...base, inbound: { rspamd: { url: 'https://rspamd/?x', fail: 'drop', timeout_ms: 5, junk: true } }, outbound: { rspamd: { enable: true } } },
    '/etc/sealpost',
  );
  assert.ok(!r.ok);
  const paths = r.problems.map((p) => p.path).sort();
  assert.deepEqual(paths, ['inbound.rspamd.fail', 'inbound.rspamd.junk', 'inbound.rspamd.timeout_ms', 'inbound.rspamd.url', 'outbound.rspamd.enable']);
  const orphan = validateConfig({ ...base, outbound: { rspamd: { enabled: true } } }, '/etc/sealpost');
  assert.ok(!orphan.ok);
  assert.match(orphan.problems.map((p) => `${p.path}: ${p.message}`).join('\n'), /outbound\.rspamd\.enabled: needs \[inbound\.rspamd\] url/);
});
