// The brute-force guard for AUTH: failed authentications are counted per client network (an IPv4
// address, or an IPv6 /64, which one host commonly owns whole); past `slowAfter` failures each AUTH
// answer is delayed (doubling), past `maxFailures` AUTH is refused until `lockoutMs` after the
// last failure. In-memory (a restart forgets), bounded in size. Decisions are pure functions of
// the record and the time; the class only keeps the records.
//
//   guard.check(ip, now)   → { kind: 'allow', delayMs } | { kind: 'refuse', retryInMs }
//   guard.failure(ip, now) → failures so far;  guard.success(ip) forgets the address
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
}

export interface FailureRecord {
  failures: number;
  lastFailureAt: number;
}

export type GuardDecision = { kind: 'allow'; delayMs: number } | { kind: 'refuse'; retryInMs: number };

export const MAX_DELAY_MS = 30_000;
/** Records kept at most; the oldest are dropped first (an attacker spraying addresses gains nothing). */
const MAX_RECORDS = 100_000;

/** What to do with the next AUTH from a network with this record. Pure. */
export function decide(record: FailureRecord | undefined, now: number, policy: GuardPolicy): GuardDecision {
  if (!record || now - record.lastFailureAt >= policy.lockoutMs) return { kind: 'allow', delayMs: 0 };
  if (record.failures >= policy.maxFailures) return { kind: 'refuse', retryInMs: record.lastFailureAt + policy.lockoutMs - now };
  if (record.failures < policy.slowAfter) return { kind: 'allow', delayMs: 0 };
  return { kind: 'allow', delayMs: Math.min(MAX_DELAY_MS, policy.delayMs * 2 ** (record.failures - policy.slowAfter)) };
}

/** The record after one more failure at `now` (old failures past the lockout start over). Pure. */
export function afterFailure(record: FailureRecord | undefined, now: number, policy: GuardPolicy): FailureRecord {
  const fresh = !record || now - record.lastFailureAt >= policy.lockoutMs;
  return { failures: fresh ? 1 : record.failures + 1, lastFailureAt: now };
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
  return `${groups.slice(0, 4).map((g) => Number.parseInt(g, 16).toString(16)).join(':')}::/64`;
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
    this.records.delete(guardKey(ip));
  }

  private prune(now: number): void {
    for (const [key, record] of this.records) {
      if (this.records.size <= MAX_RECORDS && now - record.lastFailureAt < this.policy.lockoutMs) break;
      this.records.delete(key);
    }
  }
}
