// Table tests for the ACME renewal state: resume, failure and back-off, success, forced renewal,
// ARI window and offer, the plan it implies, the status it shows.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Current } from '../../../src/acme/current.ts';
import {
  admitted,
  ariPollAt,
  ariPolled,
  failed,
  forced,
  issued,
  nextStep,
  notDueUntil,
  type RenewalState,
  renewAt,
  replaces,
  resume,
  toStatus,
} from '../../../src/acme/renewal-state.ts';
import type { RetryPolicy } from '../../../src/acme/schedule.ts';
import type { CertStatus } from '../../../src/acme/status.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.parse('2026-03-01T00:00:00Z');
const names = ['mx.example.test', 'mail.example.test'];
const policy: RetryPolicy = { minBackoffMs: MIN, maxBackoffMs: 6 * HOUR, maxRetryAfterMs: DAY };

/** A 90-day certificate issued at T0; with jitter 0 it renews when a third is left: T0 + 60 days. */
function cert(over: Partial<Current> = {}, jitter = 0): Current {
  return {
    entry: {
      meta: {
        names,
        issuedAt: new Date(T0).toISOString(),
        directory: 'https://ca.test/dir',
        orderUrl: 'https://ca.test/order/1',
        jitter,
        keyFile: 'key.pem',
        chainFile: 'fullchain.pem',
      },
      keyPem: '',
      certPem: '',
    },
    serial: '01',
    issuer: 'CN=Test CA',
    notBefore: T0,
    notAfter: T0 + 90 * DAY,
    fingerprint: 'AB:CD',
    ariId: 'aki.serial',
    ...over,
  };
}
const RENEW = T0 + 60 * DAY;
const fresh = (): RenewalState => resume(undefined, names, T0);
const withCert = (): RenewalState => admitted(fresh(), cert());
/** A certificate at a CA that offers no ARI: only renewals and retries wake the manager. */
const noAri = (): RenewalState => ariPolled(withCert(), { offered: false, ari: { pollAt: T0 } });
const fail = (s: RenewalState, now: number, retryAfterMs?: number): RenewalState =>
  failed(s, { reason: 'boom', now, policy, jitter: 0, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });

describe('resume: what survives a restart', { timeout: 5000 }, () => {
  const status = (over: Partial<CertStatus>): CertStatus => ({
    names,
    failures: 3,
    lastError: 'rate limited',
    lastErrorAt: '2026-03-01T00:00:00.000Z',
    nextAttemptAt: '2026-03-01T01:00:00.000Z',
    lastIssuedAt: '2026-02-01T00:00:00.000Z',
    ...over,
  });
  const cases: [what: string, previous: CertStatus[] | undefined, failures: number, nextAttemptAt: number | undefined, lastError: string | undefined][] = [
    ['no status file', undefined, 0, undefined, undefined],
    ['the same names: failures, error and retry time', [status({})], 3, T0 + HOUR, 'rate limited'],
    ['other names: a different certificate, afresh', [status({ names: ['other.test'] })], 0, undefined, undefined],
    ['the same names among others', [status({ names: ['other.test'], failures: 9 }), status({})], 3, T0 + HOUR, 'rate limited'],
    ['an unreadable retry time is dropped', [status({ nextAttemptAt: 'soon' })], 3, undefined, 'rate limited'],
    ['no retry time', [status({ nextAttemptAt: undefined as unknown as string })], 3, undefined, 'rate limited'],
  ];
  for (const [what, previous, failures, nextAttemptAt, lastError] of cases) {
    test(what, () => {
      const s = resume(previous, names, T0);
      assert.equal(s.failures, failures);
      assert.equal(s.nextAttemptAt, nextAttemptAt);
      assert.equal(s.lastError, lastError);
      assert.equal(s.current, undefined);
      assert.deepEqual(s.ari, { pollAt: T0 }, 'ARI is asked at start');
      assert.equal(s.ariOffered, undefined);
    });
  }
  test('a resumed retry time holds back the first issuance', () => {
    const s = resume([status({})], names, T0);
    assert.deepEqual(nextStep(s, T0), { action: 'wait', wakeAt: T0 + HOUR });
    assert.equal(nextStep(s, T0 + HOUR).action, 'issue');
  });
});

describe('failed: back-off schedule', { timeout: 5000 }, () => {
  // minBackoff doubling per failure up to maxBackoff (jitter 0); Retry-After later, up to maxRetryAfter.
  const cases: [failuresBefore: number, retryAfterMs: number | undefined, delay: number][] = [
    [0, undefined, MIN],
    [1, undefined, 2 * MIN],
    [2, undefined, 4 * MIN],
    [5, undefined, 32 * MIN],
    [9, undefined, 6 * HOUR], // capped
    [50, undefined, 6 * HOUR],
    [0, 10 * MIN, 10 * MIN], // the CA's Retry-After, later than the back-off
    [3, MIN, 8 * MIN], // earlier than the back-off: the back-off wins
    [0, 7 * DAY, DAY], // "a week" is capped
  ];
  for (const [before, retryAfterMs, delay] of cases) {
    test(`after ${before} failures${retryAfterMs !== undefined ? `, Retry-After ${retryAfterMs / MIN} min` : ''}: next attempt in ${delay / MIN} min`, () => {
      const start = { ...withCert(), failures: before };
      const s = fail(start, T0 + DAY, retryAfterMs);
      assert.equal(s.failures, before + 1);
      assert.equal(s.nextAttemptAt, T0 + DAY + delay);
      assert.equal(s.lastError, 'boom');
      assert.equal(s.lastErrorAt, new Date(T0 + DAY).toISOString());
      assert.equal(s.current, start.current, 'the certificate in force keeps serving');
      assert.equal(start.failures, before, 'the previous state is untouched');
    });
  }
  test('jitter adds up to a tenth', () => {
    assert.equal(failed(fresh(), { reason: 'x', now: T0, policy, jitter: 0.5 }).nextAttemptAt, T0 + MIN * 1.05);
  });
  test('a due renewal waits for the retry time, then issues', () => {
    const s = fail(noAri(), RENEW);
    assert.deepEqual(nextStep(s, RENEW), { action: 'wait', wakeAt: RENEW + MIN });
    assert.equal(nextStep(s, RENEW + MIN).action, 'issue');
  });
});

describe('issued, forced', { timeout: 5000 }, () => {
  test('success forgets failures, back-off and the forced renewal, and asks ARI about the new certificate', () => {
    let s = fail(fail(withCert(), T0), T0 + MIN);
    s = forced(s, T0 + 2 * MIN);
    s = ariPolled(s, { offered: true, ari: { window: { start: T0 + DAY, end: T0 + 2 * DAY }, pollAt: T0 + 6 * HOUR } });
    const next = cert({ serial: '02', notBefore: T0 + HOUR, notAfter: T0 + HOUR + 90 * DAY });
    const after = issued(s, next, T0 + HOUR);
    assert.deepEqual(after, { current: next, failures: 0, lastIssuedAt: new Date(T0 + HOUR).toISOString(), ari: { pollAt: T0 + HOUR }, ariOffered: true });
    assert.equal(renewAt(after), T0 + HOUR + 60 * DAY, 'the old window no longer applies');
  });
  test('a forced renewal is due at once, and stays due across failures until it succeeds', () => {
    let s = forced(noAri(), T0 + DAY);
    assert.equal(renewAt(s), T0 + DAY);
    assert.equal(nextStep(s, T0 + DAY).action, 'issue');
    s = forced(fail(s, T0 + DAY), T0 + 2 * DAY);
    assert.equal(s.forcedAt, T0 + DAY, 'the first force counts');
    assert.deepEqual(nextStep(s, T0 + DAY), { action: 'wait', wakeAt: T0 + DAY + MIN });
    assert.equal(nextStep(s, T0 + DAY + MIN).action, 'issue');
  });
  test('a renewal already due is not moved later by a force', () => {
    assert.equal(renewAt(forced(withCert(), RENEW + DAY)), RENEW);
  });
});

describe('ARI: window and offer', { timeout: 5000 }, () => {
  const window = { start: T0 + 10 * DAY, end: T0 + 12 * DAY };
  test('a window moves renewal inside it, by the certificate jitter (RFC 9773 §4.2)', () => {
    const s = ariPolled(admitted(fresh(), cert({}, 0.5)), { offered: true, ari: { window, pollAt: T0 + 6 * HOUR } });
    assert.equal(renewAt(s), T0 + 11 * DAY);
  });
  test('an unusable window (end before start) keeps the one-third rule', () => {
    assert.equal(renewAt(ariPolled(withCert(), { offered: true, ari: { window: { start: window.end, end: window.start }, pollAt: T0 } })), RENEW);
  });
  const cases: [what: string, offered: boolean | undefined, pollAt: number | undefined, replacesId: string | undefined][] = [
    ['not asked yet: poll, no `replaces`', undefined, T0 + HOUR, undefined],
    ['offered: poll, send `replaces`', true, T0 + HOUR, 'aki.serial'],
    ['not offered by this CA: never poll, no `replaces`', false, undefined, undefined],
  ];
  for (const [what, offered, pollAt, replacesId] of cases) {
    test(what, () => {
      const s = ariPolled(withCert(), { offered, ari: { pollAt: T0 + HOUR } });
      assert.equal(ariPollAt(s), pollAt);
      assert.equal(replaces(s), replacesId);
    });
  }
  test('an answer that does not know the offer keeps what was learnt', () => {
    const s = ariPolled(ariPolled(withCert(), { offered: true, ari: { pollAt: T0 } }), { offered: undefined, ari: { pollAt: T0 + HOUR } });
    assert.equal(s.ariOffered, true);
  });
  test('no `replaces` without a certificate in force', () => {
    assert.equal(replaces(ariPolled(fresh(), { offered: true, ari: { pollAt: T0 } })), undefined);
  });
});

describe('nextStep / notDueUntil', { timeout: 5000 }, () => {
  const polled = (pollAt: number, offered: boolean | undefined = true) => ariPolled(withCert(), { offered, ari: { pollAt } });
  const cases: [what: string, state: RenewalState, now: number, action: string, wakeAt: number][] = [
    ['no certificate: issue now', fresh(), T0, 'issue', T0],
    ['no certificate, backing off: wait for the retry', fail(fresh(), T0), T0, 'wait', T0 + MIN],
    ['certificate, ARI poll due', withCert(), T0, 'poll-ari', T0],
    ['certificate, ARI later: wait for the poll', polled(T0 + 6 * HOUR), T0 + HOUR, 'wait', T0 + 6 * HOUR],
    ['certificate, no ARI at this CA: wait for renewal', polled(T0, false), T0 + HOUR, 'wait', RENEW],
    ['renewal due: issue (before polling)', polled(RENEW), RENEW, 'issue', RENEW],
  ];
  for (const [what, state, now, action, wakeAt] of cases) {
    test(what, () => assert.deepEqual(nextStep(state, now), { action, wakeAt }));
  }
  test('notDueUntil: the renewal time while not due; undefined when due or without a certificate', () => {
    assert.equal(notDueUntil(withCert(), T0), RENEW);
    assert.equal(notDueUntil(withCert(), RENEW), undefined);
    assert.equal(notDueUntil(fresh(), T0), undefined);
  });
});

describe('toStatus', { timeout: 5000 }, () => {
  test('what `sealpost certs` shows, and the daemon-only next check', () => {
    const s = ariPolled(fail(withCert(), T0 + DAY), {
      offered: true,
      ari: { window: { start: T0 + 10 * DAY, end: T0 + 10 * DAY }, explanationUrl: 'https://ca.test/why', pollAt: T0 + 2 * DAY },
    });
    const iso = (ms: number) => new Date(ms).toISOString();
    assert.deepEqual(toStatus(s, { names, now: T0 + DAY, scheduling: true }), {
      names,
      current: { serial: '01', issuer: 'CN=Test CA', notBefore: iso(T0), notAfter: iso(T0 + 90 * DAY), fingerprint256: 'AB:CD' },
      nextRenewalAt: iso(T0 + 10 * DAY),
      nextCheckAt: iso(T0 + 2 * DAY), // the ARI poll; the retry time counts only once renewal is due
      nextAttemptAt: iso(T0 + DAY + MIN),
      ari: { windowStart: iso(T0 + 10 * DAY), windowEnd: iso(T0 + 10 * DAY), nextPollAt: iso(T0 + 2 * DAY), explanationUrl: 'https://ca.test/why' },
      failures: 1,
      lastError: 'boom',
      lastErrorAt: iso(T0 + DAY),
    });
    assert.deepEqual(toStatus(fresh(), { names, now: T0, scheduling: false }), { names, failures: 0 });
  });
  test('a status written and resumed gives back the failures and the retry time', () => {
    const s = fail(fail(withCert(), T0), T0 + MIN);
    const back = resume([toStatus(s, { names, now: T0 + MIN, scheduling: true })], names, T0 + 2 * MIN);
    assert.equal(back.failures, 2);
    assert.equal(back.nextAttemptAt, s.nextAttemptAt);
    assert.equal(back.lastError, 'boom');
  });
});
