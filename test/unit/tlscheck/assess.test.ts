import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TlsLevel } from '../../../src/config/types.ts';
import type { TlsPolicy } from '../../../src/tls-policy/policy.ts';
import { assessAddress, deliveryVerdict, describePolicy, mxVerified } from '../../../src/tlscheck/assess.ts';
import type { CertSummary } from '../../../src/tlscheck/chain.ts';
import type { SmtpProbe } from '../../../src/tlscheck/probe.ts';
import type { AddressReport } from '../../../src/tlscheck/report.ts';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const DAY = 86_400_000;

function cert(subject: string, issuer: string, dnsNames: string[] = []): CertSummary {
  return {
    subject: `CN=${subject}`,
    commonName: subject,
    dnsNames,
    issuer: `CN=${issuer}`,
    notBefore: new Date(NOW - 30 * DAY).toISOString(),
    notAfter: new Date(NOW + 60 * DAY).toISOString(),
    selfIssued: subject === issuer,
    serial: '01',
    fingerprint256: subject,
  };
}

const leaf = cert('mx.example.org', 'R11', ['mx.example.org']);
const inter = cert('R11', 'Root');
const root = cert('Root', 'Root');
const base: SmtpProbe = { banner: '220 mx.example.org ESMTP', ehlo: ['PIPELINING', 'STARTTLS'], starttls: true, ehloAfterTls: ['PIPELINING'] };
const good: SmtpProbe = { ...base, tls: { version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', chain: [leaf, inter, root], authorized: true } };
const unverified: SmtpProbe = {
  ...base,
  tls: { version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', chain: [leaf], authorized: false, code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' },
};
const plain: SmtpProbe = { ...base, ehlo: ['PIPELINING'], starttls: false };
const refused: SmtpProbe = { ...base, starttlsRefused: '454 4.7.0 TLS not available' };
const broken: SmtpProbe = { ...base, failure: { stage: 'tls', error: 'wrong version number' } };
const down: SmtpProbe = { starttls: false, failure: { stage: 'connect', error: 'connect to 192.0.2.1 port 25: ECONNREFUSED' } };

const policy = (level: TlsLevel, source: TlsPolicy['source'] = 'default'): TlsPolicy => ({ level, source });

test('what Sealpost would do, by TLS level and what the server showed, table', () => {
  const cases: [TlsLevel, SmtpProbe, string, string | null][] = [
    ['may', good, 'deliver', 'tls-verified'],
    ['may', unverified, 'deliver', 'tls-unverified'],
    ['may', plain, 'deliver', 'plaintext'],
    ['may', refused, 'deliver', 'plaintext'],
    ['may', broken, 'retry-plaintext', 'plaintext'],
    ['encrypt', unverified, 'deliver', 'tls-unverified'],
    ['encrypt', plain, 'defer', null],
    ['encrypt', broken, 'defer', null],
    ['verify', good, 'deliver', 'tls-verified'],
    ['verify', unverified, 'defer', null],
    ['verify', refused, 'defer', null],
    ['none', good, 'deliver', 'plaintext'],
    ['verify', down, 'skip', null],
  ];
  for (const [level, probe, action, transport] of cases) {
    const v = deliveryVerdict(policy(level), probe, undefined, null, probe.failure?.error);
    assert.deepEqual(
      [v.action, v.transport],
      [action, transport],
      `${level} × ${JSON.stringify(probe.failure ?? probe.tls?.code ?? probe.starttls)}: ${v.text}`,
    );
  }
  assert.match(
    deliveryVerdict(policy('verify'), good, 'certificate is valid for a, not b', null, undefined).text,
    /^would defer the mail: certificate verification failed: certificate is valid for a, not b$/,
  );
  assert.match(
    deliveryVerdict(policy('may'), broken, undefined, null, undefined).text,
    /^would retry in plaintext on a new connection, logged as a downgrade \(TLS handshake failed: wrong version number\)$/,
  );
  // RFC 8461 §4.1: under enforce an MX outside the policy is not used at all.
  const sts = { ...policy('verify', 'mta-sts'), sts: { mode: 'enforce' as const, mx: ['mx.example.org'], maxAge: 86400, id: '1' } };
  assert.equal(deliveryVerdict(sts, good, undefined, false, undefined).action, 'skip');
});

test('assessAddress: the chain as sent, the trust anchor, findings and verification', () => {
  const probes = { ip: '192.0.2.1', port: 25, mxName: 'mx.example.org' };
  const asSent: SmtpProbe = {
    ...good,
    tls: { ...(good.tls as NonNullable<SmtpProbe['tls']>), chain: [leaf, inter], authorized: false, code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' },
  };
  const ok = assessAddress({ ...probes, main: good, asSent, noSni: good }, policy('may'), null, NOW);
  assert.deepEqual(
    ok.chain.map((c) => c.subject),
    ['CN=mx.example.org', 'CN=R11'],
  );
  assert.equal(ok.trustAnchor?.subject, 'CN=Root');
  assert.equal(ok.verified, true);
  assert.deepEqual(ok.findings, []);
  assert.equal(ok.withSni?.verified, true);
  assert.equal(ok.withoutSni?.verified, true);

  // Verified with SNI, but the default certificate (no SNI) is another, self-signed one.
  const other = cert('localhost', 'localhost', ['localhost']);
  const noSni: SmtpProbe = {
    ...base,
    tls: { version: 'TLSv1.2', cipher: 'ECDHE-RSA-AES128-GCM-SHA256', chain: [other], authorized: false, code: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
  };
  const mixed = assessAddress({ ...probes, main: good, asSent, noSni }, policy('may'), null, NOW);
  assert.equal(mixed.verified, true, 'a warning does not fail the host');
  assert.equal(mixed.withoutSni?.verified, false);
  assert.deepEqual(
    mixed.findings.map((f) => [f.kind, f.severity]),
    [['no-sni-certificate', 'warning']],
  );

  const bad = assessAddress({ ...probes, main: unverified, asSent: unverified, noSni: unverified }, policy('may'), null, NOW);
  assert.equal(bad.verified, false);
  assert.deepEqual(
    bad.findings.map((f) => f.kind),
    ['missing-intermediate'],
  );
  assert.equal(bad.trustAnchor, undefined);

  const none = assessAddress({ ...probes, main: plain }, policy('may'), null, NOW);
  assert.deepEqual([none.verified, none.reachable, none.findings.map((f) => f.kind), none.delivery.transport], [false, true, ['no-starttls'], 'plaintext']);

  const unreachable = assessAddress({ ...probes, main: down }, policy('may'), null, NOW);
  assert.deepEqual([unreachable.reachable, unreachable.error, unreachable.delivery.action], [false, 'connect to 192.0.2.1 port 25: ECONNREFUSED', 'skip']);

  // An address target: no SNI, no name; the handshake is reported as "without SNI".
  const byIp = assessAddress({ ip: '192.0.2.1', port: 25, main: good }, policy('may'), null, NOW);
  assert.equal(byIp.withSni, undefined);
  assert.equal(byIp.withoutSni?.verified, true);
  assert.equal(byIp.verified, true);
});

test('an MX verifies when it answered and every address that answered verifies', () => {
  const a = (reachable: boolean, verified: boolean) => ({ reachable, verified }) as AddressReport;
  assert.equal(mxVerified([a(true, true), a(false, false)]), true);
  assert.equal(mxVerified([a(true, true), a(true, false)]), false);
  assert.equal(mxVerified([a(false, false)]), false);
  assert.equal(mxVerified([]), false);
  assert.equal(describePolicy({ level: 'verify', source: 'table' }).text, 'TLS level "verify" from [outbound.tls_policy]');
});
