import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TlsLevel } from '../../../src/config/types.ts';
import type { AttemptRecord } from '../../../src/outbound/attempts-store.ts';
import {
  decideTls,
  type HopPlace,
  type HopTls,
  hopInfo,
  hopLogFields,
  hopRecord,
  hostPolicy,
  openHop,
  policyWithoutDane,
  type SessionSource,
  stsAllowedHosts,
  stsTestingReport,
  wantsStarttls,
  writeHop,
} from '../../../src/outbound/hop.ts';
import type { SmtpSession } from '../../../src/outbound/smtp-client.ts';
import type { TlsObserved } from '../../../src/tls-policy/evaluate.ts';
import type { TlsPolicy } from '../../../src/tls-policy/policy.ts';
import { captureLog } from '../../helpers/log.ts';

const CIPHER = 'TLS_AES_256_GCM_SHA384';
const seen: Record<string, TlsObserved> = {
  noStarttls: { starttlsOffered: false, handshake: 'skipped' },
  refused: { starttlsOffered: true, handshake: 'refused', error: '454 4.7.0 TLS not available' },
  broken: { starttlsOffered: true, handshake: 'failed', error: 'wrong version number' },
  verified: { starttlsOffered: true, handshake: 'ok', version: 'TLSv1.3', cipher: CIPHER },
  wrongName: { starttlsOffered: true, handshake: 'ok', version: 'TLSv1.3', cipher: CIPHER, nameError: 'certificate is valid for a.test, not b.test' },
  untrusted: {
    starttlsOffered: true,
    handshake: 'ok',
    version: 'TLSv1.2',
    cipher: 'ECDHE-RSA-AES128-GCM-SHA256',
    chainError: 'DEPTH_ZERO_SELF_SIGNED_CERT (self-signed certificate)',
  },
  daneMatch: {
    starttlsOffered: true,
    handshake: 'ok',
    version: 'TLSv1.3',
    cipher: CIPHER,
    chainError: 'SELF_SIGNED_CERT_IN_CHAIN',
    dane: { matched: '2 1 1' },
  },
  daneMiss: { starttlsOffered: true, handshake: 'ok', version: 'TLSv1.3', cipher: CIPHER, dane: { matched: null, error: 'no match' } },
};

/** The record's tls field for each observation: none without a handshake. */
const tlsOf: Record<string, HopTls | undefined> = {
  noStarttls: undefined,
  refused: undefined,
  broken: { version: '', cipher: '', verified: false, error: 'wrong version number' },
  verified: { version: 'TLSv1.3', cipher: CIPHER, verified: true },
  wrongName: { version: 'TLSv1.3', cipher: CIPHER, verified: false, error: 'certificate is valid for a.test, not b.test' },
  untrusted: { version: 'TLSv1.2', cipher: 'ECDHE-RSA-AES128-GCM-SHA256', verified: false, error: 'DEPTH_ZERO_SELF_SIGNED_CERT (self-signed certificate)' },
  // Verified by the TLSA match, whatever the CA store says.
  daneMatch: { version: 'TLSv1.3', cipher: CIPHER, verified: true },
  daneMiss: { version: 'TLSv1.3', cipher: CIPHER, verified: false, error: 'no match' },
};

const refusedDowngrade = 'STARTTLS refused (454 4.7.0 TLS not available); continued in plaintext';
const brokenReason = 'TLS handshake failed: wrong version number';
const required = (level: string, why: string) => `TLS is required (${level}) but ${why}`;

test('the hop decision: level × observation → continue / retry plaintext / defer, with the record fields, table', () => {
  type Want = { action: 'continue'; downgrade?: string } | { action: 'retry-plaintext'; error: string; downgrade: string } | { action: 'defer'; error: string };
  const go: Want = { action: 'continue' };
  const table: Record<TlsLevel, Record<string, Want>> = {
    none: { noStarttls: go, refused: go, broken: go, verified: go, wrongName: go, untrusted: go },
    may: {
      noStarttls: go,
      refused: { action: 'continue', downgrade: refusedDowngrade },
      broken: { action: 'retry-plaintext', error: brokenReason, downgrade: `${brokenReason}; retried in plaintext` },
      verified: go,
      wrongName: go,
      untrusted: go,
    },
    encrypt: {
      noStarttls: { action: 'defer', error: required('encrypt', 'the server does not offer STARTTLS') },
      refused: { action: 'defer', error: required('encrypt', 'STARTTLS was refused: 454 4.7.0 TLS not available') },
      broken: { action: 'defer', error: required('encrypt', 'the handshake failed: wrong version number') },
      verified: go,
      wrongName: go,
      untrusted: go,
    },
    verify: {
      noStarttls: { action: 'defer', error: required('verify', 'the server does not offer STARTTLS') },
      refused: { action: 'defer', error: required('verify', 'STARTTLS was refused: 454 4.7.0 TLS not available') },
      broken: { action: 'defer', error: required('verify', 'the handshake failed: wrong version number') },
      verified: go,
      wrongName: { action: 'defer', error: 'certificate verification failed: certificate is valid for a.test, not b.test' },
      untrusted: { action: 'defer', error: 'certificate verification failed: DEPTH_ZERO_SELF_SIGNED_CERT (self-signed certificate)' },
    },
    dane: {
      noStarttls: { action: 'defer', error: required('dane', 'the server does not offer STARTTLS') },
      broken: { action: 'defer', error: required('dane', 'the handshake failed: wrong version number') },
      daneMatch: go,
      daneMiss: { action: 'defer', error: 'DANE authentication failed: no match' },
    },
    'dane-only': {
      refused: { action: 'defer', error: required('dane-only', 'STARTTLS was refused: 454 4.7.0 TLS not available') },
      daneMatch: go,
      daneMiss: { action: 'defer', error: 'DANE authentication failed: no match' },
    },
  };
  for (const [level, row] of Object.entries(table) as [TlsLevel, Record<string, Want>][]) {
    for (const [name, want] of Object.entries(row)) {
      const tls = tlsOf[name];
      assert.deepEqual(decideTls(level, seen[name] as TlsObserved), { ...want, ...(tls ? { tls } : {}) }, `${level} / ${name}`);
    }
  }
});

test('STARTTLS is sent unless the level is none or this is the plaintext retry', () => {
  assert.equal(wantsStarttls('none', false), false);
  assert.equal(wantsStarttls('may', false), true);
  assert.equal(wantsStarttls('may', true), false);
  assert.equal(wantsStarttls('verify', false), true);
});

const enforce: TlsPolicy = { level: 'verify', source: 'mta-sts', sts: { id: 'a1', mode: 'enforce', mx: ['*.dest.test'], maxAge: 86400 } };
const testing: TlsPolicy = { level: 'may', source: 'default', sts: { id: 'a1', mode: 'testing', mx: ['mx.dest.test'], maxAge: 86400 } };
const host = (name: string) => ({ name, preference: 10, implicit: false, addresses: ['192.0.2.1'] });

test('RFC 8461 §4.1: under enforce only the MX hosts the policy names; testing and table policies filter nothing', () => {
  const hosts = [host('mx.dest.test'), host('mx.elsewhere.test')];
  assert.deepEqual(stsAllowedHosts('dest.test', hosts, enforce), { ok: true, hosts: [hosts[0]] });
  assert.deepEqual(stsAllowedHosts('dest.test', hosts, testing), { ok: true, hosts });
  assert.deepEqual(stsAllowedHosts('dest.test', hosts, { ...enforce, source: 'table' }), { ok: true, hosts });
  assert.deepEqual(stsAllowedHosts('dest.test', [host('mx.elsewhere.test')], enforce), {
    ok: false,
    reason: 'no MX host of dest.test (mx.elsewhere.test) matches its MTA-STS policy (mx: *.dest.test)',
  });
});

test('RFC 8461 §5 testing mode: what enforce would have refused is reported, table', () => {
  const sts = testing.sts!;
  const cases: [string, string, HopTls | undefined, string | undefined][] = [
    ['no MX reached', '', undefined, undefined],
    ['MX outside the policy', 'mx.other.test', tlsOf['verified'], 'testing: MX mx.other.test is not in the MTA-STS policy'],
    ['plaintext', 'mx.dest.test', undefined, 'testing: no TLS; enforce would defer'],
    ['failed handshake', 'mx.dest.test', tlsOf['broken'], 'testing: no TLS; enforce would defer'],
    ['not verified', 'mx.dest.test', tlsOf['untrusted'], 'testing: enforce would defer: DEPTH_ZERO_SELF_SIGNED_CERT (self-signed certificate)'],
    ['verified', 'mx.dest.test', tlsOf['verified'], undefined],
  ];
  for (const [name, mx, tls, want] of cases) assert.equal(stsTestingReport(sts, mx, tls), want, name);
});

const place: HopPlace = { queueId: 'Q1', domain: 'dest.test', rcpts: ['a@dest.test'], policy: testing, mx: 'mx.dest.test', ip: '192.0.2.1', port: 25 };

test('one hop record: the log record and the attempts row are made from the same value', () => {
  const { log, records } = captureLog();
  const rows: AttemptRecord[] = [];
  const facts = { tls: tlsOf['untrusted'] as HopTls };
  const record = hopRecord(place, facts, { at: 1000, ms: 42 }, 'delivered', { reply: { code: 250, text: 'ok' } });
  writeHop({ log, attempts: { record: (r) => rows.push(r) }, now: () => 0 }, record);
  const sts = 'testing: enforce would defer: DEPTH_ZERO_SELF_SIGNED_CERT (self-signed certificate)';
  assert.deepEqual(rows, [
    {
      queueId: 'Q1',
      at: 1000,
      domain: 'dest.test',
      rcpts: ['a@dest.test'],
      mx: 'mx.dest.test',
      ip: '192.0.2.1',
      port: 25,
      policy: 'may',
      policySource: 'default',
      tls: facts.tls,
      result: 'delivered',
      reply: { code: 250, text: 'ok' },
      ms: 42,
      // The testing-mode policy in force, for the TLS report (tlsrpt/).
      stsPolicy: { id: 'a1', mode: 'testing', mx: ['mx.dest.test'], maxAge: 86400 },
    },
  ]);
  const logged = records.find((r) => r['event'] === 'hop');
  assert.deepEqual(logged && Object.fromEntries(Object.entries(logged).filter(([k]) => !['level', 'time', 'service', 'msg', 'event'].includes(k))), {
    queueId: 'Q1',
    rcpts: ['a@dest.test'],
    domain: 'dest.test',
    mx: 'mx.dest.test',
    ip: '192.0.2.1',
    port: 25,
    policy: 'may',
    policySource: 'default',
    tls: facts.tls,
    downgrade: null,
    reply: { code: 250, text: 'ok' },
    result: 'delivered',
    error: null,
    transport: null,
    dane: null,
    source: null,
    sts,
    ms: 42,
  });
  assert.deepEqual(hopLogFields(hopRecord({ ...place, mx: '' }, {}, { at: 0, ms: 1 }, 'permanent', { error: 'NXDOMAIN' })).tls, null);
  assert.deepEqual(hopInfo(place, facts, 42), {
    mx: 'mx.dest.test',
    ip: '192.0.2.1',
    port: 25,
    ms: 42,
    tls: facts.tls,
    policy: 'may',
    policySource: 'default',
  });
});

/** A session with only what openHop uses; the rest of SmtpSession is not touched. */
function fakeSession(tls: TlsObserved, events: string[], ehloAgain = true): SmtpSession {
  const fake = {
    tls,
    downgrade: undefined as string | undefined,
    helloAfterTls: async () => (events.push('ehlo again'), ehloAgain ? { ok: true } : { ok: false, stage: 'ehlo', reason: 'EHLO: closed' }),
    quit: async () => void events.push('quit'),
    close: () => void events.push('close'),
  };
  return fake as unknown as SmtpSession; // a structural fake: openHop reads tls and downgrade, calls these methods
}

test('under "may" a failed handshake is one hop record, then one plaintext retry that carries the downgrade', { timeout: 5000 }, async () => {
  const { log, records } = captureLog();
  const rows: AttemptRecord[] = [];
  const events: string[] = [];
  const retried = fakeSession(seen['noStarttls'] as TlsObserved, events);
  const asked: boolean[] = [];
  const open: SessionSource = async (plaintext) => {
    asked.push(plaintext);
    return { ok: true, session: plaintext ? retried : fakeSession(seen['broken'] as TlsObserved, events) };
  };
  const mayPlace = { ...place, policy: { level: 'may', source: 'default' } as TlsPolicy };
  const hop = await openHop({ log, attempts: { record: (r) => rows.push(r) }, now: () => 5 }, mayPlace, open);
  assert.deepEqual(asked, [false, true]);
  assert.deepEqual(events, ['close']);
  assert.equal(hop.ok && hop.session, retried);
  assert.equal(hop.ok && hop.plaintextRetry, true);
  const downgrade = `${brokenReason}; retried in plaintext`;
  assert.deepEqual(hop.ok && hop.facts, { downgrade });
  assert.equal(retried.downgrade, downgrade, 'kept on the session for its reuse from the pool');
  assert.equal(rows.length, 1);
  assert.deepEqual(rows[0] && { result: rows[0].result, error: rows[0].error, tls: rows[0].tls }, {
    result: 'transient',
    error: brokenReason,
    tls: tlsOf['broken'],
  });
  assert.equal(records.filter((r) => r['event'] === 'hop').length, 1);
});

test('a deferred hop closes the session (QUIT after a handshake) and says why; no retry outside "may"', { timeout: 5000 }, async () => {
  const { log } = captureLog();
  for (const [level, observed, closing] of [
    ['verify', 'untrusted', 'quit'],
    ['encrypt', 'broken', 'close'],
  ] as const) {
    const events: string[] = [];
    const asked: boolean[] = [];
    const hop = await openHop({ log, now: () => 0 }, { ...place, policy: { level, source: 'table' } }, async (plaintext) => {
      asked.push(plaintext);
      return { ok: true, session: fakeSession(seen[observed] as TlsObserved, events) };
    });
    assert.deepEqual(asked, [false], level);
    assert.deepEqual(events, [closing], level);
    assert.equal(hop.ok, false);
    assert.deepEqual(!hop.ok && { stage: hop.failure.stage, tls: hop.facts.tls }, { stage: 'tls', tls: tlsOf[observed] }, level);
  }
  const events: string[] = [];
  const ok = await openHop({ log, now: () => 0 }, { ...place, policy: { level: 'verify', source: 'table' } }, async () => ({
    ok: true,
    session: fakeSession(seen['verified'] as TlsObserved, events),
  }));
  assert.deepEqual(events, ['ehlo again'], 'RFC 3207 §4.2: EHLO again after TLS');
  assert.deepEqual(ok.ok && ok.facts, { tls: tlsOf['verified'] });
});

test('RFC 7672 §2.2 per MX host, table: DANE lookup × level → the host policy (or defer) and the record', () => {
  const ee = { usage: 3, selector: 1, matchingType: 1, data: 'ab'.repeat(32) };
  const pkix = { usage: 1, selector: 1, matchingType: 1, data: 'cd'.repeat(32) };
  const sts = { id: 'a1', mode: 'enforce' as const, mx: ['mx.dest.test'], maxAge: 86400 };
  const dane: TlsPolicy = { level: 'dane', source: 'default' };
  const only: TlsPolicy = { level: 'dane-only', source: 'table' };
  const withSts: TlsPolicy = { level: 'dane', source: 'default', sts };
  const records = { kind: 'records' as const, records: [pkix, ee], secure: true as const, base: 'mx.dest.test' };
  const unusable = { kind: 'records' as const, records: [pkix], secure: true as const, base: 'mx.dest.test' };
  const insecure = { kind: 'insecure' as const, why: 'the address records of mx.dest.test are not DNSSEC-secure' };
  const none = { kind: 'none' as const, why: '_25._tcp.mx.dest.test has no TLSA records (DNSSEC-secure denial)' };
  const failed = { kind: 'failed' as const, why: 'SERVFAIL' };
  const off = { kind: 'off' as const, why: 'DANE off: no validation' };
  type Row = [string, TlsPolicy, string, Parameters<typeof hostPolicy>[3], string];
  // want: "level/source" of the host, or "defer"
  const rows: Row[] = [
    ['usable TLSA: DANE', dane, 'mx.dest.test', records, 'dane/dane'],
    ['usable TLSA under dane-only', only, 'mx.dest.test', records, 'dane-only/dane'],
    ['usable TLSA wins over MTA-STS', withSts, 'mx.dest.test', records, 'dane/dane'],
    ['only unusable TLSA: encrypt', dane, 'mx.dest.test', unusable, 'encrypt/dane'],
    ['only unusable TLSA, MTA-STS enforce: verify', withSts, 'mx.dest.test', unusable, 'verify/mta-sts'],
    ['only unusable TLSA under dane-only: defer', only, 'mx.dest.test', unusable, 'defer'],
    ['TLSA lookup failed: defer, even with MTA-STS', withSts, 'mx.dest.test', failed, 'defer'],
    ['TLSA lookup failed under dane: defer, never may', dane, 'mx.dest.test', failed, 'defer'],
    ['insecure host: may', dane, 'mx.dest.test', insecure, 'may/default'],
    ['insecure host with MTA-STS enforce: verify', withSts, 'mx.dest.test', insecure, 'verify/mta-sts'],
    ['insecure host outside the MTA-STS policy: defer', withSts, 'mx.other.test', insecure, 'defer'],
    ['insecure host under dane-only: defer', only, 'mx.dest.test', insecure, 'defer'],
    ['no TLSA: may', dane, 'mx.dest.test', none, 'may/default'],
    ['no TLSA under dane-only: defer', only, 'mx.dest.test', none, 'defer'],
    ['DANE off: may', dane, 'mx.dest.test', off, 'may/default'],
    ['DANE off, MTA-STS enforce: verify', withSts, 'mx.dest.test', off, 'verify/mta-sts'],
    ['DANE off under dane-only: defer', only, 'mx.dest.test', off, 'defer'],
    ['not a DANE level: unchanged', { level: 'verify', source: 'table' }, 'mx.dest.test', failed, 'verify/table'],
  ];
  for (const [name, policy, mx, lookup, want] of rows) {
    const got = hostPolicy(policy, 'dest.test', mx, lookup);
    assert.equal(got.ok ? `${got.policy.level}/${got.policy.source}` : 'defer', want, name);
  }
  const usable = hostPolicy(dane, 'dest.test', 'mx.dest.test', records);
  assert.ok(usable.ok);
  assert.deepEqual(usable.dane, { records: [ee], base: 'mx.dest.test', names: ['mx.dest.test', 'dest.test'] });
  // The RRset as published, usable or not: the TLS report's policy-string (RFC 8460 §4.3).
  const rrset = [`1 1 1 ${pkix.data}`, `3 1 1 ${ee.data}`];
  assert.deepEqual(usable.facts, { tlsa: 2, usable: 1, matched: null, error: null, records: rrset });
  const bogus = hostPolicy(dane, 'dest.test', 'mx.dest.test', failed);
  assert.ok(!bogus.ok);
  assert.equal(bogus.reason, 'the TLSA lookup for mx.dest.test failed (SERVFAIL); RFC 7672 §2.2: deferred, never sent without DANE');
  assert.deepEqual(bogus.facts, { tlsa: 0, usable: 0, matched: null, error: 'TLSA lookup failed: SERVFAIL' });
  // The record: what the lookup found, with this connection's match.
  const record = hopRecord(
    { ...place, policy: { level: 'dane', source: 'dane' }, daneFacts: usable.facts! },
    { dane: { matched: '3 1 1' } },
    { at: 0, ms: 1 },
    'delivered',
    {},
  );
  assert.deepEqual(record.dane, { tlsa: 2, usable: 1, matched: '3 1 1', error: null, records: rrset });
  assert.equal(hopLogFields(record).policySource, 'dane');
});

test('DANE off: "dane" is decided for the whole destination as without DANE, table', () => {
  const sts = { id: 'a1', mode: 'enforce' as const, mx: ['mx.dest.test'], maxAge: 86400 };
  const testingSts = { ...sts, mode: 'testing' as const };
  const cases: [TlsPolicy, TlsPolicy][] = [
    [
      { level: 'dane', source: 'default' },
      { level: 'may', source: 'default' },
    ],
    [
      { level: 'dane', source: 'default', sts },
      { level: 'verify', source: 'mta-sts', sts },
    ],
    [
      { level: 'dane', source: 'default', sts: testingSts },
      { level: 'may', source: 'default', sts: testingSts },
    ],
    [
      { level: 'dane', source: 'table' },
      { level: 'may', source: 'table' },
    ],
    [
      { level: 'dane-only', source: 'default' },
      { level: 'dane-only', source: 'default' },
    ],
    [
      { level: 'verify', source: 'table' },
      { level: 'verify', source: 'table' },
    ],
  ];
  for (const [policy, want] of cases) assert.deepEqual(policyWithoutDane(policy), want, JSON.stringify(policy));
});
