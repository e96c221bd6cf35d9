// inspect + admit: one parse and one lint per certificate, the parsed value handed to the store.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { syncBuiltinESMExports } from 'node:module';
import { after, before, describe, test } from 'node:test';
import type { CachedCert } from '../../../src/acme/cache.ts';
import { admit, inspect } from '../../../src/acme/current.ts';
import type { ParsedMaterial } from '../../../src/tls/material.ts';
import { createCertStore } from '../../../src/tls/store.ts';
import { createCa, issueCert, type TestCa, type TestCert } from '../../helpers/certs.ts';
import { captureLog } from '../../helpers/log.ts';

const names = ['mx.example.test', 'mail.example.test'];
let ca: TestCa;
let leaf: TestCert;
let other: TestCert;

/** Counts `new X509Certificate(…)` everywhere (the ESM bindings follow the patched builtin). */
const parses = { count: 0 };
const Original = crypto.X509Certificate;

before(async () => {
  ca = await createCa('Current Test CA', { issuer: await createCa('Current Test Root') });
  leaf = await issueCert(ca, { names });
  other = await issueCert(ca, { names: ['other.example.test'] });
  crypto.X509Certificate = class Counted extends Original {
    constructor(...args: ConstructorParameters<typeof Original>) {
      super(...args);
      parses.count += 1;
    }
  };
  syncBuiltinESMExports();
});
after(() => {
  crypto.X509Certificate = Original;
  syncBuiltinESMExports();
});

const entryOf = (c: TestCert): CachedCert => ({
  meta: {
    names,
    issuedAt: new Date().toISOString(),
    directory: 'https://ca.test/dir',
    orderUrl: 'https://ca.test/order/1',
    jitter: 0.5,
    keyFile: 'key.pem',
    chainFile: 'fullchain.pem',
  },
  keyPem: c.keyPem,
  certPem: c.chainPem,
});

describe('inspect + admit', { timeout: 20_000 }, () => {
  test('an issuance parses each certificate of the chain once, and the store gets that parsed value', () => {
    const { log } = captureLog();
    const store = createCertStore({ hostname: names[0] as string, listener: { minVersion: 'TLSv1.2' }, log });
    const given: unknown[] = [];
    const recording = { set: (source: 'acme', materials: Parameters<typeof store.set>[1]) => (given.push(...materials), store.set(source, materials)) };
    parses.count = 0;
    const entry = entryOf(leaf);
    const parsed = inspect(entry, { names, now: Date.now(), origin: 'issued' });
    assert.notEqual(typeof parsed, 'string', String(parsed));
    const current = admit(entry, parsed as ParsedMaterial, { names, origin: 'issued', store: recording });
    assert.notEqual(typeof current, 'string', String(current));
    assert.equal(parses.count, 2, 'leaf and intermediate, each parsed once (was 5 times each)');
    assert.equal(given.length, 1);
    assert.equal(given[0], parsed, 'the store receives the parsed value, not the PEMs again');
    assert.equal(store.current().default?.fingerprint, (parsed as ParsedMaterial).fingerprint);
    assert.equal(typeof current !== 'string' && current.serial, (parsed as ParsedMaterial).chain[0]?.serialNumber);
  });

  test('a certificate that does not cover the names is refused with the lint in words', () => {
    const issued = inspect(entryOf(other), { names, now: Date.now(), origin: 'issued' });
    assert.match(String(issued), /^the CA issued a certificate that fails the check: the certificate does not cover mx\.example\.test/);
    const cached = inspect(entryOf(other), { names, now: Date.now(), origin: 'cache' });
    assert.match(String(cached), /^cached certificate for mx\.example\.test, mail\.example\.test refused: the certificate does not cover/);
    const mismatched = inspect({ certPem: leaf.chainPem, keyPem: other.keyPem }, { names, now: Date.now(), origin: 'cache' });
    assert.match(String(mismatched), /refused: the private key does not belong/);
  });
});
