// Counts inbound SMTP sessions per hour, listener and TLS (table session_stats, migration 005)
// for `sealpost status`: the share of inbound connections that used TLS. Counts in memory and
// writes them in one transaction at most every `flushMs` and at close (db/hourly-counts.ts), so
// sessions cost no fsync each; a crash loses at most the last few seconds of counts. The only
// writer of that table; also reads it back. Sessions that never said EHLO/HELO are not counted; connections
// refused because DNSBLs list the client are counted apart (dnsbl_refused, migration 009).
import { HourlyCounts, type HourlyCountsDeps, hourOf } from '../db/hourly-counts.ts';
import type { Db } from '../db/open.ts';

export interface SessionEnd {
  /** Unix ms when the session ended. */
  at: number;
  listener: string;
  /** The session ran over TLS. */
  tls: boolean;
  /** The client said EHLO or HELO (else it is not counted). */
  greeted: boolean;
  messages: number;
  /** Refused at connect: DNSBLs list the client. */
  refusedBy?: 'dnsbl';
}

export type SessionStatsDeps = HourlyCountsDeps;

interface Count {
  hour: number;
  listener: string;
  tls: number;
  sessions: number;
  messages: number;
  dnsblRefused: number;
}

export class SessionStats {
  private readonly counts: HourlyCounts<Count>;

  constructor(db: Db, deps: SessionStatsDeps) {
    this.counts = new HourlyCounts(
      db,
      {
        name: 'session_stats',
        upsert: `INSERT INTO session_stats (hour, listener, tls, sessions, messages, dnsbl_refused) VALUES (@hour, @listener, @tls, @sessions, @messages, @dnsblRefused)
       ON CONFLICT (hour, listener, tls) DO UPDATE SET sessions = sessions + excluded.sessions, messages = messages + excluded.messages,
         dnsbl_refused = dnsbl_refused + excluded.dnsbl_refused`,
        fault: 'session stats',
        what: 'inbound session statistics',
      },
      deps,
    );
  }

  record(end: SessionEnd): void {
    const refused = end.refusedBy === 'dnsbl';
    if (!end.greeted && !refused) return;
    const hour = hourOf(end.at);
    const tls = end.tls ? 1 : 0;
    const count = this.counts.count(`${hour}|${end.listener}|${tls}`, () => ({ hour, listener: end.listener, tls, sessions: 0, messages: 0, dnsblRefused: 0 }));
    if (refused) count.dnsblRefused++;
    else {
      count.sessions++;
      count.messages += end.messages;
    }
  }

  /** Writes the counts gathered so far. */
  flush(): void {
    this.counts.flush();
  }

  close(): void {
    this.counts.flush();
  }
}

export interface InboundShare {
  sessions: number;
  tls: number;
  messages: number;
  /** Connections refused because DNSBLs list the client. */
  dnsblRefused: number;
  byListener: Record<string, { sessions: number; tls: number }>;
}

/** Counted sessions in the hours from the one holding `since` on. */
export function inboundShare(db: Db, since: number): InboundShare {
  // `sealpost status` reads a database a daemon of an older version may still hold (never migrated).
  const hasDnsbl = db
    .prepare<[], { name: string }>("SELECT name FROM pragma_table_info('session_stats')")
    .all()
    .some((c) => c.name === 'dnsbl_refused');
  const rows = db
    .prepare<[number], { listener: string; tls: number; sessions: number; messages: number; dnsbl: number }>(
      `SELECT listener, tls, sum(sessions) AS sessions, sum(messages) AS messages, ${hasDnsbl ? 'sum(dnsbl_refused)' : '0'} AS dnsbl
       FROM session_stats WHERE hour >= ? GROUP BY listener, tls`,
    )
    .all(hourOf(since));
  const share: InboundShare = { sessions: 0, tls: 0, messages: 0, dnsblRefused: 0, byListener: {} };
  for (const r of rows) {
    share.dnsblRefused += r.dnsbl;
    if (r.sessions === 0) continue;
    const l = (share.byListener[r.listener] ??= { sessions: 0, tls: 0 });
    l.sessions += r.sessions;
    share.sessions += r.sessions;
    share.messages += r.messages;
    if (r.tls === 1) {
      l.tls += r.sessions;
      share.tls += r.sessions;
    }
  }
  return share;
}
