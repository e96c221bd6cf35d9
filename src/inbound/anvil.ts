// The listener's connection table (Postfix's anvil, in process): open sessions per client address
// and network, the admission of a new one, stress mode, and making room when the limit is reached
// by closing the session stuck longest, and the connections each address opened in the last
// minute (limits.connections_per_minute_per_ip; in this process only: a listener's own count).
// Shared by all servers of one listener (one per address).
// The decisions are in client-limits.ts and slow-clients.ts; this holds the counts. It logs
// nothing itself: every event goes to `report` (the listener writes the log record).
import { admit, type ClientKeys, type ClientLimits, clientKeys, RATE_WINDOW_MS, rateAdmit } from './client-limits.ts';
import { type EvictionCandidate, pickEviction, type SlowClientPolicy, type TimeoutReason, underStress } from './slow-clients.ts';

/** A session as the anvil sees it (a SealpostConnection). */
export interface AnvilMember {
  readonly remoteAddress: string;
  candidate(now: number): EvictionCandidate;
  /** Closes the session with 421 to make room. */
  evict(): void;
  /** Works out its deadline again (stress mode began: timeouts are shorter now). */
  rearm(): void;
}

export type Limit = 'address' | 'network' | 'total' | 'rate';

/** A client broke the protocol before it could send mail (smtp-server-ext.ts refused it). */
export type Violation = 'early-talker' | 'pipelining';

export type AnvilEvent =
  | { kind: 'refused'; clientIp: string; limit: Limit; open: number }
  | { kind: 'violation'; clientIp: string; violation: Violation; ms: number }
  | { kind: 'evicted'; clientIp: string; stuckMs: number; ageMs: number; open: number }
  | { kind: 'stress'; on: boolean; open: number; limit: number }
  | { kind: 'timeout'; clientIp: string; reason: TimeoutReason; timeoutMs: number; stressed: boolean; dataBytes?: number; dataMs?: number };

/**
 * The connection table of the primary when sessions run in several processes ([server] processes):
 * the per-address, per-network and per-minute limits counted across them (cluster/shared-anvil.ts).
 */
export interface SharedAdmission {
  admit(ip: string): Promise<{ kind: 'accept' } | { kind: 'refuse'; limit: 'address' | 'network' | 'total' | 'rate' }>;
  /** A session `admit` accepted has ended (or is being closed to make room). */
  left(ip: string): void;
  /** This process's share of limits.connections: its own table enters stress mode by it (the primary counts the total). */
  connections: number;
}

export interface AnvilOptions {
  limits: ClientLimits;
  policy: SlowClientPolicy;
  now: () => number;
  report: (event: AnvilEvent) => void;
  /** New connections per address in any minute, 0 = no limit; `rateExempt` addresses (relay.networks) are not counted. */
  perMinute?: number;
  rateExempt?: (ip: string) => boolean;
  /** Asked after this table admits a session (the total, stress mode and eviction stay here). */
  shared?: SharedAdmission;
}

export type Entry = { kind: 'accept' } | { kind: 'refuse'; limit: Limit };

export class Anvil {
  readonly policy: SlowClientPolicy;
  readonly now: () => number;
  private readonly options: AnvilOptions;
  private readonly members = new Map<AnvilMember, ClientKeys>();
  private readonly perAddress = new Map<string, number>();
  private readonly perNetwork = new Map<string, number>();
  private stressMode = false;
  /** Per address key: when its connections in the last minute were admitted. */
  private readonly opened = new Map<string, number[]>();
  private sweptAt = 0;

  constructor(options: AnvilOptions) {
    this.options = options;
    this.policy = options.policy;
    this.now = options.now;
  }

  get shared(): SharedAdmission | undefined {
    return this.options.shared;
  }

  /** The shared table refused a session this one had admitted (the caller then closes it, which leaves). */
  refusedShared(clientIp: string, limit: Limit): void {
    this.options.report({ kind: 'refused', clientIp, limit, open: this.members.size });
  }

  get open(): number {
    return this.members.size;
  }

  get stressed(): boolean {
    return this.stressMode;
  }

  /** A new session: counted and accepted (after making room if need be), or to be refused. */
  enter(member: AnvilMember): Entry {
    const keys = clientKeys(member.remoteAddress);
    if (!this.withinRate(member.remoteAddress, keys.address)) {
      this.options.report({ kind: 'refused', clientIp: member.remoteAddress, limit: 'rate', open: this.members.size });
      return { kind: 'refuse', limit: 'rate' };
    }
    const open = { total: this.members.size, address: this.perAddress.get(keys.address) ?? 0, network: this.perNetwork.get(keys.network) ?? 0 };
    const admission = admit(open, this.options.limits);
    if (admission.kind === 'refuse' || (admission.kind === 'full' && !this.makeRoom())) {
      const limit = admission.kind === 'refuse' ? admission.limit : 'total';
      this.options.report({ kind: 'refused', clientIp: member.remoteAddress, limit, open: this.members.size });
      return { kind: 'refuse', limit };
    }
    this.members.set(member, keys);
    bump(this.perAddress, keys.address, 1);
    bump(this.perNetwork, keys.network, 1);
    this.checkStress();
    return { kind: 'accept' };
  }

  /** The session is closing; idempotent. */
  leave(member: AnvilMember): void {
    const keys = this.members.get(member);
    if (!keys) return;
    this.members.delete(member);
    bump(this.perAddress, keys.address, -1);
    bump(this.perNetwork, keys.network, -1);
    this.checkStress();
  }

  /** A client refused for breaking the protocol (smtp-server-ext.ts); only reported here. */
  violated(clientIp: string, violation: Violation, ms: number): void {
    this.options.report({ kind: 'violation', clientIp, violation, ms });
  }

  timedOut(event: Omit<Extract<AnvilEvent, { kind: 'timeout' }>, 'kind' | 'stressed'>): void {
    this.options.report({ kind: 'timeout', ...event, stressed: this.stressMode });
  }

  /** Counts this connection in its address's minute, unless over the limit (then it is not counted). */
  private withinRate(ip: string, key: string): boolean {
    const limit = this.options.perMinute ?? 0;
    if (limit === 0 || this.options.rateExempt?.(ip)) return true;
    const now = this.now();
    // Addresses that stopped connecting are forgotten, in one pass a minute.
    if (now - this.sweptAt >= RATE_WINDOW_MS) {
      this.sweptAt = now;
      for (const [k, times] of this.opened) if (times.every((t) => now - t >= RATE_WINDOW_MS)) this.opened.delete(k);
    }
    const { recent, ok } = rateAdmit(this.opened.get(key) ?? [], now, limit);
    if (ok) recent.push(now);
    this.opened.set(key, recent);
    return ok;
  }

  /** Closes the session stuck longest, if one may go (slow-clients.ts pickEviction); false when none may. */
  makeRoom(): boolean {
    const now = this.now();
    const byId = new Map<string, AnvilMember>();
    const candidates: EvictionCandidate[] = [];
    for (const member of this.members.keys()) {
      const c = member.candidate(now);
      byId.set(c.id, member);
      candidates.push(c);
    }
    const victim = pickEviction(candidates, now);
    const member = victim && byId.get(victim.id);
    if (!victim || !member) return false;
    this.options.report({
      kind: 'evicted',
      clientIp: member.remoteAddress,
      stuckMs: now - victim.lastProgressAt,
      ageMs: now - victim.openedAt,
      open: this.members.size,
    });
    member.evict();
    // evict() closes the session, which leaves; make sure of it even if the socket was gone.
    this.leave(member);
    return true;
  }

  private checkStress(): void {
    const on = underStress(this.members.size, this.options.shared?.connections ?? this.options.limits.connections, this.stressMode);
    if (on === this.stressMode) return;
    this.stressMode = on;
    this.options.report({ kind: 'stress', on, open: this.members.size, limit: this.options.limits.connections });
    // Shorter timeouts apply to the sessions already open as well.
    if (on) for (const member of this.members.keys()) member.rearm();
  }
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}
