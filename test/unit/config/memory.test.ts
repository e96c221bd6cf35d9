import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../../src/config/schema.ts';

const base = { hostname: 'mx.example.org', data_dir: 'data', domain: [{ name: 'example.org', mailboxes: ['alice'] }] };

test('[limits] memory_mb: 256 MiB by default, in bytes; out of range is a problem at limits.memory_mb', () => {
  const plain = validateConfig(base, '/etc/sealpost');
  assert.ok(plain.ok);
  assert.equal(plain.config.limits.memoryBytes, 256 * 1024 * 1024);
  const set = validateConfig({ ...base, limits: { memory_mb: 64 } }, '/etc/sealpost');
  assert.ok(set.ok);
  assert.equal(set.config.limits.memoryBytes, 64 * 1024 * 1024);
  for (const bad of [1, 'lots']) {
    const r = validateConfig({ ...base, limits: { memory_mb: bad } }, '/etc/sealpost');
    assert.ok(!r.ok);
    assert.ok(
      r.problems.some((p) => p.path === 'limits.memory_mb'),
      JSON.stringify(r.problems),
    );
  }
});
