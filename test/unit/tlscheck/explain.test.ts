import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CertSummary } from '../../../src/tlscheck/chain.ts';
import { explainChain, explainName, explainNoSni, tidyTlsError } from '../../../src/tlscheck/explain.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const DAY = 86_400_000;

function cert(subject: string, issuer: string, dnsNames: string[] = [], life: [number, number] = [-30, 60]): CertSummary {
  return {
    subject: `CN=${subject}`,
    commonName: subject,
    dnsNames,
    issuer: `CN=${issuer}`,
    notBefore: new Date(NOW + life[0] * DAY).toISOString(),
    notAfter: new Date(NOW + life[1] * DAY).toISOString(),
    selfIssued: subject === issuer,
    serial: '01',
    fingerprint256: `${subject}|${issuer}`,
  };
}

const leaf = cert('mx.example.org', 'R11', ['mx.example.org']);
const inter = cert('R11', 'ISRG Root X1');
const root = cert('Private Root', 'Private Root');

test('chain findings by OpenSSL code, table', () => {
  const cases: { name: string; code?: string; sent: CertSummary[]; kinds: string[]; text?: RegExp }[] = [
    { name: 'verified, nothing to say', sent: [leaf, inter], kinds: [] },
    {
      name: 'only the leaf sent',
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      sent: [leaf],
      kinds: ['missing-intermediate'],
      text: /^the server sent only its own certificate; install the full chain: the certificate followed by the intermediate certificate of its issuer, CN=R11 \(the CA's "fullchain" file\)$/,
    },
    {
      name: 'issuer unknown after an intermediate',
      code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
      sent: [leaf, inter],
      kinds: ['incomplete-chain'],
      text: /^the chain the server sent ends at CN=R11, issued by CN=ISRG Root X1, which this machine does not trust/,
    },
    {
      name: 'self-signed leaf',
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      sent: [cert('mx.example.org', 'mx.example.org', ['mx.example.org'])],
      kinds: ['self-signed'],
      text: /^the certificate is self-signed \(issued by itself, CN=mx\.example\.org\): no sender can verify it/,
    },
    {
      name: 'private root sent',
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
      sent: [leaf, cert('R11', 'Private Root'), root],
      kinds: ['untrusted-root'],
      text: /^the chain ends at CN=Private Root, a root CA this machine does not trust/,
    },
    {
      name: 'expired leaf',
      code: 'CERT_HAS_EXPIRED',
      sent: [cert('mx.example.org', 'R11', ['mx.example.org'], [-90, -3]), inter],
      kinds: ['expired'],
      text: /^the certificate expired on 2026-02-26 \(3 days ago\): renew it and install the new one$/,
    },
    {
      name: 'expired intermediate',
      code: 'CERT_HAS_EXPIRED',
      sent: [leaf, cert('R11', 'ISRG Root X1', [], [-900, -1])],
      kinds: ['expired'],
      text: /^the chain certificate CN=R11 expired on 2026-02-28 \(1 day ago\): install the current chain from your CA$/,
    },
    {
      name: 'expired but the culprit was not sent',
      code: 'CERT_HAS_EXPIRED',
      sent: [leaf, inter],
      kinds: ['expired'],
      text: /^a certificate in the chain is expired \(CERT_HAS_EXPIRED\)/,
    },
    {
      name: 'not yet valid',
      code: 'CERT_NOT_YET_VALID',
      sent: [cert('mx.example.org', 'R11', ['mx.example.org'], [2, 90]), inter],
      kinds: ['not-yet-valid'],
      text: /is not valid before 2026-03-03: check the clock/,
    },
    {
      name: 'self-signed and expired: both said',
      code: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      sent: [cert('mx', 'mx', ['mx'], [-10, -2])],
      kinds: ['self-signed', 'expired'],
    },
    {
      name: 'expiring soon is a warning',
      sent: [cert('mx.example.org', 'R11', ['mx.example.org'], [-80, 5]), inter],
      kinds: ['expires-soon'],
      text: /^the certificate expires on 2026-03-06 \(in 5 days\): renew it soon$/,
    },
    { name: 'another code, verbatim', code: 'CERT_REVOKED', sent: [leaf, inter], kinds: ['unverified'], text: /^the chain does not verify: CERT_REVOKED$/ },
    { name: 'nothing sent', code: 'X', sent: [], kinds: ['unverified'] },
  ];
  for (const c of cases) {
    const findings = explainChain({ ...(c.code ? { code: c.code } : {}), sent: c.sent, now: NOW });
    assert.deepEqual(
      findings.map((f) => f.kind),
      c.kinds,
      c.name,
    );
    if (c.text) assert.match(findings[0]?.text ?? '', c.text, c.name);
  }
  assert.equal(explainChain({ sent: [cert('a', 'R11', ['a'], [-80, 5])], now: NOW })[0]?.severity, 'warning');
});

test('name findings: RFC 6125 matching, the one-label wildcard rule in words', () => {
  const named = (names: string[], cn = 'x') => ({ ...leaf, commonName: cn, subject: `CN=${cn}`, dnsNames: names });
  assert.equal(explainName('mx.example.org', leaf), undefined);
  assert.equal(explainName('MX.Example.ORG.', leaf), undefined);
  assert.equal(explainName('a.mailguard.com.au', named(['*.mailguard.com.au'])), undefined);
  assert.equal(
    explainName('prefix.x.mailguard.com.au', named(['*.mailguard.com.au']))?.text,
    '*.mailguard.com.au covers one label only and does not cover prefix.x.mailguard.com.au; the certificate must name prefix.x.mailguard.com.au itself (or *.x.mailguard.com.au)',
  );
  assert.equal(
    explainName('mx.example.org', named(['other.example.org', 'example.org']))?.text,
    'the certificate is for other.example.org, example.org and does not cover mx.example.org; it must name mx.example.org',
  );
  // CN only when there is no DNS name at all (RFC 6125 §6.4.4).
  assert.equal(explainName('mx.example.org', named([], 'mx.example.org')), undefined);
  assert.match(
    explainName('mx.example.org', { ...named([]), commonName: undefined as unknown as string, subject: 'O=Nobody' } as CertSummary)?.text ?? '',
    /^the certificate names no host \(no DNS subjectAltName, subject O=Nobody\); it must name mx\.example\.org$/,
  );
  assert.equal(explainName('mx.example.org', named(['*.org']))?.kind, 'name-mismatch');
});

test('without SNI: a warning only when that certificate does not verify', () => {
  const problems = explainChain({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT', sent: [cert('default', 'default')], now: NOW });
  const w = explainNoSni('mx.example.org', cert('default', 'default'), problems);
  assert.equal(w?.severity, 'warning');
  assert.match(w?.text ?? '', /^without SNI the server presents CN=default, which does not verify for mx\.example\.org \(the certificate is self-signed/);
  assert.equal(explainNoSni('mx.example.org', leaf, []), undefined);
});

test('handshake errors: OpenSSL noise trimmed to its reason and code', () => {
  assert.equal(
    tidyTlsError(
      'ERR_SSL_WRONG_VERSION_NUMBER: 40FD6761647F0000:error:0A00010B:SSL routines:tls_validate_record_header:wrong version number:../deps/openssl/openssl/ssl/record/methods/tlsany_meth.c:77:\n',
    ),
    'wrong version number (ERR_SSL_WRONG_VERSION_NUMBER)',
  );
  assert.equal(
    tidyTlsError('C0E7:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:ssl/record/rec_layer_s3.c:1605:'),
    'sslv3 alert handshake failure',
  );
  assert.equal(tidyTlsError('connection closed during the handshake'), 'connection closed during the handshake');
  assert.equal(
    tidyTlsError('Client network socket disconnected before secure TLS connection was established'),
    'Client network socket disconnected before secure TLS connection was established',
  );
});
