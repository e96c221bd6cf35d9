// The rules against slow clients (pure): which timeout applies to a session now, when it runs
// out, and which idle session to close to make room when the connection limit is reached.
// Postfix's words: smtpd_timeout with smtpd_per_record_deadline (a command line must be complete
// within the timeout from its first byte, however it trickles in), smtpd_min_data_rate (DATA
// must keep up a minimum rate), and stress mode (shorter timeouts while the server is nearly
// full). RFC 5321 §4.5.3.2 suggests 5 minutes per command; under attack a server may be stricter.

export interface SlowClientPolicy {
  /** limits.command_timeout_s in ms. */
  commandMs: number;
  /** limits.stress_timeout_s in ms: the timeout in stress mode (never longer than commandMs). */
  stressMs: number;
  /** limits.data_min_rate: bytes per second a DATA transfer must keep up on average. */
  dataMinRate: number;
}

/** Stress mode from this share of limits.connections on (Postfix: when smtpd runs out of processes)… */
export const STRESS_SHARE = 0.8;
/** …until fewer than this share are open (no flapping at the threshold). */
export const STRESS_OFF_SHARE = 0.7;

/** A session that has made no progress (no complete command, no DATA at the minimum rate) for this long may be closed to make room. */
export const EVICTABLE_AFTER_MS = 1000;

export function underStress(open: number, limit: number, stressed: boolean): boolean {
  return open >= Math.ceil(limit * (stressed ? STRESS_OFF_SHARE : STRESS_SHARE));
}

export function timeoutMs(policy: SlowClientPolicy, stressed: boolean): number {
  return stressed ? Math.min(policy.stressMs, policy.commandMs) : policy.commandMs;
}

/**
 * DATA's time credit: the client starts with the timeout and earns 1 s for every `dataMinRate`
 * bytes, never more than the timeout (no banking a fast start for a slow end). At 0 it is too
 * slow. A client at the minimum rate or above never runs out; one below it runs out after
 * timeout / (1 - rate/min) seconds; silence is the plain timeout.
 */
export interface DataClock {
  startedAt: number;
  /** When creditMs was last worked out. */
  at: number;
  creditMs: number;
  bytes: number;
}

export function startData(now: number, policy: SlowClientPolicy, stressed: boolean): DataClock {
  return { startedAt: now, at: now, creditMs: timeoutMs(policy, stressed), bytes: 0 };
}

export function afterData(clock: DataClock, bytes: number, now: number, policy: SlowClientPolicy, stressed: boolean): DataClock {
  const left = clock.creditMs - (now - clock.at);
  // Out of credit already: the bytes came too late to count.
  if (left <= 0) return { ...clock, at: now, creditMs: left };
  const earned = (bytes * 1000) / policy.dataMinRate;
  return { startedAt: clock.startedAt, at: now, creditMs: Math.min(timeoutMs(policy, stressed), left + earned), bytes: clock.bytes + bytes };
}

/** Is this DATA keeping up the minimum rate on average since it began (a session worth keeping)? */
export function dataProgressing(clock: DataClock, now: number, policy: SlowClientPolicy): boolean {
  const elapsedMs = now - clock.startedAt;
  return elapsedMs < EVICTABLE_AFTER_MS || (clock.bytes * 1000) / elapsedMs >= policy.dataMinRate;
}

/** Where a session is, for its timeout. */
export type SessionClock =
  /** The client waits for us (the greeting, a handler's reply, the message being queued): no timeout. */
  | { kind: 'busy' }
  /** We wait for the next command line, none of it has arrived; since our last reply. */
  | { kind: 'idle'; since: number }
  /** A command line has begun (first byte at `since`) and is not complete. */
  | { kind: 'command'; since: number }
  | { kind: 'data'; clock: DataClock };

export type TimeoutReason = 'idle' | 'command' | 'data';

export interface Deadline {
  at: number;
  reason: TimeoutReason;
}

/** When the session times out, if nothing changes. */
export function deadline(session: SessionClock, policy: SlowClientPolicy, stressed: boolean): Deadline | undefined {
  const limit = timeoutMs(policy, stressed);
  switch (session.kind) {
    case 'busy':
      return undefined;
    case 'idle':
    case 'command':
      return { at: session.since + limit, reason: session.kind };
    case 'data':
      // In stress mode the credit left is cut to the shorter timeout as well.
      return { at: session.clock.at + Math.min(session.clock.creditMs, limit), reason: 'data' };
  }
}

/** One open session, as the eviction rule sees it. */
export interface EvictionCandidate {
  id: string;
  openedAt: number;
  /** The client waits for us: never closed to make room. */
  busy: boolean;
  /** In DATA at the minimum rate or better: never closed to make room. */
  dataProgressing: boolean;
  /** The last complete command line (or the greeting, or DATA bytes while progressing). */
  lastProgressAt: number;
}

/**
 * Which session to close so that a new client can be served when the connection limit is
 * reached: the one that has made no progress for longest (oldest first on a tie), if it has
 * been stuck for EVICTABLE_AFTER_MS at least. Undefined: no session may go, refuse the client.
 */
export function pickEviction(candidates: Iterable<EvictionCandidate>, now: number): EvictionCandidate | undefined {
  let best: EvictionCandidate | undefined;
  for (const c of candidates) {
    if (c.busy || c.dataProgressing || now - c.lastProgressAt < EVICTABLE_AFTER_MS) continue;
    if (!best || c.lastProgressAt < best.lastProgressAt || (c.lastProgressAt === best.lastProgressAt && c.openedAt < best.openedAt)) best = c;
  }
  return best;
}
