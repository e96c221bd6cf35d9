// SRS0/SRS1 forward and reverse (src/srs/srs.ts) against addresses made by Mail::SRS 0.31
// (libmail-srs-perl, the Guarded scheme libsrs2 and postsrsd follow) with the same secret and clock.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { srsForward, srsReverse, timestamp } from '../../../src/srs/srs.ts';

const keys = { secrets: ['sealpost-test-secret'], domain: 'example.test' };
// 2026-11-18T08:26:40Z, day 20775 (JH); the vectors below came from Mail::SRS at this time.
const NOW = 1_795_000_000_000;
const DAY = 86_400_000;

const mailSrs: [string, string, string][] = [
  // [sender, Mail::SRS forward(), Mail::SRS reverse() of it]
  ['alice@remote.test', 'SRS0=63HB=JH=remote.test=alice@example.test', 'alice@remote.test'],
  ['User.Name@Sub.Remote.Test', 'SRS0=dgt2=JH=Sub.Remote.Test=User.Name@example.test', 'User.Name@Sub.Remote.Test'],
  ['a=b@remote.test', 'SRS0=+tj0=JH=remote.test=a=b@example.test', 'a=b@remote.test'],
  ['bob+tag@remote.test', 'SRS0=v3Os=JH=remote.test=bob+tag@example.test', 'bob+tag@remote.test'],
  // SRS0 of another forwarder → SRS1; SRS1 → SRS1 keeping the first forwarder.
  ['SRS0=abcd=TT=orig.test=joe@other.test', 'SRS1=Ssfy=other.test==abcd=TT=orig.test=joe@example.test', 'SRS0=abcd=TT=orig.test=joe@other.test'],
  [
    'SRS1=wxyz=first.test==abcd=TT=orig.test=joe@second.test',
    'SRS1=NTm+=first.test==abcd=TT=orig.test=joe@example.test',
    'SRS0=abcd=TT=orig.test=joe@first.test',
  ],
];

const local = (address: string) => address.slice(0, address.lastIndexOf('@'));

test('forward makes what Mail::SRS makes, and reverse gives what it gives', () => {
  for (const [sender, forwarded, reversed] of mailSrs) {
    assert.equal(srsForward(sender, keys, NOW), forwarded, sender);
    assert.deepEqual(srsReverse(local(forwarded), keys, NOW, 21), { kind: 'valid', address: reversed }, forwarded);
  }
});

test('timestamps: base32 days mod 1024', () => {
  assert.equal(timestamp(NOW), 'JH');
  assert.equal(timestamp(0), 'AA');
  assert.equal(timestamp(1023 * DAY), '77');
  assert.equal(timestamp(1024 * DAY), 'AA');
});

test('reverse refuses forged, expired and malformed addresses', () => {
  const good = local('SRS0=63HB=JH=remote.test=alice@example.test');
  const cases: [string, number, string][] = [
    ['SRS0=AAAA=JH=remote.test=alice', NOW, 'hash'],
    ['SRS0=63HB=JH=remote.test=mallory', NOW, 'hash'],
    ['SRS0=63HB=JH=evil.test=alice', NOW, 'hash'],
    ['SRS0=63H=JH=remote.test=alice', NOW, 'hash'],
    ['SRS0=63HB=J1=remote.test=alice', NOW, 'syntax'],
    ['SRS0=63HB=JH=remote.test', NOW, 'syntax'],
    ['SRS0=63HB', NOW, 'syntax'],
    ['SRS1=abcd', NOW, 'syntax'],
    ['SRS1=abcd=first.test==abcd=TT=orig.test=joe', NOW, 'hash'],
    [good, NOW + 22 * DAY, 'expired'],
    // A stamp ahead of today has wrapped: 1024 days old, expired.
    [good, NOW - DAY, 'expired'],
  ];
  for (const [address, now, reason] of cases) assert.deepEqual(srsReverse(address, keys, now, 21), { kind: 'invalid', reason }, address);
  assert.equal(srsReverse(good, keys, NOW + 21 * DAY, 21).kind, 'valid', 'the last day of max_age_days');
});

test('reverse: the hash and the tag compare case-insensitively, an old secret still checks, other local parts are not SRS', () => {
  assert.deepEqual(srsReverse('srs0=63hb=jh=remote.test=alice', keys, NOW, 21), { kind: 'valid', address: 'alice@remote.test' });
  assert.deepEqual(srsReverse('SRS0+63HB=JH=remote.test=alice', keys, NOW, 21), { kind: 'valid', address: 'alice@remote.test' });
  const rotated = { secrets: ['new-secret', 'sealpost-test-secret'], domain: 'example.test' };
  assert.equal(srsReverse('SRS0=63HB=JH=remote.test=alice', rotated, NOW, 21).kind, 'valid');
  assert.match(srsForward('alice@remote.test', rotated, NOW) ?? '', /^SRS0=(?!63HB)/, 'the first secret signs');
  for (const plain of ['alice', 'srs', 'SRS2=abcd=JH=x=y', 'srs0']) assert.deepEqual(srsReverse(plain, keys, NOW, 21), { kind: 'not-srs' });
});

test('forward: the null sender and addresses without a domain are not rewritten', () => {
  assert.equal(srsForward('', keys, NOW), undefined);
  assert.equal(srsForward('postmaster', keys, NOW), undefined);
  assert.equal(srsForward('@remote.test', keys, NOW), undefined);
});
