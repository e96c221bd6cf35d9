import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { before, test } from 'node:test';
import { associationData, matchTlsa, unusableReason, usableRecords } from '../../../src/dane/tlsa.ts';
import type { TlsaRecord } from '../../../src/dns/resolver.ts';
import { createCa, issueCert, selfSignedCert } from '../../helpers/certs.ts';

const der = (pem: string) => new X509Certificate(pem).raw;
const spki = (pem: string) => new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const sha512 = (b: Buffer) => createHash('sha512').update(b).digest('hex');
const rec = (usage: number, selector: number, matchingType: number, data: string): TlsaRecord => ({ usage, selector, matchingType, data });

let leafChain: Buffer[]; // leaf (mx.dest.test, from an intermediate) + intermediate
let leafPem: string;
let interPem: string;
let expiredSelf: Buffer[];
let expiredSelfPem: string;
let otherName: Buffer[];
const NOW = Date.now();

before(async () => {
  const root = await createCa('Root');
  const inter = await createCa('Inter', { issuer: root });
  const leaf = await issueCert(inter, { names: ['mx.dest.test'] });
  leafPem = leaf.certPem;
  interPem = inter.certPem;
  leafChain = [der(leaf.certPem), der(inter.certPem)];
  const old = await selfSignedCert({ names: ['elsewhere.test'], notBefore: new Date(NOW - 3 * 86_400_000), notAfter: new Date(NOW - 86_400_000) });
  expiredSelfPem = old.certPem;
  expiredSelf = [der(old.certPem)];
  const wrong = await issueCert(inter, { names: ['other.test'] });
  otherName = [der(wrong.certPem), der(inter.certPem)];
});

test('RFC 7672 §3.1: only DANE-TA(2)/DANE-EE(3) with known selector and matching type are usable', () => {
  const h = 'ab'.repeat(32);
  const cases: [TlsaRecord, boolean][] = [
    [rec(3, 1, 1, h), true],
    [rec(2, 0, 2, 'cd'.repeat(64)), true],
    [rec(3, 0, 0, 'abcdef'), true],
    [rec(1, 1, 1, h), false],
    [rec(0, 0, 1, h), false],
    [rec(4, 1, 1, h), false],
    [rec(3, 2, 1, h), false],
    [rec(3, 1, 3, h), false],
    [rec(3, 1, 1, 'ab'), false], // a SHA-256 of the wrong length
  ];
  for (const [r, usable] of cases) assert.equal(unusableReason(r) === undefined, usable, JSON.stringify(r));
  assert.match(unusableReason(rec(1, 1, 1, h)) ?? '', /PKIX-EE/);
  assert.deepEqual(usableRecords(cases.map((c) => c[0])).length, 3);
});

test('association data: selector 0/1 × matching 0/1/2', () => {
  const cert = new X509Certificate(leafPem);
  assert.equal(associationData(cert, 0, 0), der(leafPem).toString('hex'));
  assert.equal(associationData(cert, 1, 0), spki(leafPem).toString('hex'));
  assert.equal(associationData(cert, 0, 1), sha256(der(leafPem)));
  assert.equal(associationData(cert, 1, 1), sha256(spki(leafPem)));
  assert.equal(associationData(cert, 1, 2), sha512(spki(leafPem)));
});

test('matchTlsa, table: DANE-EE ignores names and dates; DANE-TA needs the chain, the dates and a reference name', () => {
  const names = ['mx.dest.test', 'dest.test'];
  const ee = rec(3, 1, 1, sha256(spki(leafPem)));
  const ta = rec(2, 1, 1, sha256(spki(interPem)));
  const cases: [string, TlsaRecord[], Buffer[], string | null][] = [
    ['3 1 1 of the leaf key', [ee], leafChain, '3 1 1'],
    ['3 0 1 of the leaf certificate', [rec(3, 0, 1, sha256(der(leafPem)))], leafChain, '3 0 1'],
    ['3 1 2 of the leaf key', [rec(3, 1, 2, sha512(spki(leafPem)))], leafChain, '3 1 2'],
    ['3 0 0 full certificate', [rec(3, 0, 0, der(leafPem).toString('hex'))], leafChain, '3 0 0'],
    ['DANE-EE: an expired self-signed certificate for another name still matches', [rec(3, 1, 1, sha256(spki(expiredSelfPem)))], expiredSelf, '3 1 1'],
    ['2 1 1 of the intermediate that issued the leaf', [ta], leafChain, '2 1 1'],
    ['2 0 1 of the intermediate certificate', [rec(2, 0, 1, sha256(der(interPem)))], leafChain, '2 0 1'],
    ['DANE-TA: the leaf names another host', [ta], otherName, null],
    ['DANE-TA of the leaf itself is not a trust anchor', [rec(2, 1, 1, sha256(spki(leafPem)))], leafChain, null],
    ['DANE-TA: the anchor is not in the chain sent', [ta], [der(leafPem)], null],
    ['a rotated key: 3 1 1 of another key', [rec(3, 1, 1, 'ab'.repeat(32))], leafChain, null],
    ['PKIX-EE(1) of the right key is not used', [rec(1, 1, 1, sha256(spki(leafPem)))], leafChain, null],
    ['one unusable, one matching', [rec(1, 1, 1, 'ab'.repeat(32)), ee], leafChain, '3 1 1'],
    ['a wrong record next to the right one', [rec(3, 1, 1, 'ab'.repeat(32)), ee], leafChain, '3 1 1'],
    ['no certificate', [ee], [], null],
  ];
  for (const [name, records, chain, want] of cases) {
    const got = matchTlsa(records, { chain, names, now: NOW });
    assert.equal(got.matched ? `${got.matched.usage} ${got.matched.selector} ${got.matched.matchingType}` : null, want, name);
    if (!got.matched) assert.ok(got.error.length > 0, name);
  }
});

test('the errors say what did not match', () => {
  const rotated = matchTlsa([rec(3, 1, 1, 'ab'.repeat(32))], { chain: leafChain, names: ['mx.dest.test'], now: NOW });
  assert.deepEqual(rotated, { matched: null, error: `the TLSA record 3 1 1 ${'ab'.repeat(32)} matches no certificate the server sent` });
  const ta = rec(2, 1, 1, sha256(spki(interPem)));
  const misnamed = matchTlsa([ta], { chain: otherName, names: ['mx.dest.test'], now: NOW });
  assert.ok(!misnamed.matched);
  assert.match(misnamed.error, /^2 1 1 matches the issuer "Inter", but the certificate is valid for other\.test, not mx\.dest\.test$/);
  const later = matchTlsa([ta], { chain: leafChain, names: ['mx.dest.test'], now: NOW + 60 * 86_400_000 });
  assert.ok(!later.matched);
  assert.match(later.error, /expired/);
  assert.deepEqual(matchTlsa([rec(1, 1, 1, 'ab'.repeat(32))], { chain: leafChain, names: [], now: NOW }), { matched: null, error: 'no usable TLSA record' });
});
