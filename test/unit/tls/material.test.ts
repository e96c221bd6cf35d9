// parseMaterial and lintChain against generated chains: good, disordered, mismatched, expired.
import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { lintChain, parseMaterial } from '../../../src/tls/material.ts';
import { createCa, issueCert, selfSignedCert, type TestCa, type TestCert } from '../../helpers/certs.ts';

const DAY = 86_400_000;
const now = Date.now();
let root: TestCa;
let inter: TestCa;
let leaf: TestCert;

before(async () => {
  root = await createCa('Sealpost Test Root');
  inter = await createCa('Sealpost Test Intermediate', { issuer: root });
  leaf = await issueCert(inter, { names: ['mx.example.test', '*.example.test'] });
});

describe('parseMaterial', { timeout: 20_000 }, () => {
  test('a chain with its key: names, validity, fingerprint of the leaf', () => {
    const result = parseMaterial({ certPem: leaf.chainPem, keyPem: leaf.keyPem });
    assert.ok(result.ok);
    assert.equal(result.parsed.chain.length, 2);
    assert.deepEqual(result.parsed.names, ['mx.example.test', '*.example.test']);
    assert.equal(result.parsed.fingerprint, new X509Certificate(leaf.certPem).fingerprint256);
    assert.equal(result.parsed.subject, 'CN=mx.example.test');
    assert.equal(result.parsed.issuer, 'CN=Sealpost Test Intermediate');
    assert.ok(result.parsed.notAfter > now && result.parsed.notBefore < now);
  });

  test('failures name the part that is wrong', async () => {
    const other = await selfSignedCert({ names: ['other.test'] });
    const encrypted = createPrivateKey(leaf.keyPem).export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'secret' }).toString();
    const cases: [string, { certPem: string; keyPem: string }, 'chain' | 'key' | 'pair', RegExp][] = [
      ['no certificate', { certPem: 'hello', keyPem: leaf.keyPem }, 'chain', /no PEM certificate/],
      [
        'garbage inside the PEM',
        { certPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', keyPem: leaf.keyPem },
        'chain',
        /certificate 1 .*cannot be parsed/,
      ],
      ['no key', { certPem: leaf.chainPem, keyPem: leaf.certPem }, 'key', /no PEM private key/],
      ['encrypted key', { certPem: leaf.chainPem, keyPem: encrypted }, 'key', /encrypted/],
      [
        'key of another certificate',
        { certPem: leaf.chainPem, keyPem: other.keyPem },
        'pair',
        /does not belong to the first certificate \(CN=mx.example.test\)/,
      ],
      ['intermediate first', { certPem: inter.certPem + leaf.certPem, keyPem: leaf.keyPem }, 'pair', /does not belong/],
    ];
    for (const [name, material, part, reason] of cases) {
      const result = parseMaterial(material);
      assert.ok(!result.ok, name);
      assert.equal(result.part, part, name);
      assert.match(result.reason, reason, name);
    }
  });
});

describe('lintChain', { timeout: 20_000 }, () => {
  const texts = (problems: { level: string; text: string }[]): string[] => problems.map((p) => `${p.level}: ${p.text}`);

  test('a complete, valid chain covering the names has no problems', () => {
    assert.deepEqual(lintChain({ certPem: leaf.chainPem, keyPem: leaf.keyPem }, { names: ['mx.example.test', 'a.example.test'], now }), []);
  });

  test('a self-signed leaf alone is not missing an intermediate', async () => {
    const self = await selfSignedCert({ names: ['mx.example.test'] });
    assert.deepEqual(lintChain({ certPem: self.certPem, keyPem: self.keyPem }, { names: ['mx.example.test'], now }), []);
  });

  test('a CA-issued leaf without its intermediate: a warning', () => {
    const problems = lintChain({ certPem: leaf.certPem, keyPem: leaf.keyPem }, { names: ['mx.example.test'], now });
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.level, 'warning');
    assert.match(problems[0]?.text ?? '', /no intermediate certificate: the leaf is issued by CN=Sealpost Test Intermediate/);
  });

  test('a certificate followed by one that did not sign it', async () => {
    const stranger = await createCa('Stranger CA');
    const problems = lintChain({ certPem: leaf.certPem + stranger.certPem, keyPem: leaf.keyPem }, { names: [], now });
    assert.deepEqual(texts(problems), [
      'error: the leaf certificate (CN=mx.example.test) is not signed by the certificate after it, chain certificate 2 (CN=Stranger CA): put the chain in order, leaf first, each followed by its issuer',
    ]);
  });

  test('the full chain up to the root is accepted', () => {
    assert.deepEqual(lintChain({ certPem: leaf.chainPem + root.certPem, keyPem: leaf.keyPem }, { names: [], now }), []);
  });

  test('a name not covered: two labels under a wildcard, the bare domain', () => {
    const problems = lintChain({ certPem: leaf.chainPem, keyPem: leaf.keyPem }, { names: ['a.b.example.test', 'example.test', 'x.example.test'], now });
    assert.equal(problems.length, 2);
    assert.match(problems[0]?.text ?? '', /does not cover a\.b\.example\.test \(it names mx\.example\.test, \*\.example\.test\)/);
    assert.match(problems[1]?.text ?? '', /does not cover example\.test/);
  });

  test('expired and not yet valid certificates', async () => {
    const expired = await issueCert(inter, { names: ['mx.example.test'], notBefore: new Date(now - 90 * DAY), notAfter: new Date(now - DAY) });
    const future = await issueCert(inter, { names: ['mx.example.test'], notBefore: new Date(now + DAY), notAfter: new Date(now + 90 * DAY) });
    const expiredProblems = lintChain({ certPem: expired.chainPem, keyPem: expired.keyPem }, { names: ['mx.example.test'], now });
    assert.deepEqual(
      expiredProblems.map((p) => p.level),
      ['error'],
    );
    assert.match(expiredProblems[0]?.text ?? '', /^the leaf certificate \(CN=mx\.example\.test\) expired on \d{4}-/);
    const futureProblems = lintChain({ certPem: future.chainPem, keyPem: future.keyPem }, { names: ['mx.example.test'], now });
    assert.match(futureProblems[0]?.text ?? '', /is not valid until .*check the system clock/);
    // The same chain seen from a later clock is fine.
    assert.deepEqual(lintChain({ certPem: future.chainPem, keyPem: future.keyPem }, { names: ['mx.example.test'], now: now + 2 * DAY }), []);
  });

  test('an expired intermediate is named as such', async () => {
    const oldInter = await createCa('Old Intermediate', { issuer: root, notBefore: new Date(now - 400 * DAY), notAfter: new Date(now - DAY) });
    const child = await issueCert(oldInter, { names: ['mx.example.test'] });
    const problems = lintChain({ certPem: child.chainPem, keyPem: child.keyPem }, { names: ['mx.example.test'], now });
    assert.deepEqual(problems.length, 1);
    assert.match(problems[0]?.text ?? '', /^chain certificate 2 \(CN=Old Intermediate\) expired on/);
  });

  test('a key that does not match stops the lint with one error', async () => {
    const other = await selfSignedCert({ names: ['other.test'] });
    const problems = lintChain({ certPem: leaf.chainPem, keyPem: other.keyPem }, { names: ['nothing.test'], now });
    assert.equal(problems.length, 1);
    assert.match(problems[0]?.text ?? '', /private key does not belong/);
  });
});
