// When to renew an ACME certificate and when to try again after a failure (pure; times in ms).
// Inputs carry their own randomness (`jitter` in [0, 1)) so every decision is table-testable.

export interface CertTimes {
  notBefore: number;
  notAfter: number;
}

/** RFC 9773 §4.2 suggestedWindow, as epoch ms. */
export interface RenewalWindow {
  start: number;
  end: number;
}

export interface RetryPolicy {
  /** Delay after the first failure, ms. */
  minBackoffMs: number;
  /** Largest delay between failed attempts, ms. */
  maxBackoffMs: number;
  /** A server's Retry-After is honored up to this long, ms (rate limits can say "a week"). */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  minBackoffMs: 60_000,
  maxBackoffMs: 6 * 3_600_000,
  maxRetryAfterMs: 24 * 3_600_000,
};

/** How often to ask for renewalInfo when the server gives no Retry-After (RFC 9773 §4.3). */
export const ARI_POLL = { defaultMs: 6 * 3_600_000, minMs: 3_600_000, maxMs: 24 * 3_600_000 };

/**
 * The time renewal starts without ARI: when a third of the lifetime remains, so 90-day and
 * 6-day certificates both renew in time. `jitter` moves it earlier by up to a twentieth of the
 * lifetime, spreading the renewals of many servers.
 */
export function renewalTime(cert: CertTimes, jitter: number): number {
  const lifetime = Math.max(0, cert.notAfter - cert.notBefore);
  return Math.round(cert.notAfter - lifetime / 3 - clamp01(jitter) * (lifetime / 20));
}

export function renewalDue(cert: CertTimes, now: number, jitter: number): boolean {
  return now >= renewalTime(cert, jitter);
}

/**
 * RFC 9773 §4.2: pick a uniformly random time inside the suggested window (`jitter` is that
 * random draw, kept per certificate so repeated polls of the same window agree); a time in the
 * past means renew now. An unusable window (end before start) is ignored: undefined.
 */
export function ariRenewalTime(window: RenewalWindow, jitter: number): number | undefined {
  if (!Number.isFinite(window.start) || !Number.isFinite(window.end) || window.end < window.start) return undefined;
  return Math.round(window.start + clamp01(jitter) * (window.end - window.start));
}

/**
 * When the certificate should be renewed: the ARI choice when the server offered a usable
 * window, else a third of the lifetime before expiry.
 */
export function nextRenewalAt(cert: CertTimes, jitter: number, window?: RenewalWindow): number {
  const ari = window ? ariRenewalTime(window, jitter) : undefined;
  return ari ?? renewalTime(cert, jitter);
}

/** When to poll renewalInfo again: the server's Retry-After, clamped (RFC 9773 §4.3). */
export function nextAriPollAt(now: number, retryAfterMs?: number): number {
  const wanted = retryAfterMs === undefined || !Number.isFinite(retryAfterMs) ? ARI_POLL.defaultMs : retryAfterMs;
  return now + Math.min(ARI_POLL.maxMs, Math.max(ARI_POLL.minMs, wanted));
}

/**
 * The next attempt after `failures` consecutive failed ones (≥ 1): the delay doubles from
 * minBackoff up to maxBackoff, plus up to a tenth of it as jitter. A Retry-After from the server
 * (RFC 8555 §6.6, rate limits) pushes it later, but never past maxRetryAfter.
 */
export function retryAt(failures: number, now: number, policy: RetryPolicy, jitter: number, retryAfterMs?: number): number {
  const exponent = Math.min(Math.max(0, failures - 1), 40);
  const backoff = Math.min(policy.maxBackoffMs, policy.minBackoffMs * 2 ** exponent);
  const delay = Math.round(backoff * (1 + clamp01(jitter) / 10));
  const serverSays = retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs > 0 ? Math.min(retryAfterMs, policy.maxRetryAfterMs) : 0;
  return now + Math.max(delay, serverSays);
}

/** Parses an HTTP Retry-After value (seconds or an HTTP date, RFC 9110 §10.2.3) into ms from now. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(Math.max(x, 0), 0.999999) : 0;
}

export interface PlanInput {
  /** A good certificate is cached and serving. */
  hasCert: boolean;
  /** When renewal is planned (nextRenewalAt), when hasCert. */
  renewAt?: number;
  /** After failures: not before this time. */
  retryAt?: number;
  /** When renewalInfo should be asked next, if the server offers ARI. */
  ariPollAt?: number;
}

export type Plan = { action: 'issue' | 'poll-ari' | 'wait'; wakeAt: number };

/**
 * What the manager does now and when it next wakes: issue when there is no certificate or
 * renewal is due (never before a failure's retry time), else poll ARI when that is due, else wait.
 */
export function plan(input: PlanInput, now: number): Plan {
  const wanted = input.hasCert && input.renewAt !== undefined ? input.renewAt : now;
  const dueAt = Math.max(wanted, input.retryAt ?? -Infinity);
  const ariAt = input.hasCert && input.ariPollAt !== undefined ? input.ariPollAt : Infinity;
  if (now >= dueAt) return { action: 'issue', wakeAt: now };
  if (now >= ariAt) return { action: 'poll-ari', wakeAt: now };
  return { action: 'wait', wakeAt: Math.min(dueAt, ariAt) };
}
