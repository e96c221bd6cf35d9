// Every TLS policy level against every kind of receiver: delivered (plain, TLS verified or not),
// deferred or downgraded, with the hop record and the attempts row. Loopback only (netless).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { TlsLevel } from '../../src/config/types.ts';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { freePort } from '../helpers/ports.ts';
import { createTestPki, RECEIVER_KINDS, type Receiver, type ReceiverKind, startReceiver, type TestPki } from '../helpers/receivers.ts';
import { job, makeCourier, openTestDb, outboundConfig } from './outbound-setup.ts';

type Expect = 'plain' | 'tls-verified' | 'tls-unverified' | 'deferred' | 'downgraded';

// DANE levels need DNSSEC-signed TLSA records: test/integration/outbound-dane.test.ts.
const EXPECT: Record<Exclude<TlsLevel, 'dane' | 'dane-only'>, Record<ReceiverKind, Expect>> = {
  none: {
    valid: 'plain',
    'wrong-host': 'plain',
    wildcard: 'plain',
    'self-signed': 'plain',
    expired: 'plain',
    'missing-intermediate': 'plain',
    'no-starttls': 'plain',
    'broken-tls': 'plain',
  },
  may: {
    valid: 'tls-verified',
    'wrong-host': 'tls-unverified',
    wildcard: 'tls-unverified',
    'self-signed': 'tls-unverified',
    expired: 'tls-unverified',
    'missing-intermediate': 'tls-unverified',
    'no-starttls': 'plain',
    'broken-tls': 'downgraded',
  },
  encrypt: {
    valid: 'tls-verified',
    'wrong-host': 'tls-unverified',
    wildcard: 'tls-unverified',
    'self-signed': 'tls-unverified',
    expired: 'tls-unverified',
    'missing-intermediate': 'tls-unverified',
    'no-starttls': 'deferred',
    'broken-tls': 'deferred',
  },
  verify: {
    valid: 'tls-verified',
    'wrong-host': 'deferred',
    wildcard: 'deferred',
    'self-signed': 'deferred',
    expired: 'deferred',
    'missing-intermediate': 'deferred',
    'no-starttls': 'deferred',
    'broken-tls': 'deferred',
  },
};

/** What the hop's TLS error (or the deferral reason) must say, per receiver. */
const ERROR: Record<ReceiverKind, RegExp | undefined> = {
  valid: undefined,
  'wrong-host': /^certificate is valid for other\.wrong-host\.dest\.test, wrong-host\.dest\.test, not mx\.wrong-host\.dest\.test$/,
  wildcard: /^certificate is valid for \*\.dest\.test, not a\.mx-wild\.dest\.test$/,
  'self-signed': /^DEPTH_ZERO_SELF_SIGNED_CERT/,
  expired: /^CERT_HAS_EXPIRED/,
  'missing-intermediate': /^UNABLE_TO_VERIFY_LEAF_SIGNATURE/,
  'no-starttls': /does not offer STARTTLS/,
  // The raw handshake error as OpenSSL/Node report it (the peer sent no ServerHello).
  'broken-tls': /disconnected|wrong version|ECONNRESET|handshake/i,
};

const mxName = (kind: ReceiverKind): string => (kind === 'wildcard' ? 'a.mx-wild.dest.test' : `mx.${kind}.dest.test`);

let dns: DnsServer;
let pki: TestPki;
let port: number;
const receivers = new Map<ReceiverKind, Receiver>();

before(async () => {
  dns = await startDnsServer();
  pki = await createTestPki();
  port = await freePort('127.0.0.2');
  for (const [i, kind] of RECEIVER_KINDS.entries()) {
    const host = `127.0.0.${i + 2}`;
    receivers.set(kind, await startReceiver(kind, { host, port, mxName: mxName(kind), pki }));
    dns.zone.set(`${kind}.dest.test`, { MX: [{ preference: 10, exchange: mxName(kind) }] });
    dns.zone.set(mxName(kind), { A: [host] });
  }
});

after(async () => {
  for (const r of receivers.values()) await r.close();
  await dns.close();
});

for (const level of ['none', 'may', 'encrypt', 'verify'] as const) {
  test(`policy ${level} against every receiver`, { timeout: 60_000 }, async (t) => {
    const db = await openTestDb(t);
    const { courier, log, attempts } = makeCourier(t, db, dns, pki.trust, outboundConfig(port, { tlsDefault: level }));
    const rcpts = RECEIVER_KINDS.map((kind) => `user@${kind}.dest.test`);
    const j = job(rcpts, `From: alice@sender.sealpost.test\nSubject: policy ${level}\nX-Test-Policy: ${level}\n\nhello\n.leading dot\n`);
    const outcomes = await courier.deliver(j);
    const rows = await attempts.forMessage(j.queueId);
    for (const [i, kind] of RECEIVER_KINDS.entries()) {
      const want = EXPECT[level][kind];
      const label = `${level} → ${kind}`;
      const outcome = outcomes.get(i + 1);
      const got = receivers.get(kind)?.messages.filter((m) => m.body.includes(`X-Test-Policy: ${level}\r\n`)) ?? [];
      const hops = log.hops(j.queueId, `${kind}.dest.test`);
      const last = hops.at(-1);
      const row = rows.filter((r) => r.domain === `${kind}.dest.test`).at(-1);
      assert.ok(last && row, `${label}: a hop record and an attempts row`);
      assert.equal(last.policy, level, label);
      assert.equal(last.policySource, 'default', label);
      assert.equal(last.mx, mxName(kind), label);
      assert.equal(last.port, port, label);
      assert.deepEqual(last.rcpts, [`user@${kind}.dest.test`], label);
      assert.equal(row.mx, last.mx, label);
      assert.equal(row.result, last.result, label);
      if (want === 'deferred') {
        assert.equal(outcome?.kind, 'transient', `${label}: ${JSON.stringify(outcome)}`);
        assert.equal(got.length, 0, `${label}: nothing arrived`);
        assert.equal(last.result, 'transient', label);
        const reason = outcome?.kind === 'transient' ? outcome.reason : '';
        const why = ERROR[kind];
        assert.ok(why, label);
        if (last.tls?.error) assert.match(last.tls.error, why, `${label}: hop tls.error`);
        else assert.match(reason, why, `${label}: reason`);
        if (kind === 'broken-tls')
          assert.match(
            reason,
            new RegExp(`^mx\\.broken-tls\\.dest\\.test\\[127\\.0\\.0\\.\\d+\\]:${port}: TLS is required \\(${level}\\) but the handshake failed: `),
            label,
          );
        if (kind !== 'no-starttls' && kind !== 'broken-tls') {
          assert.match(reason, /certificate verification failed: /, label);
          assert.equal(row.tls?.verified, false, label);
          assert.match(row.tls?.error ?? '', why, `${label}: attempts row tls_error`);
        }
        continue;
      }
      assert.equal(outcome?.kind, 'delivered', `${label}: ${JSON.stringify(outcome)}`);
      assert.equal(got.length, 1, `${label}: one copy arrived`);
      assert.ok(got[0]?.body.includes('\r\n.leading dot\r\n'), `${label}: dot-stuffing undone by the receiver`);
      assert.equal(last.result, 'delivered', label);
      assert.equal(last.reply?.code, 250, label);
      assert.equal(got[0]?.secure, want === 'tls-verified' || want === 'tls-unverified', `${label}: transport`);
      if (want === 'plain' || want === 'downgraded') {
        assert.equal(last.tls, null, label);
        assert.equal(row.tls, undefined, label);
      } else {
        assert.match(last.tls?.version ?? '', /^TLSv1\.[23]$/, label);
        assert.ok((last.tls?.cipher ?? '') !== '', label);
        assert.equal(last.tls?.verified, want === 'tls-verified', label);
        assert.equal(row.tls?.verified, want === 'tls-verified', label);
        assert.equal(row.tls?.version, last.tls?.version, label);
        const why = ERROR[kind];
        if (want === 'tls-unverified' && why) assert.match(last.tls?.error ?? '', why, `${label}: tls.error`);
      }
      if (want === 'downgraded') {
        assert.match(last.downgrade ?? '', /handshake failed.*retried in plaintext/, label);
        assert.equal(row.downgrade, last.downgrade, label);
        assert.equal(hops.length, 2, `${label}: the failed TLS attempt has its own record`);
        assert.equal(hops[0]?.result, 'transient', label);
      } else assert.equal(last.downgrade, null, label);
    }
  });
}
