// The week behind the status page's charts: per hour, the inbound sessions (session_stats, how
// many with TLS, the messages they brought) and the outbound attempts (attempts: connections
// that reached a host, how many with TLS, and each attempt's result). Reads only; the tables'
// writers are inbound/session-stats.ts and outbound/attempts-store.ts.

import { HOUR, hourOf } from '../db/hourly-counts.ts';
import type { Db } from '../db/open.ts';

export const WEEK_HOURS = 7 * 24;

/** One slot per hour from `from`; shares are null in an hour without traffic. */
export interface Week {
  from: number;
  hours: number;
  inbound: { sessions: number[]; tls: number[]; received: number[] };
  outbound: { connections: number[]; tls: number[]; delivered: number[]; deferred: number[]; bounced: number[]; mixed: number[] };
}

/** The `hours` hours up to and including the one holding `now`. */
export function readWeek(db: Db, now: number, hours = WEEK_HOURS): Week {
  const from = hourOf(now) - (hours - 1) * HOUR;
  const zeros = () => new Array<number>(hours).fill(0);
  const week: Week = {
    from,
    hours,
    inbound: { sessions: zeros(), tls: zeros(), received: zeros() },
    outbound: { connections: zeros(), tls: zeros(), delivered: zeros(), deferred: zeros(), bounced: zeros(), mixed: zeros() },
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
  if (has(db, 'attempts')) {
    for (const r of db
      .prepare<[number], { hour: number; connections: number; tls: number; delivered: number; transient: number; permanent: number; mixed: number }>(
        `SELECT (at / ${HOUR}) AS hour, sum(ip != '') AS connections, sum(ip != '' AND tls_version IS NOT NULL) AS tls,
           sum(result = 'delivered') AS delivered, sum(result = 'transient') AS transient,
           sum(result = 'permanent') AS permanent, sum(result = 'mixed') AS mixed
         FROM attempts WHERE at >= ? GROUP BY 1`,
      )
      .all(from)) {
      const i = slot(r.hour * HOUR);
      if (i === undefined) continue;
      const o = week.outbound;
      o.connections[i] = r.connections;
      o.tls[i] = r.tls;
      o.delivered[i] = r.delivered;
      o.deferred[i] = r.transient;
      o.bounced[i] = r.permanent;
      o.mixed[i] = r.mixed;
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
