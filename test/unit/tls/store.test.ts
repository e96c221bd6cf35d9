// CertStore: sources → snapshot, all-or-nothing swaps, subscribers, logging.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { pickEntry } from '../../../src/tls/names.ts';
import { type CertSnapshot, createCertStore } from '../../../src/tls/store.ts';
import { createCa, issueCert, selfSignedCert, type TestCa, type TestCert } from '../../helpers/certs.ts';
import { captureLog } from '../../helpers/log.ts';

const hostname = 'mx.example.test';
let ca: TestCa;
let selfSigned: TestCert;
let acmeMx: TestCert;
let operatorWild: TestCert;
let unrelated: TestCert;

before(async () => {
  ca = await createCa('Store Test CA');
  selfSigned = await selfSignedCert({ names: [hostname] });
  acmeMx = await issueCert(ca, { names: [hostname, 'mail.example.test'] });
  operatorWild = await issueCert(ca, { names: ['*.example.test'] });
  unrelated = await selfSignedCert({ names: ['other.test'] });
});

const material = (c: TestCert) => ({ certPem: c.chainPem, keyPem: c.keyPem });
const fingerprintOf = (snapshot: CertSnapshot, name: string | undefined) => pickEntry(name, snapshot)?.fingerprint;
const fp = (c: TestCert) => new X509Certificate(c.certPem).fingerprint256;

describe('CertStore', { timeout: 20_000 }, () => {
  const newStore = () => {
    const { log, records } = captureLog();
    return { store: createCertStore({ hostname, listener: { minVersion: 'TLSv1.2' }, log }), records };
  };

  test('starts empty', () => {
    const { store } = newStore();
    assert.equal(store.current().generation, 0);
    assert.equal(store.current().default, undefined);
  });

  test('sources stack by precedence; the default follows the best cover of hostname', () => {
    const { store, records } = newStore();
    assert.ok(store.set('self-signed', [material(selfSigned)]).ok);
    assert.equal(fingerprintOf(store.current(), undefined), fp(selfSigned));

    assert.ok(store.set('acme', [material(acmeMx)]).ok);
    let snap = store.current();
    assert.equal(snap.generation, 2);
    assert.equal(snap.default?.source, 'acme');
    assert.equal(fingerprintOf(snap, 'mail.example.test'), fp(acmeMx));

    assert.ok(store.set('operator', [material(operatorWild)]).ok);
    snap = store.current();
    assert.equal(snap.default?.source, 'operator', 'a wildcard covering hostname makes the operator certificate the default');
    assert.equal(fingerprintOf(snap, 'mx.example.test'), fp(acmeMx), 'an exact name still beats a wildcard');
    assert.equal(fingerprintOf(snap, 'www.example.test'), fp(operatorWild));
    assert.equal(fingerprintOf(snap, 'nobody.test'), fp(operatorWild));

    assert.ok(store.set('operator', []).ok, 'removing a source');
    assert.equal(store.current().default?.source, 'acme');

    const actions = records.filter((r) => r['event'] === 'cert').map((r) => `${r['action']}:${r['source']}`);
    assert.deepEqual(actions, [
      'loaded:self-signed',
      'default:self-signed',
      'loaded:acme',
      'default:acme',
      'loaded:operator',
      'default:operator',
      'removed:operator',
      'default:acme',
    ]);
  });

  test('a bad material leaves the old snapshot in place and says why', () => {
    const { store, records } = newStore();
    store.set('self-signed', [material(selfSigned)]);
    const before = store.current();
    let notified = 0;
    store.subscribe(() => notified++);

    const result = store.set('acme', [material(acmeMx), { certPem: acmeMx.chainPem, keyPem: unrelated.keyPem }]);
    assert.ok(!result.ok);
    assert.match(result.reason, /^acme certificate 2: the private key does not belong/);
    assert.equal(store.current(), before);
    assert.equal(notified, 0);
    const refused = records.find((r) => r['action'] === 'refused');
    assert.equal(refused?.['level'], 'warn');
    assert.equal(refused?.['source'], 'acme');
  });

  test('removing the last certificate is refused', () => {
    const { store } = newStore();
    store.set('self-signed', [material(selfSigned)]);
    const result = store.set('self-signed', []);
    assert.ok(!result.ok);
    assert.match(result.reason, /no certificate would be left/);
    assert.equal(store.current().entries.length, 1);
  });

  test('subscribers run after the swap with the new and previous snapshots; unsubscribe stops them', () => {
    const { store, records } = newStore();
    const seen: [number, number][] = [];
    const stop = store.subscribe((next, previous) => {
      assert.equal(store.current(), next, 'the swap is done before subscribers run');
      seen.push([next.generation, previous.generation]);
    });
    store.subscribe(() => {
      throw new Error('a buggy subscriber');
    });
    store.set('self-signed', [material(selfSigned)]);
    store.set('acme', [material(acmeMx)]);
    stop();
    store.set('operator', [material(operatorWild)]);
    assert.deepEqual(seen, [
      [1, 0],
      [2, 1],
    ]);
    assert.equal(records.filter((r) => r['level'] === 'error').length, 3, 'the throwing subscriber is logged each time, not fatal');
  });

  test('setting the same material again changes nothing and reuses the context', () => {
    const { store } = newStore();
    store.set('self-signed', [material(selfSigned)]);
    const first = store.current();
    let notified = 0;
    store.subscribe(() => notified++);
    const again = store.set('self-signed', [material(selfSigned)]);
    assert.ok(again.ok);
    assert.equal(again.changed, false);
    assert.equal(store.current(), first);
    assert.equal(notified, 0);

    store.set('acme', [material(acmeMx)]);
    assert.equal(store.current().entries.find((e) => e.source === 'self-signed')?.context, first.default?.context, 'other sources keep their built contexts');
  });

  test('snapshots are frozen', () => {
    const { store } = newStore();
    store.set('self-signed', [material(selfSigned)]);
    const snap = store.current();
    assert.ok(Object.isFrozen(snap) && Object.isFrozen(snap.entries) && Object.isFrozen(snap.default));
  });
});
