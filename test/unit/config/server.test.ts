import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../../src/config/schema.ts';

const base = { hostname: 'mx.example.org', data_dir: '/var/lib/sealpost', domain: [{ name: 'example.org', mailboxes: ['alice'] }] };

test('[server] processes: default 1, "auto" or a number; anything else is a problem with its fix', () => {
  const cases: [unknown, number | 'auto' | string][] = [
    [undefined, 1],
    ['auto', 'auto'],
    [4, 4],
    [1, 1],
    [0, 'problem'],
    [2.5, 'problem'],
    ['two', 'problem'],
    [300, 'problem'],
  ];
  for (const [given, expected] of cases) {
    const r = validateConfig(given === undefined ? base : { ...base, server: { processes: given } }, '/');
    if (expected === 'problem') {
      assert.ok(!r.ok, String(given));
      assert.deepEqual(
        r.problems.map((p) => p.path),
        ['server.processes'],
      );
      assert.match(r.problems[0]?.message ?? '', /"auto".*whole number from 1 to 256/);
    } else {
      assert.ok(r.ok, String(given));
      assert.equal(r.config.server.processes, expected);
    }
  }
  const typo = validateConfig({ ...base, server: { process: 2 } }, '/');
  assert.ok(!typo.ok);
  assert.deepEqual(
    typo.problems.map((p) => p.path),
    ['server.process'],
  );
});
