// The ACME manager's renewal and back-off state as one immutable value, with the transitions
// that change it (pure; times in ms, randomness passed in): resumed from the status file, a
// certificate admitted, an issuance failed or succeeded, a renewal forced, an ARI poll answered;
// and what it implies: when to renew, what the plan is, what `sealpost certs` shows.
//
//   resume(previous, names, now)         → RenewalState (failure count and next retry survive a restart)
//   admitted(state, current)             → the cached certificate is in force
//   failed(state, failure)               → one more failure, back-off (RFC 8555 §6.6 Retry-After honored)
//   issued(state, current, now)          → failures forgotten, ARI asked again about the new certificate
//   forced(state, now)                   → an operator's renewal, due until it succeeds
//   ariPolled(state, answer)             → the CA's renewal window (RFC 9773 §4.2), or none offered
//   renewAt(state) / nextStep(state, now) / notDueUntil(state, now) / toStatus(state, facts)
import type { AriState } from './ari-poller.ts';
import type { Current } from './current.ts';
import { nextRenewalAt, type Plan, plan, type RetryPolicy, retryAt } from './schedule.ts';
import type { CertStatus } from './status.ts';

export interface RenewalState {
  /** The ACME certificate in force, if any. */
  readonly current?: Current;
  /** Consecutive failed attempts since the last success. */
  readonly failures: number;
  readonly lastError?: string;
  /** ISO 8601, as in the status file. */
  readonly lastErrorAt?: string;
  readonly lastIssuedAt?: string;
  /** After failures: no attempt before this (back-off, Retry-After). */
  readonly nextAttemptAt?: number;
  /** An operator's forced renewal that has not succeeded yet: renewal is due from then on. */
  readonly forcedAt?: number;
  /** The CA's renewal window and when to ask again (RFC 9773). */
  readonly ari: AriState;
  /** Whether the directory offers renewalInfo: undefined until it has been read. */
  readonly ariOffered?: boolean;
}

/**
 * The state at start: the failure count, last error and next retry of the same names from the
 * previous run's status file (so a restart does not hammer a failing CA); a change of names is
 * a different certificate and starts afresh. ARI is asked at `now`.
 */
export function resume(previous: readonly CertStatus[] | undefined, names: readonly string[], now: number): RenewalState {
  const same = previous?.find((c) => Array.isArray(c.names) && c.names.join(',') === names.join(','));
  const retry = same?.nextAttemptAt ? Date.parse(same.nextAttemptAt) : Number.NaN;
  return {
    failures: typeof same?.failures === 'number' ? same.failures : 0,
    ...(same?.lastError !== undefined ? { lastError: same.lastError } : {}),
    ...(same?.lastErrorAt !== undefined ? { lastErrorAt: same.lastErrorAt } : {}),
    ...(same?.lastIssuedAt !== undefined ? { lastIssuedAt: same.lastIssuedAt } : {}),
    ...(Number.isNaN(retry) ? {} : { nextAttemptAt: retry }),
    ari: { pollAt: now },
  };
}

/** A certificate from the cache passed the check and serves. */
export function admitted(state: RenewalState, current: Current): RenewalState {
  return { ...state, current };
}

export interface Failure {
  reason: string;
  now: number;
  policy: RetryPolicy;
  /** A [0, 1) draw for the back-off jitter. */
  jitter: number;
  /** The CA's Retry-After, ms from now (RFC 8555 §6.6), when it sent one. */
  retryAfterMs?: number;
}

/** One more failed attempt: the next one waits for the back-off (schedule.ts retryAt). */
export function failed(state: RenewalState, f: Failure): RenewalState {
  const failures = state.failures + 1;
  return { ...state, failures, lastError: f.reason, lastErrorAt: iso(f.now), nextAttemptAt: retryAt(failures, f.now, f.policy, f.jitter, f.retryAfterMs) };
}

/**
 * A new certificate serves: failures, back-off and a forced renewal are done with, and the
 * previous certificate's ARI window no longer applies (ask about the new one at `now`).
 * The directory's ARI offer stays known.
 */
export function issued(state: RenewalState, current: Current, now: number): RenewalState {
  return { current, failures: 0, lastIssuedAt: iso(now), ari: { pollAt: now }, ...(state.ariOffered !== undefined ? { ariOffered: state.ariOffered } : {}) };
}

/** `certs renew --force`: renewal is due from `now` until an issuance succeeds (the first force counts). */
export function forced(state: RenewalState, now: number): RenewalState {
  return state.forcedAt === undefined ? { ...state, forcedAt: now } : state;
}

/** What one renewalInfo poll learnt: whether the CA offers ARI, and the window state after it. */
export interface AriAnswer {
  offered: boolean | undefined;
  ari: AriState;
}

export function ariPolled(state: RenewalState, answer: AriAnswer): RenewalState {
  return { ...state, ari: answer.ari, ...(answer.offered !== undefined ? { ariOffered: answer.offered } : {}) };
}

/** When to poll renewalInfo next: undefined once the directory turned out to offer no ARI. */
export function ariPollAt(state: RenewalState): number | undefined {
  return state.ariOffered === false ? undefined : state.ari.pollAt;
}

/** The RFC 9773 §4.1 id to send as `replaces`: only to a CA offering ARI, for a certificate in force. */
export function replaces(state: RenewalState): string | undefined {
  return state.ariOffered === true ? state.current?.ariId : undefined;
}

/** When the certificate in force should be renewed: ARI's pick or a third of its lifetime left, or the forced time if earlier. */
export function renewAt(state: RenewalState): number | undefined {
  const { current } = state;
  if (!current) return undefined;
  const planned = nextRenewalAt(current, current.entry.meta.jitter, state.ari.window);
  return state.forcedAt === undefined ? planned : Math.min(planned, state.forcedAt);
}

/** What the manager does now and when it next wakes (schedule.ts plan over this state). */
export function nextStep(state: RenewalState, now: number): Plan {
  const renewal = renewAt(state);
  const pollAt = ariPollAt(state);
  return plan(
    {
      hasCert: state.current !== undefined,
      ...(renewal !== undefined ? { renewAt: renewal } : {}),
      ...(state.nextAttemptAt !== undefined ? { retryAt: state.nextAttemptAt } : {}),
      ...(pollAt !== undefined ? { ariPollAt: pollAt } : {}),
    },
    now,
  );
}

/** For an operator's unforced `certs renew`: the renewal time when a certificate serves and it is not yet due. */
export function notDueUntil(state: RenewalState, now: number): number | undefined {
  const renewal = renewAt(state);
  return state.current && renewal !== undefined && now < renewal ? renewal : undefined;
}

/** The status record of these names (what `sealpost certs` shows and a restart resumes). */
export function toStatus(state: RenewalState, facts: { names: readonly string[]; now: number; scheduling: boolean }): CertStatus {
  const { current, ari } = state;
  const renewal = renewAt(state);
  return {
    names: [...facts.names],
    ...(current
      ? {
          current: {
            serial: current.serial,
            issuer: current.issuer,
            notBefore: iso(current.notBefore),
            notAfter: iso(current.notAfter),
            fingerprint256: current.fingerprint,
          },
        }
      : {}),
    ...(renewal !== undefined ? { nextRenewalAt: iso(renewal) } : {}),
    ...(facts.scheduling ? { nextCheckAt: iso(nextStep(state, facts.now).wakeAt) } : {}),
    ...(state.nextAttemptAt !== undefined ? { nextAttemptAt: iso(state.nextAttemptAt) } : {}),
    ...(ari.window
      ? {
          ari: {
            windowStart: iso(ari.window.start),
            windowEnd: iso(ari.window.end),
            nextPollAt: iso(ari.pollAt),
            ...(ari.explanationUrl ? { explanationUrl: ari.explanationUrl } : {}),
          },
        }
      : {}),
    failures: state.failures,
    ...(state.lastError !== undefined ? { lastError: state.lastError, ...(state.lastErrorAt ? { lastErrorAt: state.lastErrorAt } : {}) } : {}),
    ...(state.lastIssuedAt ? { lastIssuedAt: state.lastIssuedAt } : {}),
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
