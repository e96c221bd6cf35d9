import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ownedAddresses, senderAllowed } from '../../../src/auth/senders.ts';
import { buildDirectory } from '../../../src/routing/recipients.ts';

const directory = buildDirectory([
  { name: 'example.test', mailboxes: ['alice', 'bob'], aliases: { postmaster: 'alice', sales: 'bob', out: 'someone@elsewhere.test' }, catchAll: 'bob' },
  { name: 'other.test', mailboxes: ['carol'], aliases: { info: 'alice@example.test', help: 'carol' }, catchAll: '' },
]);

test('senderAllowed: own address and the aliases pointing to it, in any of our domains', () => {
  const table: [string, string, boolean][] = [
    ['alice@example.test', 'alice@example.test', true],
    ['Alice@EXAMPLE.test', 'alice@example.test', true],
    ['postmaster@example.test', 'alice@example.test', true],
    ['info@other.test', 'alice@example.test', true],
    ['bob@example.test', 'alice@example.test', false],
    ['sales@example.test', 'alice@example.test', false],
    ['sales@example.test', 'bob@example.test', true],
    ['help@other.test', 'carol@other.test', true],
    // The catch-all mailbox owns nothing beyond its own address.
    ['anything@example.test', 'bob@example.test', false],
    // An alias that forwards elsewhere belongs to no local user.
    ['out@example.test', 'alice@example.test', false],
    ['alice@elsewhere.test', 'alice@example.test', false],
    ['', 'alice@example.test', false],
    ['"alice@example.test"@evil.test', 'alice@example.test', false],
    ['alice@example.test.', 'alice@example.test', false],
  ];
  for (const [address, user, expected] of table) assert.equal(senderAllowed(user, address, directory), expected, `${user} as ${address}`);
});

test('ownedAddresses lists the user first, then the aliases', () => {
  assert.deepEqual(ownedAddresses('alice@example.test', directory), ['alice@example.test', 'info@other.test', 'postmaster@example.test']);
  assert.deepEqual(ownedAddresses('carol@other.test', directory), ['carol@other.test', 'help@other.test']);
});
