import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildDirectory, decideRecipient } from '../../../src/routing/recipients.ts';

const directory = buildDirectory([
  {
    name: 'example.test',
    mailboxes: ['alice', 'bob'],
    aliases: { postmaster: 'alice', fwd: 'someone@elsewhere.test', cross: 'carol@xn--exmple-cua.test', dangling: 'nobody@xn--exmple-cua.test' },
    catchAll: '',
  },
  { name: 'xn--exmple-cua.test', mailboxes: ['carol'], aliases: {}, catchAll: 'carol' },
]);

// [address, relayAllowed, expected kind, expected mailbox/address or reply code]
const table: [string, boolean, 'local' | 'remote' | 'reject', string | number][] = [
  ['alice@example.test', false, 'local', 'alice@example.test'],
  ['ALICE@Example.TEST', false, 'local', 'alice@example.test'],
  ['postmaster@example.test', false, 'local', 'alice@example.test'],
  ['nobody@example.test', false, 'reject', 550],
  // Forwarding aliases: out through the queue even for an untrusted client, or to another of our domains.
  ['fwd@example.test', false, 'remote', 'someone@elsewhere.test'],
  ['cross@example.test', false, 'local', 'carol@xn--exmple-cua.test'],
  ['dangling@example.test', false, 'reject', 550],
  ['carol@exämple.test', false, 'local', 'carol@xn--exmple-cua.test'],
  ['anyone@xn--exmple-cua.test', false, 'local', 'carol@xn--exmple-cua.test'],
  ['user@other.test', false, 'reject', 554],
  ['user@other.test', true, 'remote', 'user@other.test'],
  // Address tricks: never relayed for an untrusted client.
  ['user%other.test@example.test', false, 'reject', 550],
  ['@example.test:user@other.test', false, 'reject', 554],
  ['@other.test:alice@example.test', false, 'local', 'alice@example.test'],
  ['other.test!user@example.test', false, 'reject', 550],
  ['"user@other.test"@example.test', false, 'reject', 550],
  ['"alice"@example.test', false, 'local', 'alice@example.test'],
  ['alice@example.test.', false, 'reject', 501],
  ['user@other.test.', true, 'reject', 501],
  ['user@[127.0.0.1]', false, 'reject', 554],
  ['user@[127.0.0.1]', true, 'reject', 554],
  ['alice@example.test@other.test', false, 'reject', 501],
  ['alice', false, 'reject', 501],
  // RFC 5321 §4.1.1.3: a bare "Postmaster" (any case) is the first domain's postmaster.
  ['Postmaster', false, 'local', 'alice@example.test'],
  ['POSTMASTER', false, 'local', 'alice@example.test'],
  ['postmaster@', false, 'reject', 501],
  ['', false, 'reject', 501],
];

test('recipient policy: local mailboxes, aliases, catch-all, relay and address tricks', () => {
  for (const [address, relay, kind, expected] of table) {
    const d = decideRecipient(address, directory, relay);
    assert.equal(d.kind, kind, `${address} (relay ${relay}): ${JSON.stringify(d)}`);
    if (d.kind === 'local') assert.equal(d.mailbox, expected, address);
    if (d.kind === 'remote') assert.equal(d.address, expected, address);
    if (d.kind === 'reject') assert.equal(d.code, expected, address);
  }
});
