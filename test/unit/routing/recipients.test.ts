import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildDirectory, decideRecipient } from '../../../src/routing/recipients.ts';
import { srsForward, srsReverse } from '../../../src/srs/srs.ts';

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

test('SRS addresses at the SRS domain: valid ones go back to the sender they stand for, forged and expired ones get 550 5.1.1', () => {
  const keys = { secrets: ['routing-test-secret'], domain: 'example.test' };
  const now = 1_795_000_000_000;
  const srsDirectory = buildDirectory([...directory.domains.values()], {
    domain: 'example.test',
    reverse: (local) => srsReverse(local, keys, now, 21),
  });
  const bounce = srsForward('sender@remote.test', keys, now) ?? '';
  assert.deepEqual(decideRecipient(bounce, srsDirectory, false), { kind: 'remote', address: 'sender@remote.test' });
  // An SRS address for one of our own senders comes home to the mailbox.
  assert.deepEqual(decideRecipient(srsForward('bob@example.test', keys, now) ?? '', srsDirectory, false), { kind: 'local', mailbox: 'bob@example.test' });
  const forged = bounce.replace(/^SRS0=..../, 'SRS0=AAAA');
  const expired = srsForward('sender@remote.test', keys, now - 30 * 86_400_000) ?? '';
  for (const [address, why] of [
    [forged, 'invalid SRS address'],
    [expired, 'expired SRS address'],
  ] as const) {
    const d = decideRecipient(address, srsDirectory, false);
    assert.ok(d.kind === 'reject' && d.code === 550 && d.enhanced === '5.1.1' && d.text.endsWith(why), `${address}: ${JSON.stringify(d)}`);
  }
  // Without SRS (or at another domain), an SRS-looking local part is an ordinary unknown user.
  assert.equal(decideRecipient(bounce, directory, false).kind, 'reject');
  assert.deepEqual(decideRecipient('alice@example.test', srsDirectory, false), { kind: 'local', mailbox: 'alice@example.test' });
});
