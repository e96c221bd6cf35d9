// 3 1 1 TLSA data of our own key: the same hash from the certificate and from its private key.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { spkiSha256, tlsaLine, tlsaName } from '../../../src/records/tlsa.ts';
import { selfSignedCert } from '../../helpers/certs.ts';

test('spkiSha256: the SHA-256 of the DER SubjectPublicKeyInfo, from a certificate or its key', { timeout: 10_000 }, async () => {
  const cert = await selfSignedCert({ names: ['mx.example.test'] });
  assert.match(spkiSha256(cert.certPem), /^[0-9a-f]{64}$/);
  assert.equal(spkiSha256(cert.keyPem), spkiSha256(cert.certPem));
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const expected = createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
  assert.equal(spkiSha256(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string), expected);
});

test('tlsaName and tlsaLine: _25._tcp.<host>. in zone-file form', { timeout: 5000 }, () => {
  assert.equal(tlsaName('mx.example.org'), '_25._tcp.mx.example.org.');
  assert.equal(tlsaName('mx.example.org.'), '_25._tcp.mx.example.org.');
  assert.equal(tlsaLine('mx.example.org', 'ab'.repeat(32)), `_25._tcp.mx.example.org. IN TLSA 3 1 1 ${'ab'.repeat(32)}`);
});
