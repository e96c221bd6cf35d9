import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_PARAMS, hashPassword, parseHash, UNMATCHABLE_HASH, verifyPassword } from '../../../src/auth/password.ts';

// Cheap parameters keep the suite fast; the format and the check are the same.
const FAST = { ln: 4, r: 8, p: 1 };

test('a hash verifies its password and nothing else, and carries its parameters', { timeout: 10_000 }, async () => {
  const hash = await hashPassword('correct horse battery', FAST);
  assert.match(hash, /^\$scrypt\$ln=4,r=8,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
  assert.equal(await verifyPassword('correct horse battery', hash), true);
  assert.equal(await verifyPassword('correct horse batterY', hash), false);
  assert.equal(await verifyPassword('', hash), false);
  assert.notEqual(await hashPassword('correct horse battery', FAST), hash, 'a fresh salt each time');
});

test('passwords are compared after Unicode normalization (NFC)', { timeout: 10_000 }, async () => {
  const hash = await hashPassword('caf\u00e9-passw0rd', FAST);
  assert.equal(await verifyPassword('cafe\u0301-passw0rd', hash), true);
});

test('the default parameters are what the stored hash says', { timeout: 10_000 }, async () => {
  const hash = await hashPassword('x'.repeat(12));
  assert.deepEqual(parseHash(hash)?.params, DEFAULT_PARAMS);
  assert.deepEqual(parseHash(UNMATCHABLE_HASH)?.params, DEFAULT_PARAMS);
});

test('malformed or tampered hashes never verify', { timeout: 10_000 }, async () => {
  const cases = [
    '',
    'plaintext',
    '$2b$10$abcdefghijklmnopqrstuv', // bcrypt: not ours
    '$scrypt$ln=30,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', // would take minutes
    '$scrypt$ln=0,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    '$scrypt$ln=4,r=8,p=1$AA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', // salt too short
  ];
  for (const stored of cases) {
    assert.equal(parseHash(stored), undefined, stored);
    assert.equal(await verifyPassword('anything', stored), false, stored);
  }
  assert.equal(await verifyPassword('anything', UNMATCHABLE_HASH), false);
});
