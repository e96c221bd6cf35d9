import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dkimVerify } from 'mailauth';
import { dkimRecord, generateDkimKey } from '../../../src/dkim/keys.ts';
import { createDkimSigner, fromDomain } from '../../../src/dkim/signer.ts';

test('one signature per selector (RSA and Ed25519 side by side), each verifying', { timeout: 10_000 }, async () => {
  const rsa = generateDkimKey('rsa-2048');
  const ed = generateDkimKey('ed25519');
  const signer = createDkimSigner([
    { domain: 'example.test', selector: 'r1', algorithm: 'rsa-sha256', privateKeyPem: rsa, file: '' },
    { domain: 'example.test', selector: 'e1', algorithm: 'ed25519-sha256', privateKeyPem: ed, file: '' },
  ]);
  assert.deepEqual(signer.domains, ['example.test']);
  const message = Buffer.from('From: alice@example.test\r\nTo: bob@elsewhere.test\r\nSubject: two keys\r\n\r\nbody\r\n');
  const signed = await signer.sign(message, 'Example.TEST');
  assert.equal(signed.kind, 'signed');
  assert.ok(signed.kind === 'signed');
  assert.deepEqual(signed.selectors, ['r1', 'e1']);
  const records: Record<string, string> = { 'r1._domainkey.example.test': dkimRecord(rsa), 'e1._domainkey.example.test': dkimRecord(ed) };
  const resolver = async (name: string) => {
    const r = records[name];
    if (r) return [[r]];
    throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
  };
  const verified = await dkimVerify(Buffer.concat([Buffer.from(signed.headers), message]), { resolver });
  assert.deepEqual(verified.results.map((r) => [r.selector, r.status.result]).sort(), [
    ['e1', 'pass'],
    ['r1', 'pass'],
  ]);
  assert.deepEqual(await signer.sign(message, 'other.test'), { kind: 'unsigned', reason: 'no DKIM key for other.test' });
});

test('fromDomain: the first From: address, canonical', () => {
  assert.equal(fromDomain(['Alice@Example.TEST', 'bob@other.test']), 'example.test');
  assert.equal(fromDomain([]), undefined);
  assert.equal(fromDomain(['no-at-sign']), undefined);
});
