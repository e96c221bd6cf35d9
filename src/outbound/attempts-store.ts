// The attempts table (migrations 002, 007, 012, 013, 014): one row per outbound attempt per host, the same facts as
// the "hop" log record. The only writer of that table in SQLite (attempts-pg.ts on PostgreSQL, the
// same AttemptsContract); also reads it back for `queue show`, `status` and the TLS reports
// (tlsrpt/). The rows of one turn of the event loop go in together, in one transaction at its end.

import type { HopInfo, SmtpReply } from '../core/delivery.ts';
import { HOUR } from '../db/hourly-counts.ts';
import { type Db, relaxedSync } from '../db/open.ts';

export interface AttemptRecord {
  queueId: string;
  /** Unix ms when the attempt started. */
  at: number;
  domain: string;
  rcpts: string[];
  mx: string;
  ip: string;
  port: number;
  policy: string;
  policySource: string;
  tls?: HopInfo['tls'];
  downgrade?: string;
  result: 'delivered' | 'transient' | 'permanent' | 'mixed';
  reply?: SmtpReply;
  error?: string;
  ms: number;
  /** "relay" or "transport example.com" (outbound/transport.ts); absent = MX delivery. */
  transport?: string;
  /** RFC 7672 DANE for this hop, when its destination's level asked for it (outbound/hop.ts DaneFacts). */
  dane?: { tlsa: number; usable: number; matched: string | null; error: string | null; records?: string[] };
  /** The local address the connection came from (migration 012). */
  source?: string;
  /** The MTA-STS policy in force for the domain (enforce or testing), for TLSRPT (tlsrpt/). */
  stsPolicy?: { id: string; mode: string; mx: string[]; maxAge: number };
  /** Why the domain's MTA-STS policy could not be used (RFC 8460 §4.3.2.2 result type and detail). */
  stsProblem?: { kind: string; detail: string };
}

/** Where a page of attempts ended (AttemptsStore.page). */
export interface AttemptsCursor {
  at: number;
  id: number;
}

/**
 * SQL over attempts: the attempt had an SMTP session with the host (a reply, or a TLS handshake,
 * even a failed one). A refused or timed-out connection has the host's ip but none of these: it is
 * no connection in the TLS shares of `status` and the status page (it could not have used TLS).
 */
export const CONNECTED_SQL = "(ip != '' AND (reply_code IS NOT NULL OR tls_version IS NOT NULL OR tls_error IS NOT NULL))";

/** Where the courier puts attempt records; AttemptsStore in production, an array in tests. */
export interface AttemptSink {
  record(attempt: AttemptRecord): void;
}

/** Sessions with a host (CONNECTED_SQL) since a time, and how many of them used TLS and verified it. */
export interface ConnectionShare {
  connections: number;
  tls: number;
  verified: number;
}

/** One hour of attempts (the status page's outbound chart): connections as in ConnectionShare, results counted. */
export interface AttemptHour {
  /** Unix ms of the hour's start. */
  hour: number;
  connections: number;
  tls: number;
  delivered: number;
  transient: number;
  permanent: number;
  mixed: number;
}

/**
 * The attempts table wherever it is (SQLite here, the nodes' shared PostgreSQL in attempts-pg.ts).
 * record() queues the row for the end of the event-loop turn (no wait, never throws); every read
 * first writes what is queued, so it sees this process's own attempts.
 */
export interface AttemptsContract extends AttemptSink {
  /** Every attempt for a message, oldest first. */
  forMessage(queueId: string): Promise<AttemptRecord[]>;
  /** The attempts that started in [from, to), oldest first, `limit` at a time; pass `next` back for the following page. */
  page(from: number, to: number, after: AttemptsCursor | undefined, limit: number): Promise<{ attempts: AttemptRecord[]; next?: AttemptsCursor }>;
  /** The latest attempts that did not deliver to everyone (transient, permanent, mixed), newest first. */
  recentFailures(limit: number): Promise<AttemptRecord[]>;
  /** The attempts since `since` that had a session with a host, with TLS, verified. */
  connectionShare(since: number): Promise<ConnectionShare>;
  /** The attempts since `since` per UTC hour, the hours without any left out. */
  hourly(since: number): Promise<AttemptHour[]>;
  /** Deletes at most `limit` of the oldest attempts from before `before`; returns how many (short: done). */
  pruneSome(before: number, limit: number): Promise<number>;
  /** Writes what record() queued; resolves once it is in (or dropped, told to onError). */
  flushed(): Promise<void>;
}

export interface AttemptRow {
  queue_id: string;
  at: number;
  domain: string;
  rcpts: string;
  mx: string;
  ip: string;
  port: number;
  policy: string;
  policy_source: string;
  tls_version: string | null;
  tls_cipher: string | null;
  tls_verified: number | null;
  tls_error: string | null;
  downgrade: string | null;
  result: AttemptRecord['result'];
  reply_code: number | null;
  reply_enhanced: string | null;
  reply_text: string | null;
  error: string | null;
  ms: number;
  transport: string | null;
  dane: string | null;
  source: string | null;
  sts_policy: string | null;
  sts_problem: string | null;
}

export class AttemptsStore implements AttemptsContract {
  private readonly insert;
  private readonly select;
  private readonly selectPage;
  private readonly prune;
  private readonly pruneBatch;
  private readonly selectFailures;
  private readonly selectShare;
  private readonly selectHours;

  private readonly relaxed: <T>(fn: () => T) => T;
  private readonly insertAll;
  private readonly db: Db;
  private pending: AttemptRow[] = [];
  private readonly onError: (err: unknown) => void;

  /** `onError`: a batch that could not be written (the disk is full?); the rows are dropped. */
  constructor(db: Db, onError: (err: unknown) => void = () => undefined) {
    this.db = db;
    this.onError = onError;
    this.relaxed = relaxedSync(db);
    this.insert = db.prepare(
      `INSERT INTO attempts (queue_id, at, domain, rcpts, mx, ip, port, policy, policy_source, tls_version, tls_cipher, tls_verified,
         tls_error, downgrade, result, reply_code, reply_enhanced, reply_text, error, ms, transport, source, dane, sts_policy, sts_problem)
       VALUES (@queue_id, @at, @domain, @rcpts, @mx, @ip, @port, @policy, @policy_source, @tls_version, @tls_cipher, @tls_verified,
         @tls_error, @downgrade, @result, @reply_code, @reply_enhanced, @reply_text, @error, @ms, @transport, @source, @dane, @sts_policy, @sts_problem)`,
    );
    this.select = db.prepare<[string], AttemptRow>('SELECT * FROM attempts WHERE queue_id = ? ORDER BY at, id');
    // By the at index (its entries are in (at, rowid) order): no sort, each page starts where the last ended.
    this.selectPage = db.prepare<[{ from: number; to: number; afterAt: number; afterId: number; limit: number }], AttemptRow & { id: number }>(
      'SELECT * FROM attempts WHERE at >= @afterAt AND at >= @from AND at < @to AND (at > @afterAt OR id > @afterId) ORDER BY at, id LIMIT @limit',
    );
    this.prune = db.prepare('DELETE FROM attempts WHERE at < ?');
    // By the at index, oldest first (DELETE … LIMIT needs a compile option better-sqlite3 lacks).
    this.pruneBatch = db.prepare('DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE at < ? ORDER BY at LIMIT ?)');
    this.selectFailures = db.prepare<[number], AttemptRow>(
      "SELECT * FROM attempts WHERE result IN ('transient', 'permanent', 'mixed') ORDER BY at DESC, id DESC LIMIT ?",
    );
    this.selectShare = db.prepare<[number], { n: number; tls: number | null; verified: number | null }>(
      `SELECT count(*) AS n, sum(tls_version IS NOT NULL) AS tls, sum(tls_verified = 1) AS verified FROM attempts WHERE at >= ? AND ${CONNECTED_SQL}`,
    );
    this.selectHours = db.prepare<[number], Omit<AttemptHour, 'hour'> & { hour: number }>(
      `SELECT (at / ${HOUR}) AS hour, sum(${CONNECTED_SQL}) AS connections, sum(${CONNECTED_SQL} AND tls_version IS NOT NULL) AS tls,
         sum(result = 'delivered') AS delivered, sum(result = 'transient') AS transient,
         sum(result = 'permanent') AS permanent, sum(result = 'mixed') AS mixed
       FROM attempts WHERE at >= ? GROUP BY 1 ORDER BY 1`,
    );
    this.insertAll = db.transaction((rows: readonly AttemptRow[]) => {
      for (const row of rows) this.insert.run(row);
    });
  }

  record(a: AttemptRecord): void {
    const row = attemptRow(a);
    this.pending.push(row);
    if (this.pending.length === 1) {
      setImmediate(() => {
        try {
          this.flush();
        } catch (err) {
          this.onError(err);
        }
      });
    }
  }

  /** Writes the rows waiting for the end of the turn. History, not state: without an fsync (see relaxedSync). */
  flush(): void {
    const rows = this.pending;
    this.pending = [];
    // Closed meanwhile (shutdown): the rows are history; the hop log records have the same facts.
    if (rows.length > 0 && this.db.open) this.relaxed(() => this.insertAll(rows));
  }

  async flushed(): Promise<void> {
    try {
      this.flush();
    } catch (err) {
      this.onError(err);
    }
  }

  /** Every attempt for a message, oldest first. */
  async forMessage(queueId: string): Promise<AttemptRecord[]> {
    this.flush();
    return this.select.all(queueId).map(fromRow);
  }

  async hourly(since: number): Promise<AttemptHour[]> {
    return this.hourlySync(since);
  }

  /** hourly() for a synchronous reader of the SQLite database (the status page's read-only connection). */
  hourlySync(since: number): AttemptHour[] {
    this.flush();
    return this.selectHours.all(since).map((r) => ({ ...r, hour: r.hour * HOUR }));
  }

  async recentFailures(limit: number): Promise<AttemptRecord[]> {
    this.flush();
    return this.selectFailures.all(limit).map(fromRow);
  }

  async connectionShare(since: number): Promise<ConnectionShare> {
    this.flush();
    const row = this.selectShare.get(since);
    return { connections: row?.n ?? 0, tls: row?.tls ?? 0, verified: row?.verified ?? 0 };
  }

  /**
   * The attempts that started in [from, to) (unix ms), oldest first, `limit` at a time (the day of
   * a TLS report: many rows): pass `next` back for the following page; none when this was the last.
   */
  async page(from: number, to: number, after: AttemptsCursor | undefined, limit: number): Promise<{ attempts: AttemptRecord[]; next?: AttemptsCursor }> {
    this.flush();
    const rows = this.selectPage.all({ from, to, afterAt: after?.at ?? from, afterId: after?.id ?? 0, limit });
    const last = rows.at(-1);
    return { attempts: rows.map(fromRow), ...(last && rows.length === limit ? { next: { at: last.at, id: last.id } } : {}) };
  }

  /** Deletes attempts older than `before` (unix ms); returns how many. */
  pruneBefore(before: number): number {
    this.flush();
    return this.prune.run(before).changes;
  }

  /** Deletes at most `limit` of the oldest attempts from before `before`; returns how many (short: done). */
  async pruneSome(before: number, limit: number): Promise<number> {
    this.flush();
    return this.relaxed(() => this.pruneBatch.run(before, limit).changes);
  }
}

/** The row written for an attempt (column names; tls_verified 0/1 as SQLite stores it). */
export function attemptRow(a: AttemptRecord): AttemptRow {
  return {
    queue_id: a.queueId,
    at: a.at,
    domain: a.domain,
    rcpts: JSON.stringify(a.rcpts),
    mx: a.mx,
    ip: a.ip,
    port: a.port,
    policy: a.policy,
    policy_source: a.policySource,
    tls_version: a.tls?.version || null,
    tls_cipher: a.tls?.cipher || null,
    tls_verified: a.tls ? (a.tls.verified ? 1 : 0) : null,
    tls_error: a.tls?.error ?? null,
    downgrade: a.downgrade ?? null,
    result: a.result,
    reply_code: a.reply?.code ?? null,
    reply_enhanced: a.reply?.enhanced ?? null,
    reply_text: a.reply?.text ?? null,
    error: a.error ?? null,
    ms: Math.round(a.ms),
    transport: a.transport ?? null,
    dane: a.dane ? JSON.stringify(a.dane) : null,
    source: a.source ?? null,
    sts_policy: a.stsPolicy ? JSON.stringify(a.stsPolicy) : null,
    sts_problem: a.stsProblem ? JSON.stringify(a.stsProblem) : null,
  };
}

/** An attempt as read back; `r` as SQLite returns it or as PostgreSQL does (bigint strings, boolean) after attempts-pg.ts's fix-up. */
export function fromRow(r: AttemptRow): AttemptRecord {
  return {
    queueId: r.queue_id,
    at: r.at,
    domain: r.domain,
    rcpts: JSON.parse(r.rcpts) as string[],
    mx: r.mx,
    ip: r.ip,
    port: r.port,
    policy: r.policy,
    policySource: r.policy_source,
    ...(r.tls_verified !== null
      ? { tls: { version: r.tls_version ?? '', cipher: r.tls_cipher ?? '', verified: r.tls_verified === 1, ...(r.tls_error ? { error: r.tls_error } : {}) } }
      : {}),
    ...(r.downgrade ? { downgrade: r.downgrade } : {}),
    result: r.result,
    ...(r.reply_code !== null ? { reply: { code: r.reply_code, text: r.reply_text ?? '', ...(r.reply_enhanced ? { enhanced: r.reply_enhanced } : {}) } } : {}),
    ...(r.error ? { error: r.error } : {}),
    ms: r.ms,
    ...(r.transport ? { transport: r.transport } : {}),
    ...(r.dane ? { dane: JSON.parse(r.dane) as NonNullable<AttemptRecord['dane']> } : {}),
    ...(r.source ? { source: r.source } : {}),
    ...(r.sts_policy ? { stsPolicy: JSON.parse(r.sts_policy) as NonNullable<AttemptRecord['stsPolicy']> } : {}),
    ...(r.sts_problem ? { stsProblem: JSON.parse(r.sts_problem) as NonNullable<AttemptRecord['stsProblem']> } : {}),
  };
}
