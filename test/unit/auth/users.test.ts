import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { normalizeLogin, UsersStore } from '../../../src/auth/users.ts';
import { openDb } from '../../../src/db/open.ts';

const migrations = path.resolve(import.meta.dirname, '../../../migrations');
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('normalizeLogin: lowercase local part, ASCII domain, no literals', () => {
  assert.equal(normalizeLogin(' Alice@Example.TEST '), 'alice@example.test');
  assert.equal(normalizeLogin('alice@bücher.test'), 'alice@xn--bcher-kva.test');
  assert.equal(normalizeLogin('alice@[192.0.2.1]'), undefined);
  assert.equal(normalizeLogin('alice'), undefined);
  assert.equal(normalizeLogin(''), undefined);
});

test('UsersStore: add, change, list, remove', { timeout: 10_000 }, async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sealpost-users-'));
  dirs.push(dir);
  const db = openDb(dir, migrations);
  try {
    const users = new UsersStore(db);
    assert.equal(await users.add('alice@example.test', 'h1', 1000), true);
    assert.equal(await users.add('alice@example.test', 'h2', 2000), false, 'no silent replacement');
    assert.equal(await users.passwordHash('alice@example.test'), 'h1');
    assert.equal(await users.setPassword('alice@example.test', 'h3', 3000), true);
    assert.equal(await users.setPassword('nobody@example.test', 'h3', 3000), false);
    assert.deepEqual(await users.list(), [{ address: 'alice@example.test', createdAt: 1000, updatedAt: 3000 }]);
    assert.equal(await users.passwordHash('alice@example.test'), 'h3');
    assert.equal(await users.remove('alice@example.test'), true);
    assert.equal(await users.remove('alice@example.test'), false);
    assert.equal(await users.passwordHash('alice@example.test'), undefined);
  } finally {
    db.close();
  }
});
