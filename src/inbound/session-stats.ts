// Counts inbound SMTP sessions per hour, listener and TLS (table session_stats, migration 005)
// for `sealpost status`: the share of inbound connections that used TLS. Counts in memory and
// writes them in one transaction at most every `flushMs` and at close, so sessions cost no
// fsync each; a crash loses at most the last few seconds of counts. The only writer of that
// table; also reads it back. Sessions that never said EHLO/HELO are not counted; connections
// refused because DNSBLs list the client are counted apart (dnsbl_refused, migration 009).
import type { Db } from '../db/open.ts';
import type { StorageHealth } from '../db/storage-fault.ts';
import type { Logger } from '../log/log.ts';

const HOUR = 3_600_000;
const KEEP_MS = 30 * 24 * HOUR;

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

export interface SessionStatsDeps {
  now: () => number;
  log: Logger;
  /** Longest time counts wait in memory, ms (default 2000). */
  flushMs?: number;
  /** The daemon's view of the disk: a full one is logged once per episode there, not per flush. */
  storage?: StorageHealth;
}

interface Count {
  hour: number;
  listener: string;
  tls: number;
  sessions: number;
  messages: number;
  dnsblRefused: number;
}

export class SessionStats {
  private readonly deps: SessionStatsDeps;
  private readonly add;
  private readonly prune;
  private readonly db: Db;
  private pending = new Map<string, Count>();
  private timer: NodeJS.Timeout | undefined;

  constructor(db: Db, deps: SessionStatsDeps) {
    this.db = db;
    this.deps = deps;
    this.add = db.prepare(
      `INSERT INTO session_stats (hour, listener, tls, sessions, messages, dnsbl_refused) VALUES (@hour, @listener, @tls, @sessions, @messages, @dnsblRefused)
       ON CONFLICT (hour, listener, tls) DO UPDATE SET sessions = sessions + excluded.sessions, messages = messages + excluded.messages,
         dnsbl_refused = dnsbl_refused + excluded.dnsbl_refused`,
    );
    this.prune = db.prepare('DELETE FROM session_stats WHERE hour < ?');
  }

  record(end: SessionEnd): void {
    const refused = end.refusedBy === 'dnsbl';
    if (!end.greeted && !refused) return;
    const hour = Math.floor(end.at / HOUR) * HOUR;
    const key = `${hour}|${end.listener}|${end.tls ? 1 : 0}`;
    const count = this.pending.get(key) ?? { hour, listener: end.listener, tls: end.tls ? 1 : 0, sessions: 0, messages: 0, dnsblRefused: 0 };
    if (refused) count.dnsblRefused++;
    else {
      count.sessions++;
      count.messages += end.messages;
    }
    this.pending.set(key, count);
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.deps.flushMs ?? 2000);
      this.timer.unref();
    }
  }

  /** Writes the counts gathered so far. Statistics never fail mail: an error is logged and the counts dropped. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const counts = [...this.pending.values()];
    this.pending = new Map();
    try {
      this.db.transaction(() => {
        for (const c of counts) this.add.run(c);
        this.prune.run(this.deps.now() - KEEP_MS);
      })();
      this.deps.storage?.ok();
    } catch (err) {
      if (this.deps.storage?.fault('session stats', err)) return;
      this.deps.log.error({ err, event: 'daemon' }, 'could not record inbound session statistics');
    }
  }

  close(): void {
    this.flush();
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
    .all(Math.floor(since / HOUR) * HOUR);
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
