import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TlsLevel } from '../../../src/config/types.ts';
import { evaluate, shouldStarttls, type TlsObserved } from '../../../src/tls-policy/evaluate.ts';

const seen: Record<string, TlsObserved> = {
  noStarttls: { starttlsOffered: false, handshake: 'skipped' },
  refused: { starttlsOffered: true, handshake: 'refused', error: '454 4.7.0 TLS not available' },
  broken: { starttlsOffered: true, handshake: 'failed', error: 'wrong version number' },
  verified: { starttlsOffered: true, handshake: 'ok' },
  wrongName: { starttlsOffered: true, handshake: 'ok', nameError: 'certificate is valid for a.test, not b.test' },
  untrusted: { starttlsOffered: true, handshake: 'ok', chainError: 'DEPTH_ZERO_SELF_SIGNED_CERT (self-signed certificate)' },
  // DANE hops (usable TLSA records): the match decides, not the CA store or the name.
  daneMatch: { starttlsOffered: true, handshake: 'ok', chainError: 'DEPTH_ZERO_SELF_SIGNED_CERT (self-signed certificate)', dane: { matched: '3 1 1' } },
  daneMiss: { starttlsOffered: true, handshake: 'ok', dane: { matched: null, error: 'the TLSA record 3 1 1 aa… matches no certificate the server sent' } },
};

test('every level against every observation, table', () => {
  const expect: Record<TlsLevel, Record<string, string>> = {
    none: { noStarttls: 'proceed', refused: 'proceed', broken: 'proceed', verified: 'proceed', wrongName: 'proceed', untrusted: 'proceed' },
    may: { noStarttls: 'proceed', refused: 'proceed+downgrade', broken: 'retry-plaintext', verified: 'proceed', wrongName: 'proceed', untrusted: 'proceed' },
    encrypt: { noStarttls: 'defer', refused: 'defer', broken: 'defer', verified: 'proceed', wrongName: 'proceed', untrusted: 'proceed' },
    verify: { noStarttls: 'defer', refused: 'defer', broken: 'defer', verified: 'proceed', wrongName: 'defer', untrusted: 'defer' },
    // RFC 7672 §2.2: never plaintext, never a failed match; verified/wrongName carry no DANE verdict.
    dane: { noStarttls: 'defer', refused: 'defer', broken: 'defer', verified: 'defer', daneMatch: 'proceed', daneMiss: 'defer' },
    'dane-only': { noStarttls: 'defer', refused: 'defer', broken: 'defer', verified: 'defer', daneMatch: 'proceed', daneMiss: 'defer' },
  };
  for (const [level, row] of Object.entries(expect) as [TlsLevel, Record<string, string>][]) {
    for (const [name, want] of Object.entries(row)) {
      const v = evaluate(level, seen[name] as TlsObserved);
      const got = v.action === 'proceed' && v.downgrade ? 'proceed+downgrade' : v.action;
      assert.equal(got, want, `${level} / ${name}`);
    }
  }
});

test('verify defers with the exact verification error', () => {
  const v = evaluate('verify', seen['wrongName'] as TlsObserved);
  assert.ok(v.action === 'defer');
  assert.equal(v.reason, 'certificate verification failed: certificate is valid for a.test, not b.test');
});

test('a DANE hop defers with the match error', () => {
  const v = evaluate('dane', seen['daneMiss'] as TlsObserved);
  assert.ok(v.action === 'defer');
  assert.equal(v.reason, 'DANE authentication failed: the TLSA record 3 1 1 aa… matches no certificate the server sent');
});

test('STARTTLS is sent unless the level is none or it is not offered', () => {
  assert.equal(shouldStarttls('none', true), false);
  assert.equal(shouldStarttls('may', false), false);
  assert.equal(shouldStarttls('may', true), true);
  assert.equal(shouldStarttls('verify', true), true);
});
