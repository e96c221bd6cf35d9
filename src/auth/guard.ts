// The brute-force guard for AUTH: failed authentications are counted per client network (an IPv4
// address, or an IPv6 /64, which one host commonly owns whole); past `slowAfter` failures each AUTH
// answer is delayed (doubling), past `maxFailures` AUTH is refused until `lockoutMs` after the
// last failure. An attempt is reserved before its password check and counts as a failure while
// it runs, so parallel connections cannot all get past the check before the first failure is
// counted; at most `maxConcurrent` attempts per network run at once. In-memory (a restart
// forgets), bounded in size. Decisions are pure functions of the record and the time; the class
// only keeps the records.
//
//   guard.begin(ip, now)   → { kind: 'allow', delayMs } (reserved) | { kind: 'busy' } | { kind: 'refuse', retryInMs }
//   then exactly one of: guard.failure(ip, now) → failures so far;  guard.success(ip) forgets the
//   address's failures;  guard.release(ip, now) (no verdict: an error)
//   guard.check(ip, now)   → the same decision without reserving
import net from 'node:net';

export interface GuardPolicy {
  /** Failures before answers slow down. */
  slowAfter: number;
  /** The first delay; each further failure doubles it, up to MAX_DELAY_MS. */
  delayMs: number;
  /** Failures after which AUTH is refused outright. */
  maxFailures: number;
  /** How long a failure is remembered (and a refusal lasts) after the last one. */
  lockoutMs: number;
  /** Attempts from one network whose password check runs at once, at most. */
  maxConcurrent: number;
}

export interface FailureRecord {
  failures: number;
  lastFailureAt: number;
  /** Attempts reserved and not yet settled (counted as failures until they are). */
  inFlight?: number;
}

export type GuardDecision = { kind: 'allow'; delayMs: number } | { kind: 'busy' } | { kind: 'refuse'; retryInMs: number };

export const MAX_DELAY_MS = 30_000;
/** Records kept at most; the oldest are dropped first (an attacker spraying addresses gains nothing). */
const MAX_RECORDS = 100_000;

/** Failures not yet forgotten at `now`. Pure. */
function liveFailures(record: FailureRecord | undefined, now: number, policy: GuardPolicy): number {
  return !record || now - record.lastFailureAt >= policy.lockoutMs ? 0 : record.failures;
}

/**
 * What to do with the next AUTH from a network with this record. Pure. Attempts in flight count
 * as failures: past `maxFailures` counted and reserved together, or at `maxConcurrent` in
 * flight, the attempt is "busy" (it may go ahead once those settle); past `maxFailures` counted
 * alone, it is refused until the lockout ends.
 */
export function decide(record: FailureRecord | undefined, now: number, policy: GuardPolicy): GuardDecision {
  const failures = liveFailures(record, now, policy);
  const inFlight = record?.inFlight ?? 0;
  if (record && failures >= policy.maxFailures) return { kind: 'refuse', retryInMs: record.lastFailureAt + policy.lockoutMs - now };
  if (inFlight >= policy.maxConcurrent || failures + inFlight >= policy.maxFailures) return { kind: 'busy' };
  const counted = failures + inFlight;
  if (counted < policy.slowAfter) return { kind: 'allow', delayMs: 0 };
  return { kind: 'allow', delayMs: Math.min(MAX_DELAY_MS, policy.delayMs * 2 ** (counted - policy.slowAfter)) };
}

/** The record with one more attempt in flight. Pure. */
export function afterReserve(record: FailureRecord | undefined, now: number, policy: GuardPolicy): FailureRecord {
  const failures = liveFailures(record, now, policy);
  return { failures, lastFailureAt: failures > 0 && record ? record.lastFailureAt : now, inFlight: (record?.inFlight ?? 0) + 1 };
}

/** The record after one more failure at `now`, settling a reservation if there is one (old failures past the lockout start over). Pure. */
export function afterFailure(record: FailureRecord | undefined, now: number, policy: GuardPolicy): FailureRecord {
  const inFlight = Math.max(0, (record?.inFlight ?? 0) - 1);
  return { failures: liveFailures(record, now, policy) + 1, lastFailureAt: now, ...(inFlight > 0 ? { inFlight } : {}) };
}

/** The record after a reservation ends without a failure: `forget` (a success) drops the failures too; undefined when nothing is left. Pure. */
export function afterSettle(record: FailureRecord | undefined, now: number, policy: GuardPolicy, forget: boolean): FailureRecord | undefined {
  const inFlight = Math.max(0, (record?.inFlight ?? 0) - 1);
  const failures = forget ? 0 : liveFailures(record, now, policy);
  if (!record || (failures === 0 && inFlight === 0)) return undefined;
  return { failures, lastFailureAt: record.lastFailureAt, ...(inFlight > 0 ? { inFlight } : {}) };
}

/** The key failures are counted under: the IPv4 address, or the IPv6 /64. Pure. */
export function guardKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
  if (mapped) return mapped;
  if (!net.isIPv6(ip)) return ip;
  const [head = '', tail] = ip.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

export class AuthGuard {
  private readonly policy: GuardPolicy;
  private readonly records = new Map<string, FailureRecord>();

  constructor(policy: GuardPolicy) {
    this.policy = policy;
  }

  check(ip: string, now: number): GuardDecision {
    return decide(this.records.get(guardKey(ip)), now, this.policy);
  }

  /** Decides and, when allowed, reserves the attempt: settle it with failure, success or release. */
  begin(ip: string, now: number): GuardDecision {
    const key = guardKey(ip);
    const record = this.records.get(key);
    const decision = decide(record, now, this.policy);
    if (decision.kind === 'allow') {
      this.records.set(key, afterReserve(record, now, this.policy));
      this.prune(now);
    }
    return decision;
  }

  failure(ip: string, now: number): number {
    const key = guardKey(ip);
    const next = afterFailure(this.records.get(key), now, this.policy);
    // Delete first so the Map's insertion order stays "least recently failed first".
    this.records.delete(key);
    this.records.set(key, next);
    this.prune(now);
    return next.failures;
  }

  success(ip: string): void {
    this.settle(ip, 0, true);
  }

  release(ip: string, now: number): void {
    this.settle(ip, now, false);
  }

  private settle(ip: string, now: number, forget: boolean): void {
    const key = guardKey(ip);
    const next = afterSettle(this.records.get(key), now, this.policy, forget);
    if (next) this.records.set(key, next);
    else this.records.delete(key);
  }

  private prune(now: number): void {
    for (const [key, record] of this.records) {
      // A record with attempts in flight stays (they will settle it), wherever it is in the order.
      if (record.inFlight) continue;
      if (this.records.size <= MAX_RECORDS && now - record.lastFailureAt < this.policy.lockoutMs) break;
      this.records.delete(key);
    }
  }
}
