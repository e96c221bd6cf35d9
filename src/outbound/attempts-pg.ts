// The attempts table on PostgreSQL ([store] kind = "postgres"): the AttemptsContract of
// attempts-store.ts over the database the nodes share, so `queue show`, `status` and the TLS
// reports of any node see every node's attempts. As with SQLite, the rows recorded in one turn of
// the event loop go in together at its end: one INSERT (the rows as one JSON parameter) per turn,
// never awaited by the courier. The only writer of that table there. Side effects: queries on the pool.
import type pg from 'pg';
import { HOUR } from '../db/hourly-counts.ts';
import {
  type AttemptHour,
  type AttemptRecord,
  type AttemptRow,
  type AttemptsContract,
  type AttemptsCursor,
  attemptRow,
  CONNECTED_SQL,
  type ConnectionShare,
  fromRow,
} from './attempts-store.ts';

const COLUMNS = [
  'queue_id',
  'at',
  'domain',
  'rcpts',
  'mx',
  'ip',
  'port',
  'policy',
  'policy_source',
  'tls_version',
  'tls_cipher',
  'tls_verified',
  'tls_error',
  'downgrade',
  'result',
  'reply_code',
  'reply_enhanced',
  'reply_text',
  'error',
  'ms',
  'transport',
  'source',
  'dane',
  'sts_policy',
  'sts_problem',
].join(', ');

const INSERT_SQL = `INSERT INTO attempts (${COLUMNS}) SELECT ${COLUMNS} FROM json_populate_recordset(NULL::attempts, $1::json)`;

/** A row as pg returns it: bigint columns as strings, tls_verified as a boolean. */
type PgRow = Omit<AttemptRow, 'at' | 'ms' | 'tls_verified'> & { id: string; at: string; ms: string; tls_verified: boolean | null };

function read(r: PgRow): AttemptRecord {
  return fromRow({ ...r, at: Number(r.at), ms: Number(r.ms), tls_verified: r.tls_verified === null ? null : r.tls_verified ? 1 : 0 });
}

export class PgAttemptsStore implements AttemptsContract {
  private readonly pool: pg.Pool;
  private readonly onError: (err: unknown) => void;
  private pending: AttemptRecord[] = [];
  /** The writes begun, in order; a read waits for them. */
  private writing: Promise<void> = Promise.resolve();

  /** `onError`: a turn's rows that could not be written (the database is away); they are dropped (the hop records have them). */
  constructor(pool: pg.Pool, onError: (err: unknown) => void = () => undefined) {
    this.pool = pool;
    this.onError = onError;
  }

  record(a: AttemptRecord): void {
    this.pending.push(a);
    if (this.pending.length === 1) setImmediate(() => void this.flushed());
  }

  flushed(): Promise<void> {
    const rows = this.pending;
    this.pending = [];
    if (rows.length > 0) {
      const json = JSON.stringify(rows.map((a) => ({ ...attemptRow(a), tls_verified: a.tls ? a.tls.verified : null })));
      this.writing = this.writing.then(() => this.pool.query(INSERT_SQL, [json]).then(() => undefined, this.onError));
    }
    return this.writing;
  }

  async forMessage(queueId: string): Promise<AttemptRecord[]> {
    await this.flushed();
    const { rows } = await this.pool.query<PgRow>('SELECT * FROM attempts WHERE queue_id = $1 ORDER BY at, id', [queueId]);
    return rows.map(read);
  }

  async page(from: number, to: number, after: AttemptsCursor | undefined, limit: number): Promise<{ attempts: AttemptRecord[]; next?: AttemptsCursor }> {
    await this.flushed();
    // By the (at, id) index: each page starts where the last ended.
    const { rows } = await this.pool.query<PgRow>('SELECT * FROM attempts WHERE (at, id) > ($1, $2) AND at >= $3 AND at < $4 ORDER BY at, id LIMIT $5', [
      after?.at ?? from,
      after?.id ?? 0,
      from,
      to,
      limit,
    ]);
    const last = rows.at(-1);
    return { attempts: rows.map(read), ...(last && rows.length === limit ? { next: { at: Number(last.at), id: Number(last.id) } } : {}) };
  }

  async recentFailures(limit: number): Promise<AttemptRecord[]> {
    await this.flushed();
    const { rows } = await this.pool.query<PgRow>(
      "SELECT * FROM attempts WHERE result IN ('transient', 'permanent', 'mixed') ORDER BY at DESC, id DESC LIMIT $1",
      [limit],
    );
    return rows.map(read);
  }

  async connectionShare(since: number): Promise<ConnectionShare> {
    await this.flushed();
    const { rows } = await this.pool.query<{ n: string; tls: string; verified: string }>(
      `SELECT count(*) AS n, count(*) FILTER (WHERE tls_version IS NOT NULL) AS tls, count(*) FILTER (WHERE tls_verified) AS verified
       FROM attempts WHERE at >= $1 AND ${CONNECTED_SQL}`,
      [since],
    );
    const row = rows[0];
    return { connections: Number(row?.n ?? 0), tls: Number(row?.tls ?? 0), verified: Number(row?.verified ?? 0) };
  }

  async hourly(since: number): Promise<AttemptHour[]> {
    await this.flushed();
    const connected = `count(*) FILTER (WHERE ${CONNECTED_SQL})`;
    const { rows } = await this.pool.query<Record<keyof AttemptHour, string>>(
      `SELECT at / ${HOUR} AS hour, ${connected} AS connections, count(*) FILTER (WHERE ${CONNECTED_SQL} AND tls_version IS NOT NULL) AS tls,
         count(*) FILTER (WHERE result = 'delivered') AS delivered, count(*) FILTER (WHERE result = 'transient') AS transient,
         count(*) FILTER (WHERE result = 'permanent') AS permanent, count(*) FILTER (WHERE result = 'mixed') AS mixed
       FROM attempts WHERE at >= $1 GROUP BY 1 ORDER BY 1`,
      [since],
    );
    return rows.map((r) => ({
      hour: Number(r.hour) * HOUR,
      connections: Number(r.connections),
      tls: Number(r.tls),
      delivered: Number(r.delivered),
      transient: Number(r.transient),
      permanent: Number(r.permanent),
      mixed: Number(r.mixed),
    }));
  }

  async pruneSome(before: number, limit: number): Promise<number> {
    await this.flushed();
    // SKIP LOCKED: nodes pruning at the same time delete different rows (no waits, no deadlock);
    // a short batch because another node holds the rest still ends this round, the other finishes.
    const r = await this.pool.query('DELETE FROM attempts WHERE id IN (SELECT id FROM attempts WHERE at < $1 ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED)', [
      before,
      limit,
    ]);
    return r.rowCount ?? 0;
  }
}
