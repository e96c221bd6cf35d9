// The TLSRPT tables (migration 015): which day's report was made for which domain and where it
// went (tlsrpt_sent: at most one per domain and UTC day, so a restart never sends twice), and the
// queue ids of our report messages (tlsrpt_messages: their delivery is never reported on). The
// only writer of both in SQLite (sent-store-pg.ts on PostgreSQL, the same TlsrptSent contract:
// there the (domain, day) key is what lets only one of the nodes send a day's report).
import type { Db } from '../db/open.ts';

export interface SentDestination {
  uri: string;
  result: 'queued' | 'posted' | 'failed';
  queueId?: string;
  error?: string;
}

export interface SentReport {
  domain: string;
  day: string;
  reportId: string;
  state: 'sent' | 'failed';
  at: number;
  sessions: number;
  failures: number;
  destinations: SentDestination[];
}

export interface SentRow {
  domain: string;
  day: string;
  report_id: string;
  state: SentReport['state'];
  at: number;
  sessions: number;
  failures: number;
  destinations: string;
}

/** The reports made for one day, by state (`sealpost status`). */
export interface SentDay {
  day: string;
  sent: string[];
  failed: string[];
}

/** The reports made and the report messages, wherever they are kept (SQLite here, the nodes' PostgreSQL in sent-store-pg.ts). */
export interface TlsrptSent {
  /** The domains whose report for `day` was already made (sent or tried). */
  doneFor(day: string): Promise<Set<string>>;
  /** Claims a day's report before anything is sent: false when it was claimed already (by any node). */
  claim(report: Omit<SentReport, 'state' | 'destinations'>): Promise<boolean>;
  /** What became of a claimed report: sent when at least one destination took it. */
  finish(domain: string, day: string, destinations: readonly SentDestination[]): Promise<SentReport['state']>;
  /** Marks a queued report message: its attempts are left out of every report. */
  markMessage(queueId: string, at: number): Promise<void>;
  /** Report messages queued since `since` (unix ms). */
  reportMessages(since: number): Promise<Set<string>>;
  /** Every report made, newest first. */
  list(limit?: number): Promise<SentReport[]>;
  /** The reports made for the latest day there are any; null before the first. */
  lastDay(): Promise<SentDay | null>;
  /** Drops the records of messages and reports older than `before` (unix ms). */
  pruneBefore(before: number): Promise<void>;
}

/** The day's rows (ordered by domain) as a SentDay. */
export function sentDay(rows: readonly { day: string; domain: string; state: SentReport['state'] }[]): SentDay | null {
  const first = rows[0];
  if (!first) return null;
  return {
    day: first.day,
    sent: rows.filter((r) => r.state === 'sent').map((r) => r.domain),
    failed: rows.filter((r) => r.state === 'failed').map((r) => r.domain),
  };
}

/** The reports made for the latest day there are any, by state (read-only: `sealpost status`). */
export function lastSentDay(db: Db): SentDay | null {
  const rows = db
    .prepare<[], { day: string; domain: string; state: SentReport['state'] }>(
      'SELECT day, domain, state FROM tlsrpt_sent WHERE day = (SELECT max(day) FROM tlsrpt_sent) ORDER BY domain',
    )
    .all();
  return sentDay(rows);
}

export class TlsrptSentStore implements TlsrptSent {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /** The domains whose report for `day` was already made (sent or tried). */
  async doneFor(day: string): Promise<Set<string>> {
    const rows = this.db.prepare<[string], { domain: string }>('SELECT domain FROM tlsrpt_sent WHERE day = ?').all(day);
    return new Set(rows.map((r) => r.domain));
  }

  /**
   * Claims a day's report before anything is sent (state "failed", no destinations, until finish()):
   * false when it was claimed already. At most once: a crash in between leaves it "attempted".
   */
  async claim(report: Omit<SentReport, 'state' | 'destinations'>): Promise<boolean> {
    const result = this.db
      .prepare(
        `INSERT OR IGNORE INTO tlsrpt_sent (domain, day, report_id, state, at, sessions, failures, destinations)
         VALUES (@domain, @day, @report_id, @state, @at, @sessions, @failures, @destinations)`,
      )
      .run({
        domain: report.domain,
        day: report.day,
        report_id: report.reportId,
        state: 'failed',
        at: report.at,
        sessions: report.sessions,
        failures: report.failures,
        destinations: '[]',
      });
    return result.changes === 1;
  }

  /** What became of a claimed report: sent when at least one destination took it. */
  async finish(domain: string, day: string, destinations: readonly SentDestination[]): Promise<SentReport['state']> {
    const state = destinations.some((d) => d.result !== 'failed') ? 'sent' : 'failed';
    this.db.prepare('UPDATE tlsrpt_sent SET state = ?, destinations = ? WHERE domain = ? AND day = ?').run(state, JSON.stringify(destinations), domain, day);
    return state;
  }

  /** Marks a queued report message: its attempts are left out of every report. */
  async markMessage(queueId: string, at: number): Promise<void> {
    this.db.prepare('INSERT OR IGNORE INTO tlsrpt_messages (queue_id, at) VALUES (?, ?)').run(queueId, at);
  }

  /** Report messages queued since `since` (unix ms). */
  async reportMessages(since: number): Promise<Set<string>> {
    const rows = this.db.prepare<[number], { queue_id: string }>('SELECT queue_id FROM tlsrpt_messages WHERE at >= ?').all(since);
    return new Set(rows.map((r) => r.queue_id));
  }

  /** Every report made, newest first (for status and tests). */
  async list(limit = 100): Promise<SentReport[]> {
    return this.db.prepare<[number], SentRow>('SELECT * FROM tlsrpt_sent ORDER BY at DESC, domain LIMIT ?').all(limit).map(sentFrom);
  }

  async lastDay(): Promise<SentDay | null> {
    return lastSentDay(this.db);
  }

  /** Drops the records of messages and reports older than `before` (unix ms): kept as long as the attempts. */
  async pruneBefore(before: number): Promise<void> {
    this.db.prepare('DELETE FROM tlsrpt_messages WHERE at < ?').run(before);
    this.db.prepare('DELETE FROM tlsrpt_sent WHERE at < ?').run(before);
  }
}

/** A tlsrpt_sent row (SQLite's numbers, or PostgreSQL's bigint strings) as a SentReport. */
export function sentFrom(
  r: Omit<SentRow, 'at' | 'sessions' | 'failures'> & { at: number | string; sessions: number | string; failures: number | string },
): SentReport {
  return {
    domain: r.domain,
    day: r.day,
    reportId: r.report_id,
    state: r.state,
    at: Number(r.at),
    sessions: Number(r.sessions),
    failures: Number(r.failures),
    destinations: JSON.parse(r.destinations) as SentDestination[],
  };
}
