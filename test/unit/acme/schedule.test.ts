// Renewal timing (pure): a third of the lifetime, jitter, ARI windows, backoff with Retry-After.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_RETRY, nextAriPollAt, nextRenewalAt, parseRetryAfter, plan, renewalDue, renewalTime, retryAt } from '../../../src/acme/schedule.ts';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const T0 = Date.parse('2030-01-01T00:00:00Z');

describe('renewalTime / renewalDue', { timeout: 5000 }, () => {
  const cases: { what: string; lifetimeDays: number; jitter: number; renewAtDay: number }[] = [
    { what: '90-day cert, no jitter: day 60', lifetimeDays: 90, jitter: 0, renewAtDay: 60 },
    { what: '90-day cert, max jitter: 4.5 days earlier', lifetimeDays: 90, jitter: 0.999999, renewAtDay: 55.5 },
    { what: '6-day cert: day 4', lifetimeDays: 6, jitter: 0, renewAtDay: 4 },
    { what: '6-day cert, half jitter', lifetimeDays: 6, jitter: 0.5, renewAtDay: 4 - 0.15 },
    { what: 'jitter out of range is clamped', lifetimeDays: 90, jitter: -3, renewAtDay: 60 },
  ];
  for (const c of cases) {
    it(c.what, () => {
      const cert = { notBefore: T0, notAfter: T0 + c.lifetimeDays * DAY };
      const at = renewalTime(cert, c.jitter);
      assert.ok(Math.abs(at - (T0 + c.renewAtDay * DAY)) < 1000, `${new Date(at).toISOString()}`);
      assert.equal(renewalDue(cert, at - 1, c.jitter), false);
      assert.equal(renewalDue(cert, at, c.jitter), true);
    });
  }

  it('an expired certificate is due', () => {
    assert.equal(renewalDue({ notBefore: T0, notAfter: T0 + DAY }, T0 + 2 * DAY, 0.3), true);
  });
});

describe('nextRenewalAt with ARI (RFC 9773 §4.2)', { timeout: 5000 }, () => {
  const cert = { notBefore: T0, notAfter: T0 + 90 * DAY };
  const cases: { what: string; window?: { start: number; end: number }; jitter: number; expect: number }[] = [
    { what: 'no window: a third of the lifetime', jitter: 0, expect: T0 + 60 * DAY },
    { what: 'window start with jitter 0', window: { start: T0 + 10 * DAY, end: T0 + 12 * DAY }, jitter: 0, expect: T0 + 10 * DAY },
    { what: 'middle of the window', window: { start: T0 + 10 * DAY, end: T0 + 12 * DAY }, jitter: 0.5, expect: T0 + 11 * DAY },
    { what: 'window in the past (revocation): its time, i.e. now', window: { start: T0 - 2 * DAY, end: T0 - DAY }, jitter: 0, expect: T0 - 2 * DAY },
    { what: 'window ending before it starts is ignored', window: { start: T0 + 12 * DAY, end: T0 + 10 * DAY }, jitter: 0, expect: T0 + 60 * DAY },
  ];
  for (const c of cases) {
    it(c.what, () => assert.equal(nextRenewalAt(cert, c.jitter, c.window), c.expect));
  }
});

describe('nextAriPollAt', { timeout: 5000 }, () => {
  const cases: { retryAfterMs?: number; expect: number }[] = [
    { expect: 6 * HOUR },
    { retryAfterMs: 60_000, expect: HOUR },
    { retryAfterMs: 3 * HOUR, expect: 3 * HOUR },
    { retryAfterMs: 7 * DAY, expect: 24 * HOUR },
  ];
  for (const c of cases) {
    it(`Retry-After ${c.retryAfterMs ?? 'absent'} → ${c.expect / HOUR}h`, () => assert.equal(nextAriPollAt(T0, c.retryAfterMs), T0 + c.expect));
  }
});

describe('retryAt after failures', { timeout: 5000 }, () => {
  const cases: { failures: number; jitter: number; retryAfterMs?: number; expectDelay: number }[] = [
    { failures: 1, jitter: 0, expectDelay: 60_000 },
    { failures: 2, jitter: 0, expectDelay: 120_000 },
    { failures: 5, jitter: 0, expectDelay: 16 * 60_000 },
    { failures: 50, jitter: 0, expectDelay: 6 * HOUR },
    { failures: 1, jitter: 0.5, expectDelay: 63_000 },
    { failures: 1, jitter: 0, retryAfterMs: 10 * 60_000, expectDelay: 10 * 60_000 },
    { failures: 10, jitter: 0, retryAfterMs: 1000, expectDelay: 6 * HOUR },
    { failures: 1, jitter: 0, retryAfterMs: 30 * DAY, expectDelay: 24 * HOUR },
    { failures: 1, jitter: 0, retryAfterMs: -5, expectDelay: 60_000 },
  ];
  for (const c of cases) {
    it(`${c.failures} failure(s), jitter ${c.jitter}, Retry-After ${c.retryAfterMs ?? '-'}`, () => {
      assert.equal(retryAt(c.failures, T0, DEFAULT_RETRY, c.jitter, c.retryAfterMs), T0 + c.expectDelay);
    });
  }
});

describe('parseRetryAfter (RFC 9110 §10.2.3)', { timeout: 5000 }, () => {
  it('seconds, an HTTP date, garbage, absent', () => {
    assert.equal(parseRetryAfter('120', T0), 120_000);
    assert.equal(parseRetryAfter(new Date(T0 + 90_000).toUTCString(), T0), 90_000);
    assert.equal(parseRetryAfter(new Date(T0 - 90_000).toUTCString(), T0), 0);
    assert.equal(parseRetryAfter('soon', T0), undefined);
    assert.equal(parseRetryAfter(undefined, T0), undefined);
  });
});

describe('plan', { timeout: 5000 }, () => {
  const now = T0;
  const cases: { what: string; input: Parameters<typeof plan>[0]; expect: ReturnType<typeof plan> }[] = [
    { what: 'no certificate: issue now', input: { hasCert: false }, expect: { action: 'issue', wakeAt: now } },
    { what: 'no certificate, retry pending: wait for it', input: { hasCert: false, retryAt: now + 60_000 }, expect: { action: 'wait', wakeAt: now + 60_000 } },
    { what: 'no certificate, retry time passed: issue', input: { hasCert: false, retryAt: now - 1 }, expect: { action: 'issue', wakeAt: now } },
    { what: 'good certificate: wait for renewal', input: { hasCert: true, renewAt: now + DAY }, expect: { action: 'wait', wakeAt: now + DAY } },
    { what: 'renewal due: issue', input: { hasCert: true, renewAt: now - 1 }, expect: { action: 'issue', wakeAt: now } },
    { what: 'renewal due but backing off', input: { hasCert: true, renewAt: now - DAY, retryAt: now + HOUR }, expect: { action: 'wait', wakeAt: now + HOUR } },
    { what: 'ARI poll due first', input: { hasCert: true, renewAt: now + DAY, ariPollAt: now }, expect: { action: 'poll-ari', wakeAt: now } },
    {
      what: 'ARI poll later than renewal wakes for renewal',
      input: { hasCert: true, renewAt: now + HOUR, ariPollAt: now + 2 * HOUR },
      expect: { action: 'wait', wakeAt: now + HOUR },
    },
    {
      what: 'ARI poll sooner than renewal wakes for the poll',
      input: { hasCert: true, renewAt: now + DAY, ariPollAt: now + HOUR },
      expect: { action: 'wait', wakeAt: now + HOUR },
    },
    {
      what: 'ARI is ignored without a certificate',
      input: { hasCert: false, ariPollAt: now - 1, retryAt: now + HOUR },
      expect: { action: 'wait', wakeAt: now + HOUR },
    },
  ];
  for (const c of cases) {
    it(c.what, () => assert.deepEqual(plan(c.input, now), c.expect));
  }
});
