// The queue store: the only writer of the messages and recipients tables, and the owner of the
// spool of large bodies (spool.ts: files removed with their rows, orphans swept at start). Enqueue
// with group commit (group-commit.ts), fresh messages handed straight to a worker with room
// (handoff.ts), claim of due recipients by index, outcomes recorded (completeSoon: the outcomes of
// one tick in one transaction; a message delivered to all its recipients at once deleted outright),
// in-flight work recovered
// after a crash, and the operator's levers (retry, hold, release, delete; admin.ts only reads).
import path from 'node:path';
import { bodyHead, bodySize, isSpooled, type MessageBody } from '../core/body.ts';
import type { DeliveryJob, JobRecipient, Outcome, TlsRequired } from '../core/delivery.ts';
import { type Db, relaxedSync } from '../db/open.ts';
import type { DsnRecipient } from './bounce.ts';
import { GroupCommit } from './group-commit.ts';
import { HandOff, type JobTaker, type Reserved } from './handoff.ts';
import type { NewMessage, Transport } from './message.ts';
import type { NoticeInput } from './notices.ts';
import { expired, nextAttemptAt, type RetryPolicy } from './schedule.ts';
import { Spool, spoolDirOf } from './spool.ts';

/** A recipient that reached a final state other than delivered (or waits long), for the DSN writer. */
export type FailedRecipient = DsnRecipient;

export interface CompleteOptions {
  /** In [0, 1): spreads the retries of a batch. */
  jitter?: number;
  /** Builds the DSN for failed or long-delayed recipients (see notices.ts). */
  notice?: (input: NoticeInput) => NewMessage | undefined;
  /** After this long in the queue the sender gets one "delayed" notice; 0 = never. */
  delayWarningMs?: number;
}

export interface Finished {
  queueId: string;
  sender: string;
  receivedAt: number;
  body: MessageBody;
  failed: FailedRecipient[];
}

interface Pending {
  message: NewMessage;
  resolve: () => void;
  reject: (err: Error) => void;
  /** The workers that reserved a slot for this message, by transport (those recipients go in active). */
  takers?: Reserved;
  /** Their jobs, once committed: given to the workers after the WAL sync. */
  jobs?: { transport: Transport; job: DeliveryJob }[];
}

/** A job's outcomes, to be recorded (complete, completeSoon). */
interface JobOutcome {
  job: DeliveryJob;
  outcomes: ReadonlyMap<number, Outcome>;
  now: number;
  options: CompleteOptions;
}

/** A job's outcomes waiting for the tick's transaction (completeSoon). */
interface PendingOutcome extends JobOutcome {
  resolve: (finished: Finished | undefined) => void;
  reject: (err: Error) => void;
}

interface RecipientRow {
  id: number;
  rcpt: string;
  address: string;
  attempts: number;
}

interface MessageRow {
  id: string;
  received_at: number;
  sender: string;
  size: number;
  body: Buffer;
  smtputf8: number;
  eight_bit: number;
  tls_required: TlsRequired | null;
  spool: string | null;
  spool_offset: number;
}

/**
 * Claiming whole messages, the `limit` most overdue (all of a message's due recipients go in one
 * job), in two steps: the due index walked in order up to the limit, then each message's rows by
 * message id. The unary `+` keeps the planner off the due index for the second step: walking it
 * there visits every due row per claim, O(queue) per message.
 */
export const DUE_MESSAGES_SQL = `SELECT DISTINCT message_id FROM recipients
  WHERE state = 'queued' AND transport = @transport AND next_attempt_at <= @now
  ORDER BY next_attempt_at LIMIT @limit`;
export const CLAIM_MESSAGE_SQL = `UPDATE recipients SET state = 'active'
  WHERE message_id = @messageId AND +state = 'queued' AND +transport = @transport AND +next_attempt_at <= @now
  RETURNING id, rcpt, address, attempts`;

export class QueueStore {
  private readonly retry: RetryPolicy;
  private readonly group: GroupCommit<Pending>;
  /** Runs a write transaction without an fsync at commit (see relaxedSync). */
  private readonly withoutSync: <T>(fn: () => T) => T;
  /** The write transactions, built once (better-sqlite3 wraps each in BEGIN … COMMIT). */
  private readonly transactions;
  private readonly handoff = new HandOff();
  private readonly statements;
  /** Outcomes handed to completeSoon since the last tick. */
  private outcomes: PendingOutcome[] = [];
  /** The files of large bodies (data_dir/spool beside the database); this store removes them. */
  readonly spool: Spool;

  /**
   * `deps.syncFile`: fdatasync by path (tests slow it down to watch group commit). `deps.spool`:
   * default data_dir/spool beside the database file (for an in-memory database, under the working
   * directory; nothing is written there unless a spooled message is enqueued).
   */
  constructor(db: Db, retry: RetryPolicy, deps: { syncFile?: (file: string) => Promise<void>; spool?: Spool } = {}) {
    this.retry = retry;
    this.spool = deps.spool ?? new Spool(spoolDirOf(db.memory ? path.resolve('.sealpost-memory') : path.dirname(db.name)));
    this.withoutSync = relaxedSync(db);
    this.statements = {
      insertMessage: db.prepare(
        `INSERT INTO messages (id, received_at, sender, size, body, smtputf8, eight_bit, tls_required, origin, client_ip, helo, header_message_id, subject, spool, spool_offset)
         VALUES (@id, @receivedAt, @sender, @size, @body, @smtputf8, @eightBit, @tlsRequired, @origin, @clientIp, @helo, @headerMessageId, @subject, @spool, @spoolOffset)`,
      ),
      insertRecipient: db.prepare(
        `INSERT INTO recipients (message_id, rcpt, address, transport, state, next_attempt_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      dueMessages: db.prepare<{ transport: string; now: number; limit: number }, string>(DUE_MESSAGES_SQL).pluck(),
      claimMessage: db.prepare<{ messageId: string; transport: string; now: number }, RecipientRow>(CLAIM_MESSAGE_SQL),
      message: db.prepare<[string], MessageRow>(
        'SELECT id, received_at, sender, size, body, smtputf8, eight_bit, tls_required, spool, spool_offset FROM messages WHERE id = ?',
      ),
      spoolNames: db.prepare<[], string>('SELECT spool FROM messages WHERE spool IS NOT NULL').pluck(),
      delivered: db.prepare(`UPDATE recipients SET state = 'delivered', attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ?`),
      deferred: db.prepare(`UPDATE recipients SET state = 'queued', attempts = attempts + 1, next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ?`),
      failed: db.prepare(`UPDATE recipients SET state = 'failed', attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ?`),
      recipientCount: db.prepare<[string], number>('SELECT count(*) FROM recipients WHERE message_id = ?').pluck(),
      open: db.prepare<[string], { n: number }>(`SELECT count(*) AS n FROM recipients WHERE message_id = ? AND state IN ('queued', 'active', 'held')`),
      failedOf: db.prepare<[string], { rcpt: string; address: string; last_error: string | null }>(
        `SELECT rcpt, address, last_error FROM recipients WHERE message_id = ? AND state = 'failed'`,
      ),
      deleteMessage: db.prepare('DELETE FROM messages WHERE id = ?'),
      spoolOf: db.prepare<[string], string | null>('SELECT spool FROM messages WHERE id = ?').pluck(),
      retryAll: db.prepare<[number]>(`UPDATE recipients SET next_attempt_at = ? WHERE state = 'queued'`),
      retryMessage: db.prepare<[number, string]>(`UPDATE recipients SET next_attempt_at = ? WHERE state = 'queued' AND message_id = ?`),
      hold: db.prepare<[string]>(`UPDATE recipients SET state = 'held' WHERE state = 'queued' AND message_id = ?`),
      release: db.prepare<[number, string]>(`UPDATE recipients SET state = 'queued', next_attempt_at = ? WHERE state = 'held' AND message_id = ?`),
      markDelayNotice: db.prepare('UPDATE messages SET delay_notice_sent = 1 WHERE id = ? AND delay_notice_sent = 0'),
      recover: db.prepare(`UPDATE recipients SET state = 'queued' WHERE state = 'active'`),
      // ORDER BY … LIMIT 1 stops at the first entry of the due index; min() read every entry of the range.
      nextDue: db.prepare<[string], { t: number }>(
        `SELECT next_attempt_at AS t FROM recipients WHERE state = 'queued' AND transport = ? ORDER BY next_attempt_at LIMIT 1`,
      ),
    };
    this.transactions = {
      insertAll: db.transaction((batch: readonly Pending[]) => {
        for (const p of batch) p.jobs = this.insert(p.message, [...(p.takers?.keys() ?? [])]);
      }),
      claim: db.transaction((transport: Transport, now: number, limit: number) => this.claimNow(transport, now, limit)),
      completeAll: db.transaction((batch: readonly JobOutcome[], notices: NewMessage[]) =>
        batch.map((p) => this.completeNow(p.job, p.outcomes, p.now, p.options, notices)),
      ),
    };
    this.group = new GroupCommit<Pending>({
      commit: (batch) => this.withoutSync(() => this.transactions.insertAll(batch)),
      failed: (p, err) => {
        for (const taker of p.takers?.values() ?? []) taker.release();
        p.reject(err);
      },
      settle: (round, err) => this.settle(round, err),
      // The WAL, when there is one to sync ourselves (not for in-memory or rollback-journal databases).
      walPath: !db.memory && db.pragma('journal_mode', { simple: true }) === 'wal' ? `${db.name}-wal` : undefined,
      ...(deps.syncFile ? { syncFile: deps.syncFile } : {}),
    });
  }

  /**
   * Resolves once the message and its recipients are committed and on disk (fdatasync'd). A worker
   * with room for it reserves a slot now and gets the job once it is on disk.
   */
  enqueue(message: NewMessage): Promise<void> {
    return new Promise((resolve, reject) => {
      const takers = this.handoff.reserve(message);
      this.group.add({ message, resolve, reject, ...(takers ? { takers } : {}) });
    });
  }

  /** Called with the transport of every committed recipient group that waits to be claimed. */
  onEnqueued(listener: (transport: Transport) => void): () => void {
    return this.handoff.onEnqueued(listener);
  }

  /** Fresh messages for `transport` go straight to `taker` while it has room (see JobTaker). */
  handOff(transport: Transport, taker: JobTaker): () => void {
    return this.handoff.register(transport, taker);
  }

  /**
   * A round is on disk (or its sync failed: then its senders are answered 451, but the rows stay
   * and are delivered, so such a message may arrive twice, never not at all). The jobs handed off
   * go to their workers; the workers of what waits to be claimed are told.
   */
  private settle(round: Pending[], err: Error | undefined): void {
    for (const p of round) {
      if (err) p.reject(err);
      else p.resolve();
      for (const { transport, job } of p.jobs ?? []) p.takers?.get(transport)?.take(job);
    }
    this.handoff.notify(round.flatMap((p) => p.message.recipients.filter((r) => !p.takers?.has(r.transport)).map((r) => r.transport)));
  }

  /** Inserts a message; the recipients of `active` transports go in active, and their jobs are returned. */
  private insert(m: NewMessage, active: readonly Transport[] = []): { transport: Transport; job: DeliveryJob }[] {
    this.statements.insertMessage.run({
      id: m.id,
      receivedAt: m.receivedAt,
      sender: m.sender,
      size: bodySize(m.body),
      body: bodyHead(m.body),
      spool: isSpooled(m.body) ? path.basename(m.body.file) : null,
      spoolOffset: isSpooled(m.body) ? m.body.offset : 0,
      smtputf8: m.smtputf8 ? 1 : 0,
      eightBit: m.eightBit ? 1 : 0,
      tlsRequired: m.tlsRequired ?? null,
      origin: m.origin,
      clientIp: m.clientIp ?? null,
      helo: m.helo ?? null,
      headerMessageId: m.headerMessageId ?? null,
      subject: m.subject ?? null,
    });
    const handedOff = new Map<Transport, JobRecipient[]>(active.map((t) => [t, []]));
    for (const r of m.recipients) {
      const mine = handedOff.get(r.transport);
      const { lastInsertRowid } = this.statements.insertRecipient.run(
        m.id,
        r.rcpt,
        r.address,
        r.transport,
        mine ? 'active' : 'queued',
        m.receivedAt,
        m.receivedAt,
      );
      mine?.push({ id: Number(lastInsertRowid), rcpt: r.rcpt, address: r.address, attempts: 0 });
    }
    const job = {
      queueId: m.id,
      sender: m.sender,
      receivedAt: m.receivedAt,
      size: bodySize(m.body),
      body: m.body,
      smtputf8: m.smtputf8,
      eightBit: m.eightBit,
      ...(m.tlsRequired ? { tlsRequired: m.tlsRequired } : {}),
    };
    return [...handedOff].map(([transport, recipients]) => ({ transport, job: { ...job, recipients } }));
  }

  /**
   * Marks the due recipients of up to `limit` messages active and returns one job per message.
   * The commit does not wait for the disk: a claim lost in a crash changes nothing, since recover()
   * turns every 'active' recipient back into 'queued' at the next start anyway.
   */
  claim(transport: Transport, now: number, limit: number): DeliveryJob[] {
    return this.withoutSync(() => this.transactions.claim.immediate(transport, now, limit));
  }

  private claimNow(transport: Transport, now: number, limit: number): DeliveryJob[] {
    const jobs: DeliveryJob[] = [];
    for (const id of this.statements.dueMessages.all({ transport, now, limit })) {
      const rows = this.statements.claimMessage.all({ messageId: id, transport, now });
      const m = this.statements.message.get(id);
      if (!m || rows.length === 0) continue;
      jobs.push({
        queueId: m.id,
        sender: m.sender,
        receivedAt: m.received_at,
        size: m.size,
        body: m.spool === null ? m.body : { kind: 'spooled', prefix: m.body, file: this.spool.path(m.spool), offset: m.spool_offset, size: m.size },
        smtputf8: m.smtputf8 === 1,
        eightBit: m.eight_bit === 1,
        ...(m.tls_required ? { tlsRequired: m.tls_required } : {}),
        recipients: rows.map((r) => ({ id: r.id, rcpt: r.rcpt, address: r.address, attempts: r.attempts })),
      });
    }
    return jobs;
  }

  /**
   * Records the outcome of each recipient of a job. Transient failures are rescheduled, or fail
   * once the message is older than the queue lifetime. When no recipient is left to try, the
   * message is deleted and `notice` may turn its failed recipients into a DSN; while recipients
   * wait longer than `delayWarningMs`, it may write one "delayed" notice. Notices are queued in
   * the same transaction, so a crash neither loses one nor sends one twice.
   */
  complete(job: DeliveryJob, outcomes: ReadonlyMap<number, Outcome>, now: number, options: CompleteOptions = {}): Finished | undefined {
    return this.completeAll([{ job, outcomes, now, options }])[0];
  }

  /** The outcomes of these jobs in one transaction; what finished, job by job. */
  private completeAll(batch: readonly JobOutcome[]): (Finished | undefined)[] {
    const notices: NewMessage[] = [];
    // No fsync: an outcome lost in a power failure means the delivery is made again (at least
    // once; Maildir delivery finds its file and stops). Keeps the disk off the event loop.
    const results = this.withoutSync(() => this.transactions.completeAll.immediate(batch, notices));
    this.handoff.notify(notices.flatMap((n) => n.recipients.map((r) => r.transport)));
    // A row gone: its spool file goes too (a crash before this leaves an orphan, swept at start).
    for (const [i, { job }] of batch.entries()) {
      if (results[i] && isSpooled(job.body)) void this.spool.remove(path.basename(job.body.file)).catch(() => undefined);
    }
    return results;
  }

  /**
   * complete(), with the outcomes of every job finished in the same tick written in one
   * transaction (one commit instead of one per job while many deliveries end together). When that
   * transaction fails, each job is tried in its own, so a failure reaches only the jobs it is for.
   */
  completeSoon(job: DeliveryJob, outcomes: ReadonlyMap<number, Outcome>, now: number, options: CompleteOptions = {}): Promise<Finished | undefined> {
    return new Promise((resolve, reject) => {
      if (this.outcomes.push({ job, outcomes, now, options, resolve, reject }) === 1) setImmediate(() => this.completePending());
    });
  }

  private completePending(): void {
    const batch = this.outcomes;
    this.outcomes = [];
    let results: (Finished | undefined)[];
    try {
      results = this.completeAll(batch);
    } catch {
      for (const p of batch) {
        try {
          p.resolve(this.complete(p.job, p.outcomes, p.now, p.options));
        } catch (err) {
          p.reject(err as Error);
        }
      }
      return;
    }
    for (const [i, p] of batch.entries()) p.resolve(results[i]);
  }

  private completeNow(
    job: DeliveryJob,
    outcomes: ReadonlyMap<number, Outcome>,
    now: number,
    options: CompleteOptions,
    notices: NewMessage[],
  ): Finished | undefined {
    const base = { queueId: job.queueId, sender: job.sender, receivedAt: job.receivedAt, body: job.body };
    // Every recipient of the message is in this job and delivered: the message goes (its recipient
    // rows with it, ON DELETE CASCADE) without marking each one delivered first.
    if (job.recipients.every((r) => outcomes.get(r.id)?.kind === 'delivered') && this.statements.recipientCount.get(job.queueId) === job.recipients.length) {
      this.statements.deleteMessage.run(job.queueId);
      return { ...base, failed: [] };
    }
    const deferred: FailedRecipient[] = [];
    for (const r of job.recipients) {
      const outcome: Outcome = outcomes.get(r.id) ?? { kind: 'transient', reason: 'courier returned no outcome for this recipient (bug)' };
      if (outcome.kind === 'delivered') {
        this.statements.delivered.run(outcome.detail ?? null, now, r.id);
      } else if (outcome.kind === 'permanent') {
        this.statements.failed.run(describe(outcome), now, r.id);
      } else if (expired(job.receivedAt, now, this.retry)) {
        this.statements.failed.run(`${describe(outcome)} (gave up: in the queue longer than the maximum lifetime)`, now, r.id);
      } else {
        this.statements.deferred.run(nextAttemptAt(r.attempts + 1, now, this.retry, options.jitter ?? 0), describe(outcome), now, r.id);
        deferred.push({ rcpt: r.rcpt, address: r.address, reason: describe(outcome) });
      }
    }
    if ((this.statements.open.get(job.queueId)?.n ?? 0) > 0) {
      const warnAfter = options.delayWarningMs ?? 0;
      if (deferred.length > 0 && warnAfter > 0 && now - job.receivedAt >= warnAfter && this.statements.markDelayNotice.run(job.queueId).changes === 1) {
        const notice = options.notice?.({ kind: 'delayed', ...base, recipients: deferred });
        if (notice) {
          this.insert(notice);
          notices.push(notice);
        }
      }
      return undefined;
    }
    const failed = this.statements.failedOf.all(job.queueId).map((f) => ({ rcpt: f.rcpt, address: f.address, reason: f.last_error ?? 'failed' }));
    this.statements.deleteMessage.run(job.queueId);
    const notice = failed.length > 0 ? options.notice?.({ kind: 'failed', ...base, recipients: failed }) : undefined;
    if (notice) {
      this.insert(notice);
      notices.push(notice);
    }
    return { ...base, failed };
  }

  /**
   * At start-up, before any listener: removes the spool files that no row names (written before a
   * crash that came before their commit, or by a session cut off in DATA). Returns how many.
   */
  sweepSpool(): Promise<number> {
    return this.spool.sweep(new Set(this.statements.spoolNames.all()));
  }

  /** After a crash or restart: work that was in flight is queued again (delivery is at least once). */
  /** Makes queued recipients due now: of one message, or (id undefined) of all. Returns how many. */
  retryNow(id: string | undefined, now: number): number {
    if (id === undefined) return this.statements.retryAll.run(now).changes;
    return this.statements.retryMessage.run(now, id).changes;
  }

  /** Holds a message's queued recipients until release() (Postfix's postsuper -h). */
  hold(id: string): number {
    return this.statements.hold.run(id).changes;
  }

  release(id: string, now: number): number {
    return this.statements.release.run(now, id).changes;
  }

  /** Removes a message and its recipients, and its spool file; no DSN is sent. */
  async delete(id: string): Promise<number> {
    const file = this.statements.spoolOf.get(id);
    const changes = this.statements.deleteMessage.run(id).changes;
    // After the commit: a crash in between leaves an orphan, which the daemon removes at start.
    if (changes > 0 && file) await this.spool.remove(file);
    return changes;
  }

  recover(): number {
    return this.statements.recover.run().changes;
  }

  nextDue(transport: Transport): number | undefined {
    return this.statements.nextDue.get(transport)?.t ?? undefined;
  }
}

export function describe(outcome: Exclude<Outcome, { kind: 'delivered' }>): string {
  const reply = outcome.reply ? ` (${outcome.reply.code}${outcome.reply.enhanced ? ` ${outcome.reply.enhanced}` : ''} ${outcome.reply.text})` : '';
  return `${outcome.enhanced ? `${outcome.enhanced} ` : ''}${outcome.reason}${reply}`;
}
