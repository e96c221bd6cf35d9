import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../../src/config/schema.ts';

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

test('[store] kind = "postgres": Maildir delivery refused (any node may deliver it) unless allow_local_maildir; LMTP domains pass', { timeout: 5000 }, () => {
  const pgStore = { kind: 'postgres', url: 'postgres://sealpost@db.example.org:5432/sealpost', password_file: 'pg.pass' };
  const listed = problems(pgStore);
  assert.equal(listed.length, 1, listed.join('\n'));
  assert.match(listed[0] ?? '', /^domain\[0\]\.delivery: is Maildir \(the default\), but with \[store\] kind = "postgres" any node may deliver it/);
  assert.match(listed[0] ?? '', /set delivery = "lmtp:HOST:PORT"[\s\S]*\[store\] allow_local_maildir = true/);
  const allowed = validateConfig({ ...base, store: { ...pgStore, allow_local_maildir: true } }, '/etc/sealpost');
  assert.ok(allowed.ok, allowed.ok ? '' : allowed.problems.map((p) => p.message).join('\n'));
  assert.deepEqual(allowed.config.store, {
    kind: 'postgres',
    url: pgStore.url,
    passwordFile: '/etc/sealpost/pg.pass',
    leaseMs: 60_000,
    allowLocalMaildir: true,
  });
  const lmtp = validateConfig(
    { ...base, domain: [{ name: 'example.org', mailboxes: ['alice'], delivery: 'lmtp:127.0.0.1:24' }], store: pgStore },
    '/etc/sealpost',
  );
  assert.ok(lmtp.ok, lmtp.ok ? '' : lmtp.problems.map((p) => p.message).join('\n'));
  // sealpost store … only talks to the database: not its business.
  assert.ok(validateConfig({ ...base, store: pgStore }, '/etc/sealpost', { acceptPostgres: true }).ok);
  assert.deepEqual(problems({ allow_local_maildir: true }), ['store.allow_local_maildir: is for kind = "postgres" only; remove it, or set kind = "postgres"']);
});

test('[store] url: no password in it, a user and a database; lease and node checked', { timeout: 5000 }, () => {
  const listed = problems({ kind: 'postgres', url: 'postgres://sealpost:hunter2@db/', node: 'mx 1', lease: '1s' });
  const paths = listed.map((p) => p.slice(0, p.indexOf(':'))).sort();
  assert.deepEqual(paths, ['domain[0].delivery', 'store.lease', 'store.node', 'store.url', 'store.url']);
  assert.ok(!listed.join('\n').includes('hunter2'), 'the password is never echoed back');
  assert.match(listed.join('\n'), /store\.url: must not hold a password; put it in a file named by store\.password_file/);
  assert.match(problems({ kind: 'postgres' }).join('\n'), /store\.url: is required/);
  assert.match(problems({ kind: 'postgres', url: 'mysql://u@h/d' }).join('\n'), /store\.url: must start with postgres:\/\//);
});
