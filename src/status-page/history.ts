// The week behind the status page's charts: per hour, the inbound sessions (session_stats, how
// many with TLS, the messages they brought) and the outbound attempts (attempts: connections
// that had a session with a host, how many with TLS, and each attempt's result) and the local deliveries
// (local_delivery_stats: recipients delivered, deferred, bounced to Maildir or LMTP). Reads only;
// the tables' writers are inbound/session-stats.ts, outbound/attempts-store.ts and local/delivery-stats.ts.

import { HOUR, hourOf } from '../db/hourly-counts.ts';
import type { Db } from '../db/open.ts';
import { type AttemptHour, AttemptsStore } from '../outbound/attempts-store.ts';

export const WEEK_HOURS = 7 * 24;

/** One slot per hour from `from`; shares are null in an hour without traffic. */
export interface Week {
  from: number;
  hours: number;
  inbound: { sessions: number[]; tls: number[]; received: number[] };
  outbound: { connections: number[]; tls: number[]; delivered: number[]; deferred: number[]; bounced: number[]; mixed: number[] };
  /** Recipients, Maildir and LMTP together. */
  local: { delivered: number[]; deferred: number[]; bounced: number[] };
}

/** The start of the first of the `hours` hours up to and including the one holding `now`. */
export function weekFrom(now: number, hours = WEEK_HOURS): number {
  return hourOf(now) - (hours - 1) * HOUR;
}

/**
 * The `hours` hours up to and including the one holding `now`. `outbound`: the attempts per hour
 * from weekFrom(now, hours) on, read by the caller from the attempts store (on PostgreSQL: every
 * node's); absent: from `db`'s attempts table.
 */
export function readWeek(db: Db, now: number, hours = WEEK_HOURS, outbound?: readonly AttemptHour[]): Week {
  const from = weekFrom(now, hours);
  const zeros = () => new Array<number>(hours).fill(0);
  const week: Week = {
    from,
    hours,
    inbound: { sessions: zeros(), tls: zeros(), received: zeros() },
    outbound: { connections: zeros(), tls: zeros(), delivered: zeros(), deferred: zeros(), bounced: zeros(), mixed: zeros() },
    local: { delivered: zeros(), deferred: zeros(), bounced: zeros() },
  };
  const slot = (hour: number) => {
    const i = Math.floor((hour - from) / HOUR);
    return i >= 0 && i < hours ? i : undefined;
  };
  if (has(db, 'session_stats')) {
    for (const r of db
      .prepare<[number], { hour: number; tls: number; sessions: number; messages: number }>(
        'SELECT hour, tls, sum(sessions) AS sessions, sum(messages) AS messages FROM session_stats WHERE hour >= ? GROUP BY hour, tls',
      )
      .all(from)) {
      const i = slot(r.hour);
      if (i === undefined) continue;
      week.inbound.sessions[i] = (week.inbound.sessions[i] ?? 0) + r.sessions;
      week.inbound.received[i] = (week.inbound.received[i] ?? 0) + r.messages;
      if (r.tls === 1) week.inbound.tls[i] = (week.inbound.tls[i] ?? 0) + r.sessions;
    }
  }
  const hoursOut = outbound ?? (has(db, 'attempts') ? new AttemptsStore(db).hourlySync(from) : []);
  for (const r of hoursOut) {
    const i = slot(r.hour);
    if (i === undefined) continue;
    const o = week.outbound;
    o.connections[i] = r.connections;
    o.tls[i] = r.tls;
    o.delivered[i] = r.delivered;
    o.deferred[i] = r.transient;
    o.bounced[i] = r.permanent;
    o.mixed[i] = r.mixed;
  }
  if (has(db, 'local_delivery_stats')) {
    for (const r of db
      .prepare<[number], { hour: number; outcome: string; recipients: number }>(
        'SELECT hour, outcome, sum(recipients) AS recipients FROM local_delivery_stats WHERE hour >= ? GROUP BY hour, outcome',
      )
      .all(from)) {
      const i = slot(r.hour);
      if (i === undefined || (r.outcome !== 'delivered' && r.outcome !== 'deferred' && r.outcome !== 'bounced')) continue;
      week.local[r.outcome][i] = r.recipients;
    }
  }
  return week;
}

/** tls / total per slot; null where total is 0. */
export function shares(tls: readonly number[], total: readonly number[]): (number | null)[] {
  return total.map((t, i) => (t > 0 ? (tls[i] ?? 0) / t : null));
}

function has(db: Db, table: string): boolean {
  return db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?").get(table)?.n === 1;
}
