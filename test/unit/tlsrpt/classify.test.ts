// Which TLS report result each kind of attempt counts for (tlsrpt/classify.ts), table-tested.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AttemptRecord } from '../../../src/outbound/attempts-store.ts';
import { certificateResult, classifyAttempt, type SessionVerdict } from '../../../src/tlsrpt/classify.ts';

const sts = { id: 'p1', mode: 'enforce', mx: ['mx.dest.test'], maxAge: 86400 };
const base: AttemptRecord = {
  queueId: 'Q1',
  at: 0,
  domain: 'dest.test',
  rcpts: ['a@dest.test'],
  mx: 'mx.dest.test',
  ip: '192.0.2.1',
  port: 25,
  policy: 'may',
  policySource: 'default',
  result: 'delivered',
  reply: { code: 250, text: 'ok' },
  ms: 5,
};
const tls = (verified: boolean, error?: string, version = 'TLSv1.3') => ({ version, cipher: 'TLS_AES_128_GCM_SHA256', verified, ...(error ? { error } : {}) });
const mismatch = 'certificate is valid for mx.other.test, not mx.dest.test';

test('attempts → sessions of the TLS report (RFC 8460 §4.3), table', () => {
  const cases: [string, Partial<AttemptRecord>, SessionVerdict][] = [
    ['verified TLS, no policy', { tls: tls(true) }, { session: 'success', policy: 'no-policy-found' }],
    ['verified TLS under sts', { tls: tls(true), stsPolicy: sts, policy: 'verify', policySource: 'mta-sts' }, { session: 'success', policy: 'sts' }],
    ['unverified under "may": opportunistic, not checked', { tls: tls(false, mismatch) }, { session: 'success', policy: 'no-policy-found' }],
    [
      'name mismatch under sts testing',
      { tls: tls(false, mismatch), stsPolicy: { ...sts, mode: 'testing' } },
      { session: 'failure', policy: 'sts', result: 'certificate-host-mismatch' },
    ],
    [
      'name mismatch under sts enforce (deferred)',
      { tls: tls(false, mismatch), stsPolicy: sts, policy: 'verify', result: 'transient', error: 'x' },
      { session: 'failure', policy: 'sts', result: 'certificate-host-mismatch' },
    ],
    [
      'expired under a verify table entry',
      { tls: tls(false, 'CERT_HAS_EXPIRED (certificate has expired)'), policy: 'verify', policySource: 'table' },
      { session: 'failure', policy: 'no-policy-found', result: 'certificate-expired' },
    ],
    [
      'self-signed under sts',
      { tls: tls(false, 'DEPTH_ZERO_SELF_SIGNED_CERT (self-signed certificate)'), stsPolicy: sts },
      { session: 'failure', policy: 'sts', result: 'certificate-not-trusted' },
    ],
    [
      'failed handshake',
      { tls: tls(false, 'handshake failed', ''), result: 'transient' },
      { session: 'failure', policy: 'no-policy-found', result: 'validation-failure' },
    ],
    ['the plaintext retry after it', { downgrade: 'TLS handshake failed: x; retried in plaintext' }, { session: 'none' }],
    [
      'STARTTLS refused under "may"',
      { downgrade: 'STARTTLS refused (454); continued in plaintext' },
      { session: 'failure', policy: 'no-policy-found', result: 'starttls-not-supported' },
    ],
    [
      'no STARTTLS under sts enforce',
      { stsPolicy: sts, policy: 'verify', result: 'transient', error: 'TLS is required (verify) but the server does not offer STARTTLS' },
      { session: 'failure', policy: 'sts', result: 'starttls-not-supported' },
    ],
    ['no STARTTLS under "may", delivered in plaintext', {}, { session: 'failure', policy: 'no-policy-found', result: 'starttls-not-supported' }],
    ['level none: TLS not wanted', { policy: 'none' }, { session: 'none' }],
    ['connection refused', { result: 'transient', error: 'connect ECONNREFUSED', reply: undefined }, { session: 'none' }],
    ['greeting refused', { result: 'transient', error: 'host x refused the session: 554 no', reply: { code: 554, text: 'no' } }, { session: 'none' }],
    ['DNS failure: no host', { mx: '', ip: '', result: 'transient', error: 'dest.test: DNS timeout' }, { session: 'none' }],
    [
      'no MX host in the sts policy',
      { ip: '', stsPolicy: sts, result: 'transient', error: 'no MX host of dest.test (mx.x.test) matches its MTA-STS policy (mx: mx.dest.test)' },
      { session: 'failure', policy: 'sts', result: 'validation-failure' },
    ],
    ['through a relay', { tls: tls(false, mismatch), transport: 'relay', policy: 'verify' }, { session: 'none' }],
    [
      'MTA-STS policy not fetched, none cached',
      { tls: tls(true), stsProblem: { kind: 'sts-policy-fetch-error', detail: 'policy fetch failed: timeout' } },
      { session: 'failure', policy: 'sts', result: 'sts-policy-fetch-error' },
    ],
    [
      'policy host certificate not valid',
      { tls: tls(true), stsProblem: { kind: 'sts-webpki-invalid', detail: 'x' } },
      { session: 'failure', policy: 'sts', result: 'sts-webpki-invalid' },
    ],
    [
      'invalid policy, but a cached one in force',
      { tls: tls(true), stsPolicy: sts, stsProblem: { kind: 'sts-policy-invalid', detail: 'x' } },
      { session: 'success', policy: 'sts' },
    ],
  ];
  for (const [name, fields, want] of cases) {
    const attempt = { ...base, ...fields } as AttemptRecord;
    if ('reply' in fields && fields.reply === undefined) delete attempt.reply;
    assert.deepEqual(classifyAttempt(attempt), want, name);
  }
});

// The attempts rows outbound/hop.ts hostPolicy leads to, per TLSA answer and level (RFC 7672 §2.2).
const ee = '3 1 1 aabbcc';
const found = (fields: Partial<NonNullable<AttemptRecord['dane']>> = {}) => ({ tlsa: 1, usable: 1, matched: null, error: null, records: [ee], ...fields });
const notSent = { ip: '', result: 'transient', reply: undefined } as const;

test('DANE hops → tlsa sessions of the TLS report (RFC 8460 §4.3.2.2), table', () => {
  const cases: [string, Partial<AttemptRecord>, SessionVerdict][] = [
    [
      'the chain matched a 3 1 1 record',
      { policy: 'dane', policySource: 'dane', tls: tls(true), dane: found({ matched: '3 1 1' }) },
      { session: 'success', policy: 'tlsa' },
    ],
    [
      'matched, under an MTA-STS policy too: DANE wins (RFC 8461 §2)',
      { policy: 'dane', policySource: 'dane', tls: tls(true), dane: found({ matched: '3 1 1' }), stsPolicy: sts },
      { session: 'success', policy: 'tlsa' },
    ],
    [
      'matched, the MTA-STS policy not fetched: still a DANE success',
      { policy: 'dane', policySource: 'dane', tls: tls(true), dane: found({ matched: '3 1 1' }), stsProblem: { kind: 'sts-policy-fetch-error', detail: 'x' } },
      { session: 'success', policy: 'tlsa' },
    ],
    [
      'no record matched the chain (key rotated)',
      {
        policy: 'dane-only',
        policySource: 'dane',
        result: 'transient',
        tls: tls(false, 'the TLSA record 3 1 1 aa… matches no certificate the server sent'),
        dane: found({ error: 'the TLSA record 3 1 1 aa… matches no certificate the server sent' }),
      },
      { session: 'failure', policy: 'tlsa', result: 'tlsa-invalid' },
    ],
    [
      'usable TLSA, the handshake failed',
      { policy: 'dane', policySource: 'dane', result: 'transient', tls: tls(false, 'handshake failed', ''), dane: found() },
      { session: 'failure', policy: 'tlsa', result: 'validation-failure' },
    ],
    [
      'usable TLSA, no STARTTLS',
      { policy: 'dane', policySource: 'dane', result: 'transient', error: 'TLS is required (dane) but the server does not offer STARTTLS', dane: found() },
      { session: 'failure', policy: 'tlsa', result: 'starttls-not-supported' },
    ],
    [
      'usable TLSA, connection refused',
      { policy: 'dane', policySource: 'dane', result: 'transient', error: 'connect ECONNREFUSED', reply: undefined, dane: found() },
      { session: 'none' },
    ],
    [
      'only unusable TLSA (usage 1): encrypt, delivered unauthenticated (RFC 7672 §3.1.1)',
      {
        policy: 'encrypt',
        policySource: 'dane',
        tls: tls(false, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE (x)'),
        dane: found({ usable: 0, records: ['1 1 1 aabbcc'] }),
      },
      { session: 'failure', policy: 'tlsa', result: 'tlsa-invalid' },
    ],
    [
      'only unusable TLSA under dane-only: not sent',
      { ...notSent, policy: 'dane-only', dane: found({ usable: 0, records: ['1 1 1 aabbcc'], error: 'no usable TLSA record' }) },
      { session: 'failure', policy: 'tlsa', result: 'tlsa-invalid' },
    ],
    [
      'bogus TLSA answer (SERVFAIL): deferred',
      { ...notSent, policy: 'dane', dane: { tlsa: 0, usable: 0, matched: null, error: 'TLSA lookup failed: _25._tcp.mx.dest.test TLSA: SERVFAIL' } },
      { session: 'failure', policy: 'tlsa', result: 'dnssec-invalid' },
    ],
    [
      'dane-only, the host has no TLSA',
      { ...notSent, policy: 'dane-only', dane: { tlsa: 0, usable: 0, matched: null, error: 'no TLSA records for _25._tcp.mx.dest.test' } },
      { session: 'failure', policy: 'tlsa', result: 'dane-required' },
    ],
    [
      'dane-only, the host zone is not signed',
      { ...notSent, policy: 'dane-only', dane: { tlsa: 0, usable: 0, matched: null, error: 'the address records of mx.dest.test are not DNSSEC-secure' } },
      { session: 'failure', policy: 'tlsa', result: 'dane-required' },
    ],
    [
      '"dane" without TLSA: opportunistic TLS, no policy',
      { policy: 'may', policySource: 'default', tls: tls(false, mismatch), dane: { tlsa: 0, usable: 0, matched: null, error: 'no TLSA records' } },
      { session: 'success', policy: 'no-policy-found' },
    ],
    [
      '"dane" without TLSA, MTA-STS enforce: the sts policy applies',
      {
        policy: 'verify',
        policySource: 'mta-sts',
        stsPolicy: sts,
        tls: tls(false, mismatch),
        dane: { tlsa: 0, usable: 0, matched: null, error: 'no TLSA records' },
      },
      { session: 'failure', policy: 'sts', result: 'certificate-host-mismatch' },
    ],
  ];
  for (const [name, fields, want] of cases) {
    const attempt = { ...base, ...fields } as AttemptRecord;
    if ('reply' in fields && fields.reply === undefined) delete attempt.reply;
    assert.deepEqual(classifyAttempt(attempt), want, name);
  }
});

test('certificate errors → result types, table', () => {
  const cases: [string | undefined, string][] = [
    ['CERT_HAS_EXPIRED (certificate has expired)', 'certificate-expired'],
    ['CERT_NOT_YET_VALID (certificate is not yet valid)', 'certificate-expired'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE (unable to verify the first certificate)', 'certificate-not-trusted'],
    ['SELF_SIGNED_CERT_IN_CHAIN (self-signed certificate in certificate chain)', 'certificate-not-trusted'],
    ['certificate has no DNS names, not valid for mx.dest.test', 'certificate-host-mismatch'],
    ['the server sent no certificate', 'validation-failure'],
    [undefined, 'validation-failure'],
  ];
  for (const [error, want] of cases) assert.equal(certificateResult(error), want, String(error));
});
