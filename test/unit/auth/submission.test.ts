import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dkimVerify } from 'mailauth';
import { prepareOutgoing } from '../../../src/auth/submission.ts';
import { dkimRecord, generateDkimKey } from '../../../src/dkim/keys.ts';
import { createDkimSigner } from '../../../src/dkim/signer.ts';
import { buildDirectory } from '../../../src/routing/recipients.ts';

const directory = buildDirectory([{ name: 'example.test', mailboxes: ['alice', 'bob'], aliases: { postmaster: 'alice' }, catchAll: '' }]);
const pem = generateDkimKey('ed25519');
const signer = createDkimSigner([{ domain: 'example.test', selector: 's1', algorithm: 'ed25519-sha256', privateKeyPem: pem, file: '/dev/null' }]);
const deps = { signer, hostname: 'mx.example.test' };
const NOW = Date.UTC(2026, 10, 23, 10, 0, 0);
const msg = (header: string) => Buffer.from(`${header}\r\n\r\nHello\r\n`.replace(/\n/g, '\r\n').replace(/\r\r\n/g, '\r\n'));
// user null: a client from relay.networks (no ownership check).
const input = (body: Buffer, user: string | null = 'alice@example.test', sender = 'alice@example.test') => ({
  user: user ?? undefined,
  sender,
  body,
  queueId: 'Q1',
  now: NOW,
  directory,
});

test('From: must be owned by the user (own address or alias); others are refused with 550 5.7.1', { timeout: 10_000 }, async () => {
  const table: [string, boolean][] = [
    ['From: Alice <alice@example.test>', true],
    ['From: postmaster@example.test', true],
    ['From: "Bob" <bob@example.test>', false],
    ['From: alice@example.test, bob@example.test', false],
    ['From: undisclosed-recipients:;', false],
    ['From: alice@example.test\nFrom: bob@example.test', false],
    ['From: bob@example.test\nFrom: alice@example.test', false],
    // RFC 5322 §4.5.3 obs-syntax: white space before the colon still makes a From: field.
    ['From : <bob@example.test>', false],
    ['From\t: <bob@example.test>', false],
    ['From : <bob@example.test>\nFrom: <alice@example.test>', false],
    ['FROM: <alice@example.test>\nfrom : <bob@example.test>', false],
    ['Subject: x\nFrom : <bob@example.test>', false],
    ['From : <alice@example.test>', true],
    ['From:\n <alice@example.test>', true],
  ];
  for (const [from, ok] of table) {
    const prepared = await prepareOutgoing(input(msg(`${from}\nTo: bob@example.test\nDate: Mon, 23 Nov 2026 10:00:00 +0000\nMessage-ID: <m@x>`)), deps);
    assert.equal(prepared.ok, ok, from);
    if (!prepared.ok) assert.deepEqual([prepared.code, prepared.enhanced], [550, '5.7.1']);
  }
  // A trusted-network client (no user) is not checked.
  assert.equal((await prepareOutgoing(input(msg('From: bob@example.test'), null), deps)).ok, true);
});

test('RFC 6409 §8 fix-ups: Date and Message-ID when missing, From from the envelope; nothing when present', { timeout: 10_000 }, async () => {
  const bare = await prepareOutgoing(input(msg('Subject: hi')), deps);
  assert.ok(bare.ok);
  assert.deepEqual(bare.added, ['From: <alice@example.test>', 'Date: Mon, 23 Nov 2026 10:00:00 +0000', 'Message-ID: <Q1@mx.example.test>']);
  assert.match(
    bare.body.toString(),
    /^From: <alice@example\.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 \+0000\r\nMessage-ID: <Q1@mx\.example\.test>\r\nSubject: hi\r\n\r\nHello\r\n$/,
  );
  const full = msg('From: alice@example.test\ndate: Sun, 22 Nov 2026 09:00:00 +0000\nMESSAGE-ID: <own@id>');
  const kept = await prepareOutgoing(input(full), deps);
  assert.ok(kept.ok);
  assert.deepEqual(kept.added, []);
  assert.ok(kept.body.equals(full));
  // Fields written in obs-syntax (RFC 5322 §4.5.3) are there too: nothing added twice.
  const obs = msg('From : alice@example.test\nDate\t: Sun, 22 Nov 2026 09:00:00 +0000\nMessage-ID : <own@id>');
  const obsKept = await prepareOutgoing(input(obs), deps);
  assert.ok(obsKept.ok);
  assert.deepEqual(obsKept.added, []);
});

test('signed for the From: domain with a signature that verifies; other domains stay unsigned', { timeout: 10_000 }, async () => {
  const prepared = await prepareOutgoing(input(msg('From: alice@example.test\nTo: x@elsewhere.test\nSubject: s')), deps);
  assert.ok(prepared.ok);
  assert.deepEqual(prepared.dkim, { domain: 'example.test', selectors: ['s1'] });
  assert.match(prepared.signature, /^DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed\/relaxed; d=example\.test;/);
  const record = dkimRecord(pem);
  const resolver = async (name: string, type: string) => {
    if (name === 's1._domainkey.example.test' && type === 'TXT') return [[record]];
    throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
  };
  const verified = await dkimVerify(Buffer.concat([Buffer.from(prepared.signature), prepared.body]), { resolver });
  assert.equal(verified.results[0]?.status.result, 'pass');

  const foreign = await prepareOutgoing(input(msg('From: someone@elsewhere.test'), null, 'someone@elsewhere.test'), deps);
  assert.ok(foreign.ok);
  assert.equal(foreign.signature, '');
  assert.deepEqual(foreign.dkim, { unsigned: 'no DKIM key for elsewhere.test' });
});
