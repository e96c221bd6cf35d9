// The attempts table (migration 002): one row per outbound attempt per host, the same facts as the
// "hop" log record. The only writer of that table; also reads it back for `queue show`.
import { type Db, relaxedSync } from '../db/open.ts';
import type { HopInfo, SmtpReply } from '../core/delivery.ts';

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
}

/** Where the courier puts attempt records; AttemptsStore in production, an array in tests. */
export interface AttemptSink {
  record(attempt: AttemptRecord): void;
}

interface Row {
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
}

export class AttemptsStore implements AttemptSink {
  private readonly insert;
  private readonly select;
  private readonly prune;

  private readonly relaxed: <T>(fn: () => T) => T;

  constructor(db: Db) {
    this.relaxed = relaxedSync(db);
    this.insert = db.prepare(
      `INSERT INTO attempts (queue_id, at, domain, rcpts, mx, ip, port, policy, policy_source, tls_version, tls_cipher, tls_verified,
         tls_error, downgrade, result, reply_code, reply_enhanced, reply_text, error, ms)
       VALUES (@queue_id, @at, @domain, @rcpts, @mx, @ip, @port, @policy, @policy_source, @tls_version, @tls_cipher, @tls_verified,
         @tls_error, @downgrade, @result, @reply_code, @reply_enhanced, @reply_text, @error, @ms)`,
    );
    this.select = db.prepare<[string], Row>('SELECT * FROM attempts WHERE queue_id = ? ORDER BY at, id');
    this.prune = db.prepare('DELETE FROM attempts WHERE at < ?');
  }

  record(a: AttemptRecord): void {
    const row: Row = {
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
    };
    // History, not state: written without an fsync (see relaxedSync).
    this.relaxed(() => this.insert.run(row));
  }

  /** Every attempt for a message, oldest first. */
  forMessage(queueId: string): AttemptRecord[] {
    return this.select.all(queueId).map((r) => ({
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
    }));
  }

  /** Deletes attempts older than `before` (unix ms); returns how many. */
  pruneBefore(before: number): number {
    return this.prune.run(before).changes;
  }
}
