// SPF results (RFC 7208) kept for a short time by their whole input: the client IP, the HELO and
// MAIL FROM. The evaluation is a function of that input and of DNS answers that the resolver's cache
// (dns/cache.ts) keeps for 30–60 s anyway, so a sender that opens a connection per message (a list
// server, a bulk sender's MTA) is evaluated once per window, not once per message, and the
// question does not cross to the checks thread at all. Concurrent sessions with the same input share
// one evaluation. Only settled verdicts are kept: never a temperror (a DNS failure, asked again next
// time) nor a check that gave no result (timed out). Not kept apart: a record using the %{t} macro
// (the current time), which RFC 7208 §7.3 allows and no sender is known to use. Bounded in size;
// oldest out first. Pure apart from the clock it is given.
import type { SPFResult, SpfInput } from './checks.ts';

export interface SpfCacheOptions {
  now: () => number;
  /** How long a settled result is reused, ms. */
  keepMs?: number;
  maxEntries?: number;
}

type SpfCheck = (input: SpfInput) => Promise<SPFResult | undefined>;

export function cachedSpf(check: SpfCheck, options: SpfCacheOptions): SpfCheck {
  const keepMs = options.keepMs ?? 30_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const kept = new Map<string, { until: number; result: Promise<SPFResult | undefined> }>();
  return (input) => {
    // NUL cannot occur in an IP, a HELO or an address the SMTP parser accepted.
    const key = `${input.ip}\0${input.helo}\0${input.sender}`;
    const now = options.now();
    const entry = kept.get(key);
    if (entry && entry.until > now) return entry.result;
    if (entry) kept.delete(key);
    const result = check(input);
    // In flight: shared until it settles; then kept only if it is a settled verdict.
    if (kept.size >= maxEntries) kept.delete(kept.keys().next().value as string);
    const placed = { until: Number.POSITIVE_INFINITY, result };
    kept.set(key, placed);
    result.then(
      (r) => {
        if (kept.get(key) !== placed) return;
        if (r && r.status.result !== 'temperror') placed.until = options.now() + keepMs;
        else kept.delete(key);
      },
      () => {
        if (kept.get(key) === placed) kept.delete(key);
      },
    );
    return result;
  };
}
