import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../../src/config/schema.ts';
import { POSTGRES_NOT_WIRED } from '../../../src/config/store.ts';

const base = { hostname: 'mx.example.org', data_dir: 'data', domain: [{ name: 'example.org', mailboxes: ['alice'] }] };
const problems = (store: Record<string, unknown>): string[] => {
  const r = validateConfig({ ...base, store }, '/etc/sealpost');
  assert.ok(!r.ok, 'invalid');
  return r.problems.map((p) => `${p.path}: ${p.message}`);
};

test('[store]: SQLite by default; its postgres-only keys are refused', { timeout: 5000 }, () => {
  const r = validateConfig(base, '/etc/sealpost');
  assert.ok(r.ok);
  assert.deepEqual(r.config.store, { kind: 'sqlite' });
  assert.deepEqual(problems({ url: 'postgres://sealpost@db/sealpost' }), ['store.url: is for kind = "postgres" only; remove it, or set kind = "postgres"']);
  assert.deepEqual(problems({ kind: 'mysql' }), ['store.kind: must be one of "sqlite", "postgres"; got "mysql"']);
  assert.match(problems({ kinds: 'sqlite' }).join('\n'), /store\.kinds: unknown key; did you mean "kind"\?/);
});

test('[store] kind = "postgres": config check says plainly that the daemon does not run on it yet', { timeout: 5000 }, () => {
  assert.deepEqual(problems({ kind: 'postgres', url: 'postgres://sealpost@db.example.org:5432/sealpost', password_file: 'pg.pass' }), [
    `store.kind: ${POSTGRES_NOT_WIRED}`,
  ]);
  assert.match(POSTGRES_NOT_WIRED, /^store\.kind = postgres is not wired into the daemon yet/);
});

test('[store] url: no password in it, a user and a database; lease and node checked', { timeout: 5000 }, () => {
  const listed = problems({ kind: 'postgres', url: 'postgres://sealpost:hunter2@db/', node: 'mx 1', lease: '1s' });
  const paths = listed.map((p) => p.slice(0, p.indexOf(':'))).sort();
  assert.deepEqual(paths, ['store.kind', 'store.lease', 'store.node', 'store.url', 'store.url']);
  assert.ok(!listed.join('\n').includes('hunter2'), 'the password is never echoed back');
  assert.match(listed.join('\n'), /store\.url: must not hold a password; put it in a file named by store\.password_file/);
  assert.match(problems({ kind: 'postgres' }).join('\n'), /store\.url: is required/);
  assert.match(problems({ kind: 'postgres', url: 'mysql://u@h/d' }).join('\n'), /store\.url: must start with postgres:\/\//);
});
