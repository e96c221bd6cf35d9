import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dkimSign, dkimVerify } from 'mailauth';
import { dkimRecord, generateDkimKey } from '../../../src/dkim/keys.ts';
import { installDkimKeyCache } from '../../../src/mailauth/dkim-keys.ts';
import { mailauthResolver } from '../../../src/mailauth/resolver.ts';
import { type FakeEntry, fakeResolver } from '../dns/fake-resolver.ts';

const noExtra = { resolvePtr: async () => ({ kind: 'nodata' as const }), resolveCname: async () => ({ kind: 'nodata' as const }) };
const rsa = generateDkimKey('rsa-2048');
const ed = generateDkimKey('ed25519');
const body = 'From: a@sender.test\r\nTo: b@example.test\r\nSubject: keys\r\nMessage-ID: <k1@x>\r\n\r\nhello\r\n';
const signed = async (keys: { selector: string; privateKey: string }[]) =>
  Buffer.from(
    (await dkimSign(body, { signatureData: keys.map((k) => ({ signingDomain: 'sender.test', ...k })) } as Parameters<typeof dkimSign>[1])).signatures + body,
  );
const zone: Record<string, FakeEntry> = {
  'rsa._domainkey.sender.test': { TXT: [dkimRecord(rsa)] },
  'ed._domainkey.sender.test': { TXT: [dkimRecord(ed)] },
};
const resolver = mailauthResolver(fakeResolver(zone), noExtra);
const verify = async (message: Buffer) => (await dkimVerify(message, { resolver, sender: 'a@sender.test' })).results;

// Before the cache: what mailauth gives on its own, to compare with.
const message = await signed([
  { selector: 'rsa', privateKey: rsa },
  { selector: 'ed', privateKey: ed },
]);
const plain = await verify(message);

test("mailauth's DkimVerifier still makes its key cache in its constructor: the wrapper sees every key lookup (pins dkim-keys.ts to mailauth's internals)", async () => {
  const counts = installDkimKeyCache();
  assert.equal(installDkimKeyCache(), counts, 'installed once');
  const first = await verify(message);
  assert.deepEqual(counts, { parsed: 2, reused: 0 }, 'each key record parsed by mailauth once');
  const second = await verify(message);
  assert.deepEqual(counts, { parsed: 2, reused: 2 }, 'then reused for the next message');
  // The same results as mailauth alone, the public key reported as the PEM it was.
  assert.deepEqual(first, plain);
  assert.deepEqual(second, plain);
  assert.deepEqual(
    second.map((r) => r.status.result),
    ['pass', 'pass'],
  );
});

test('a key record that changes is parsed again; a signature that does not match a reused key fails as before', async () => {
  const counts = installDkimKeyCache();
  const before = { ...counts };
  const other = generateDkimKey('ed25519');
  zone['ed._domainkey.sender.test'] = { TXT: [dkimRecord(other)] };
  try {
    const results = await verify(message);
    assert.equal(counts.parsed, before.parsed + 1, 'the new ed25519 record');
    assert.equal(counts.reused, before.reused + 1, 'the rsa record as it was');
    assert.deepEqual(
      results.map((r) => r.status.result),
      ['pass', 'fail'],
    );
    const again = await verify(await signed([{ selector: 'ed', privateKey: other }]));
    assert.deepEqual(
      again.map((r) => r.status.result),
      ['pass'],
    );
  } finally {
    zone['ed._domainkey.sender.test'] = { TXT: [dkimRecord(ed)] };
  }
});

test('a lookup that fails goes through mailauth as it would (no key, the same error)', async () => {
  installDkimKeyCache();
  const gone = await signed([{ selector: 'missing', privateKey: ed }]);
  const results = await verify(gone);
  assert.equal(results[0]?.status.result, 'neutral');
  assert.match(String(results[0]?.status.comment), /no key/);
});
