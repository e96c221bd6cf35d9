// When to try a deferred recipient again, and when it has waited too long (pure).

export interface RetryPolicy {
  /** First retry delay, ms. */
  minBackoffMs: number;
  /** Largest delay between attempts, ms. */
  maxBackoffMs: number;
  /** A recipient still undelivered this long after arrival fails (and bounces), ms. */
  maxLifetimeMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  minBackoffMs: 5 * 60_000,
  maxBackoffMs: 4 * 3_600_000,
  maxLifetimeMs: 5 * 86_400_000,
};

/**
 * The next attempt after `attempts` failed ones: the delay doubles from minBackoff up to
 * maxBackoff. `jitter` in [0, 1) spreads retries of a batch by up to a tenth of the delay.
 */
export function nextAttemptAt(attempts: number, now: number, policy: RetryPolicy, jitter = 0): number {
  const exponent = Math.max(0, attempts - 1);
  const delay = Math.min(policy.maxBackoffMs, policy.minBackoffMs * 2 ** Math.min(exponent, 30));
  return now + Math.round(delay * (1 + jitter / 10));
}

/** True when a recipient that arrived at `receivedAt` may not be retried any more. */
export function expired(receivedAt: number, now: number, policy: RetryPolicy): boolean {
  return now - receivedAt >= policy.maxLifetimeMs;
}
