// The queue store on PostgreSQL ([store] kind = "postgres"), with the semantics of the SQLite one
// (../store.ts) for several nodes sharing one database: intake in one transaction per group commit
// (resolved only after COMMIT returns, synchronous_commit on); claims of due recipients with
// SELECT … FOR UPDATE SKIP LOCKED, each leased to this node (owner, lease_until) and renewed by a
// heartbeat while delivery runs; a claim whose lease ran out is taken over by the next claim of any
// node (at least once, never lost); outcomes recorded only while the lease is still ours; wake-ups
// of the other nodes with NOTIFY (pg/listen.ts). Bodies are bytea in the messages row.
import { readFile, unlink } from 'node:fs/promises';
import type pg from 'pg';
import { bodySize, isSpooled, type MessageBody } from '../../core/body.ts';
import type { DeliveryJob, JobRecipient, Outcome, TlsRequired } from '../../core/delivery.ts';
import type { QueueCounts, QueueStoreContract } from '../contract.ts';
import { HandOff } from '../handoff.ts';
import type { NewMessage, Transport } from '../message.ts';
import { expired, nextAttemptAt, type RetryPolicy } from '../schedule.ts';
import { type CompleteOptions, describe, type FailedRecipient, type Finished } from '../store.ts';
import { QueueUnavailable } from '../unavailable.ts';
import { isConnectionFault } from './faults.ts';
import { AsyncGroupCommit } from './group-commit.ts';
import { type Listener, listen } from './listen.ts';
import { MIGRATIONS, schemaVersion } from './schema.ts';

/** The database's schema is not the one this program was written for. */
export class SchemaMismatch extends Error {}

/** The NOTIFY channel of fresh work; the payload is "<node> <transport>". */
export const WAKE_CHANNEL = 'sealpost_queue';

export interface PgQueueStoreDeps {
  pool: pg.Pool;
  /** This node's name on its claims; unique among the nodes sharing the database. */
  node: string;
  retry: RetryPolicy;
  /** How long a claim is this node's without a renewal. */
  leaseMs: number;
  /** Unix ms (tests inject one); the heartbeat's clock. */
  now?: () => number;
  /** A client for LISTEN (its own connection); absent: no wake-ups from other nodes (polling only). */
  listenClient?: () => pg.Client;
  /** Renew this node's leases every leaseMs / 3 (default true; tests turn it off and call renew()). */
  heartbeat?: boolean;
}

interface Pending {
  message: NewMessage;
  body: Buffer;
  resolve: () => void;
  reject: (err: Error) => void;
}

interface ClaimedRow {
  id: string;
  message_id: string;
  rcpt: string;
  address: string;
  attempts: number;
}

interface MessageRow {
  id: string;
  received_at: string;
  sender: string;
  size: string;
  body: Buffer;
  smtputf8: boolean;
  eight_bit: boolean;
  tls_required: TlsRequired | null;
}

/** Due at $2: queued and its time has come, or claimed by a node whose lease ran out. */
const due = (r: string): string => `((${r}.state = 'queued' AND ${r}.next_attempt_at <= $2) OR (${r}.state = 'active' AND ${r}.lease_until < $2))`;

/**
 * The claim, one statement. The most overdue queued recipients, walked in the order of the due
 * index up to the limit (no sort of every due row), and the recipients whose lease ran out (their
 * node stopped renewing: it died or hangs), by the lease index; both locked with SKIP LOCKED, so
 * rows another node is claiming are passed over, not waited for. Then every due recipient of those
 * messages, so that one job carries all of a message's due recipients as with SQLite; each marked
 * active, ours, leased until $5.
 */
export const PG_CLAIM_SQL = `WITH expired AS (
    SELECT message_id FROM recipients
    WHERE transport = $1 AND state = 'active' AND lease_until < $2
    ORDER BY lease_until LIMIT $3 FOR UPDATE SKIP LOCKED
  ), oldest AS (
    SELECT message_id, next_attempt_at FROM recipients
    WHERE transport = $1 AND state = 'queued' AND next_attempt_at <= $2
    ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED
  ), picked AS (
    SELECT message_id FROM (SELECT message_id, 0 AS rank FROM expired UNION ALL SELECT message_id, next_attempt_at FROM oldest) d
    GROUP BY message_id ORDER BY min(rank) LIMIT $3
  ), claimable AS (
    SELECT r.id FROM recipients r JOIN picked p ON p.message_id = r.message_id
    WHERE r.transport = $1 AND ${due('r')}
    FOR UPDATE OF r SKIP LOCKED
  )
  UPDATE recipients SET state = 'active', owner = $4, lease_until = $5
  FROM claimable WHERE recipients.id = claimable.id
  RETURNING recipients.id, recipients.message_id, recipients.rcpt, recipients.address, recipients.attempts`;

export class PgQueueStore implements QueueStoreContract {
  private readonly deps: PgQueueStoreDeps;
  private readonly now: () => number;
  private readonly group: AsyncGroupCommit<Pending>;
  private readonly wake = new HandOff();
  private heartbeat: NodeJS.Timeout | undefined;
  /** Recipients claimed through this store whose outcome complete() has not been given yet: what the heartbeat renews. */
  private readonly inFlight = new Set<number>();
  private listener: Listener | undefined;

  private constructor(deps: PgQueueStoreDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.group = new AsyncGroupCommit<Pending>({
      commit: (batch) => this.insertAll(batch),
      settle: (round) => {
        for (const p of round) {
          p.resolve();
          // The body is in the row now: the local spool file has served (one left by a crash is swept at start).
          if (isSpooled(p.message.body)) void unlink(p.message.body.file).catch(() => undefined);
        }
        this.wake.notify(round.flatMap((p) => p.message.recipients.map((r) => r.transport)));
      },
      // The database did not answer: intake says so (451 4.3.0), the message was not committed.
      failed: (p, err) => p.reject(isConnectionFault(err) ? new QueueUnavailable(err) : err),
    });
  }

  /**
   * A store on a migrated database (pg/schema.ts): registers the node, starts LISTEN and the
   * heartbeat. Refuses (SchemaMismatch) a schema other than this program's: older (migrate first)
   * or newer (another node runs a newer release: upgrade this one).
   */
  static async open(deps: PgQueueStoreDeps): Promise<PgQueueStore> {
    const version = await schemaVersion(deps.pool);
    if (version !== MIGRATIONS.length) {
      throw new SchemaMismatch(
        version > MIGRATIONS.length
          ? `the PostgreSQL queue's schema is at version ${version}, newer than this Sealpost knows (${MIGRATIONS.length}): another node runs a newer release; upgrade this node before starting it`
          : `the PostgreSQL queue's schema is at version ${version}, this Sealpost needs ${MIGRATIONS.length}: run sealpost store init`,
      );
    }
    const store = new PgQueueStore(deps);
    const at = store.now();
    await deps.pool.query(
      `INSERT INTO nodes (name, started_at, heartbeat_at) VALUES ($1, $2, $2)
       ON CONFLICT (name) DO UPDATE SET started_at = $2, heartbeat_at = $2`,
      [deps.node, at],
    );
    if (deps.listenClient) {
      store.listener = await listen(
        deps.listenClient,
        WAKE_CHANNEL,
        (payload) => {
          const [node, transport] = payload.split(' ');
          if (node !== deps.node && (transport === 'local' || transport === 'remote')) store.wake.notify([transport]);
        },
        1000,
        // LISTEN again after the connection broke: what other nodes notified meanwhile was lost.
        () => store.wake.notify(['local', 'remote']),
      );
    }
    if (deps.heartbeat ?? true) {
      store.heartbeat = setInterval(() => void store.renew(store.now()).catch(() => undefined), Math.max(1000, Math.floor(deps.leaseMs / 3)));
      store.heartbeat.unref();
    }
    return store;
  }

  /**
   * The operator's levers (`sealpost queue retry|hold|release|delete` on any machine): no node
   * registered, no heartbeat, no LISTEN; the NOTIFYs of retry and release name `by`, so every
   * node wakes.
   */
  static forOperator(deps: Pick<PgQueueStoreDeps, 'pool' | 'retry' | 'leaseMs'> & { by: string }): PgQueueStore {
    return new PgQueueStore({ pool: deps.pool, retry: deps.retry, leaseMs: deps.leaseMs, node: deps.by, heartbeat: false });
  }

  /** Resolves once the COMMIT of the round holding this message returned. */
  async enqueue(message: NewMessage): Promise<void> {
    const body = await wholeBody(message.body);
    return new Promise((resolve, reject) => this.group.add({ message, body, resolve, reject }));
  }

  onEnqueued(listener: (transport: Transport) => void): () => void {
    return this.wake.onEnqueued(listener);
  }

  private async insertAll(batch: readonly Pending[]): Promise<void> {
    await this.transaction(async (client) => {
      for (const p of batch) await insert(client, p.message, p.body);
      await notifyOthers(
        client,
        this.deps.node,
        batch.flatMap((p) => p.message.recipients.map((r) => r.transport)),
      );
    });
  }

  async claim(transport: Transport, now: number, limit: number): Promise<DeliveryJob[]> {
    const { rows } = await this.deps.pool.query<ClaimedRow>(PG_CLAIM_SQL, [transport, now, limit, this.deps.node, now + this.deps.leaseMs]);
    if (rows.length === 0) return [];
    const byMessage = new Map<string, JobRecipient[]>();
    for (const r of rows.sort((a, b) => Number(a.id) - Number(b.id))) {
      const list = byMessage.get(r.message_id) ?? [];
      list.push({ id: Number(r.id), rcpt: r.rcpt, address: r.address, attempts: r.attempts });
      byMessage.set(r.message_id, list);
    }
    const messages = await this.deps.pool.query<MessageRow>(
      'SELECT id, received_at, sender, size, body, smtputf8, eight_bit, tls_required FROM messages WHERE id = ANY($1) ORDER BY received_at, id',
      [[...byMessage.keys()]],
    );
    // Renewed from here on; had the read of the messages failed (the database went away), the
    // claims would be left to run out and be claimed again.
    for (const r of rows) this.inFlight.add(Number(r.id));
    return messages.rows.map((m) => ({
      queueId: m.id,
      sender: m.sender,
      receivedAt: Number(m.received_at),
      size: Number(m.size),
      body: m.body,
      smtputf8: m.smtputf8,
      eightBit: m.eight_bit,
      ...(m.tls_required ? { tlsRequired: m.tls_required } : {}),
      recipients: byMessage.get(m.id) ?? [],
    }));
  }

  /**
   * The heartbeat: the claims this store handed out and has not been told the outcome of are
   * leased for another leaseMs. Returns how many. Not every active row of this node: a claim whose
   * outcome could not be recorded (the database went away during complete()), or whose claim
   * statement's answer was lost, is left to expire, and is claimed again (at least once), instead
   * of being renewed for as long as the node runs.
   */
  async renew(now: number): Promise<number> {
    const ids = [...this.inFlight];
    const { rowCount } =
      ids.length === 0
        ? { rowCount: 0 }
        : await this.deps.pool.query(`UPDATE recipients SET lease_until = $2 WHERE owner = $1 AND state = 'active' AND id = ANY($3::bigint[])`, [
            this.deps.node,
            now + this.deps.leaseMs,
            ids,
          ]);
    await this.deps.pool.query('UPDATE nodes SET heartbeat_at = $2 WHERE name = $1', [this.deps.node, now]);
    return rowCount ?? 0;
  }

  /**
   * Records outcomes as store.ts does, for the recipients still claimed by this node: a recipient
   * whose lease another node took over is that node's now (it delivers again: at least once). The
   * message row is locked first, so two nodes finishing recipients of one message at once agree on
   * which of them ends it (deletes it, writes the DSN).
   */
  async complete(job: DeliveryJob, outcomes: ReadonlyMap<number, Outcome>, now: number, options: CompleteOptions = {}): Promise<Finished | undefined> {
    try {
      return await this.record(job, outcomes, now, options);
    } finally {
      // Recorded or not, the heartbeat stops renewing these claims (renew()).
      for (const r of job.recipients) this.inFlight.delete(r.id);
    }
  }

  private async record(job: DeliveryJob, outcomes: ReadonlyMap<number, Outcome>, now: number, options: CompleteOptions): Promise<Finished | undefined> {
    const notices: NewMessage[] = [];
    // Not durable at COMMIT, as with SQLite: an outcome lost in a crash of the database means the
    // delivery is made again (at least once), and its DSN, written in the same transaction, with it.
    const finished = await this.transaction(async (client) => {
      const locked = await client.query('SELECT 1 FROM messages WHERE id = $1 FOR UPDATE', [job.queueId]);
      if (locked.rowCount === 0) return undefined;
      const ids: number[] = [];
      const states: string[] = [];
      const next: (number | null)[] = [];
      const errors: (string | null)[] = [];
      const deferred: (FailedRecipient & { id: number })[] = [];
      for (const r of job.recipients) {
        const outcome: Outcome = outcomes.get(r.id) ?? { kind: 'transient', reason: 'courier returned no outcome for this recipient (bug)' };
        ids.push(r.id);
        if (outcome.kind === 'delivered') {
          states.push('delivered');
          next.push(null);
          errors.push(outcome.detail ?? null);
        } else if (outcome.kind === 'permanent') {
          states.push('failed');
          next.push(null);
          errors.push(describe(outcome));
        } else if (expired(job.receivedAt, now, this.deps.retry)) {
          states.push('failed');
          next.push(null);
          errors.push(`${describe(outcome)} (gave up: in the queue longer than the maximum lifetime)`);
        } else {
          states.push('queued');
          next.push(nextAttemptAt(r.attempts + 1, now, this.deps.retry, options.jitter ?? 0));
          errors.push(describe(outcome));
          deferred.push({ id: r.id, rcpt: r.rcpt, address: r.address, reason: describe(outcome) });
        }
      }
      const updated = await client.query<{ id: string }>(
        `UPDATE recipients r SET state = u.state, attempts = r.attempts + 1, next_attempt_at = coalesce(u.next, r.next_attempt_at),
           last_error = u.err, updated_at = $5, owner = NULL, lease_until = NULL
         FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::text[]) AS u(id, state, next, err)
         WHERE r.id = u.id AND r.state = 'active' AND r.owner = $6 RETURNING r.id`,
        [ids, states, next, errors, now, this.deps.node],
      );
      // Every claim was taken over: the outcomes are the other node's to record.
      if (updated.rowCount === 0) return undefined;
      const ours = new Set(updated.rows.map((r) => Number(r.id)));
      const stillDeferred = deferred.filter((d) => ours.has(d.id)).map(({ id: _, ...d }) => d);
      const base = { queueId: job.queueId, sender: job.sender, receivedAt: job.receivedAt, body: job.body };
      const open = await client.query<{ n: string }>(`SELECT count(*) AS n FROM recipients WHERE message_id = $1 AND state IN ('queued', 'active', 'held')`, [
        job.queueId,
      ]);
      if (Number(open.rows[0]?.n ?? 0) > 0) {
        const warnAfter = options.delayWarningMs ?? 0;
        if (stillDeferred.length > 0 && warnAfter > 0 && now - job.receivedAt >= warnAfter) {
          const marked = await client.query('UPDATE messages SET delay_notice_sent = true WHERE id = $1 AND NOT delay_notice_sent', [job.queueId]);
          const notice = marked.rowCount === 1 ? options.notice?.({ kind: 'delayed', ...base, recipients: stillDeferred }) : undefined;
          if (notice) {
            await insert(client, notice, await wholeBody(notice.body));
            notices.push(notice);
          }
        }
        return undefined;
      }
      const failedRows = await client.query<{ rcpt: string; address: string; last_error: string | null }>(
        `SELECT rcpt, address, last_error FROM recipients WHERE message_id = $1 AND state = 'failed' ORDER BY id`,
        [job.queueId],
      );
      const failed = failedRows.rows.map((f) => ({ rcpt: f.rcpt, address: f.address, reason: f.last_error ?? 'failed' }));
      await client.query('DELETE FROM messages WHERE id = $1', [job.queueId]);
      const notice = failed.length > 0 ? options.notice?.({ kind: 'failed', ...base, recipients: failed }) : undefined;
      if (notice) {
        await insert(client, notice, await wholeBody(notice.body));
        notices.push(notice);
      }
      return { ...base, failed };
    }, false);
    const transports = notices.flatMap((n) => n.recipients.map((r) => r.transport));
    if (transports.length > 0) {
      this.wake.notify(transports);
      await notifyOthers(this.deps.pool, this.deps.node, transports);
    }
    return finished;
  }

  async retryNow(id: string | undefined, now: number): Promise<number> {
    const { rowCount } =
      id === undefined
        ? await this.deps.pool.query(`UPDATE recipients SET next_attempt_at = $1 WHERE state = 'queued'`, [now])
        : await this.deps.pool.query(`UPDATE recipients SET next_attempt_at = $1 WHERE state = 'queued' AND message_id = $2`, [now, id]);
    if ((rowCount ?? 0) > 0) await this.wakeAll();
    return rowCount ?? 0;
  }

  async hold(id: string): Promise<number> {
    const { rowCount } = await this.deps.pool.query(`UPDATE recipients SET state = 'held' WHERE state = 'queued' AND message_id = $1`, [id]);
    return rowCount ?? 0;
  }

  async release(id: string, now: number): Promise<number> {
    const { rowCount } = await this.deps.pool.query(`UPDATE recipients SET state = 'queued', next_attempt_at = $1 WHERE state = 'held' AND message_id = $2`, [
      now,
      id,
    ]);
    if ((rowCount ?? 0) > 0) await this.wakeAll();
    return rowCount ?? 0;
  }

  async delete(id: string): Promise<number> {
    const { rowCount } = await this.deps.pool.query('DELETE FROM messages WHERE id = $1', [id]);
    return rowCount ?? 0;
  }

  /** At start-up: this node's own claims (it stopped with them in flight) are queued again at once; other nodes' wait for their leases. */
  async recover(): Promise<number> {
    const { rowCount } = await this.deps.pool.query(
      `UPDATE recipients SET state = 'queued', owner = NULL, lease_until = NULL WHERE state = 'active' AND owner = $1`,
      [this.deps.node],
    );
    return rowCount ?? 0;
  }

  /** The next queued recipient's time, or the earliest lease of another node that may run out first. */
  async nextDue(transport: Transport): Promise<number | undefined> {
    const { rows } = await this.deps.pool.query<{ t: string | null }>(
      `SELECT least(
         (SELECT next_attempt_at FROM recipients WHERE state = 'queued' AND transport = $1 ORDER BY next_attempt_at LIMIT 1),
         (SELECT lease_until FROM recipients WHERE state = 'active' AND transport = $1 AND owner <> $2 ORDER BY lease_until LIMIT 1)) AS t`,
      [transport, this.deps.node],
    );
    const t = rows[0]?.t;
    return t === null || t === undefined ? undefined : Number(t);
  }

  async counts(): Promise<QueueCounts> {
    const { rows } = await this.deps.pool.query<{ state: string; n: string }>(
      `SELECT state, count(*) AS n FROM recipients WHERE state IN ('queued', 'active', 'held') GROUP BY state
       UNION ALL SELECT 'messages', count(*) FROM messages`,
    );
    const counts: QueueCounts = { queued: 0, active: 0, held: 0, messages: 0 };
    for (const { state, n } of rows) if (state === 'queued' || state === 'active' || state === 'held' || state === 'messages') counts[state] = Number(n);
    return counts;
  }

  /** Who holds each claim: for `sealpost queue` on any node. */
  async claims(): Promise<{ recipientId: number; queueId: string; owner: string; leaseUntil: number }[]> {
    const { rows } = await this.deps.pool.query<{ id: string; message_id: string; owner: string; lease_until: string }>(
      `SELECT id, message_id, owner, lease_until FROM recipients WHERE state = 'active' ORDER BY id`,
    );
    return rows.map((r) => ({ recipientId: Number(r.id), queueId: r.message_id, owner: r.owner, leaseUntil: Number(r.lease_until) }));
  }

  /** Stops the heartbeat and LISTEN; the pool is the caller's. */
  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    await this.listener?.close();
    this.listener = undefined;
  }

  private async wakeAll(): Promise<void> {
    this.wake.notify(['local', 'remote']);
    await notifyOthers(this.deps.pool, this.deps.node, ['local', 'remote']);
  }

  /** `durable` false: COMMIT returns before the WAL is flushed (synchronous_commit off for this transaction). */
  private async transaction<T>(fn: (client: pg.PoolClient) => Promise<T>, durable = true): Promise<T> {
    const client = await this.deps.pool.connect();
    // A connection that breaks between two statements (the server stopped) emits 'error' on the
    // client, which the pool listens to only while it is idle: without this the process crashed.
    // The statement in flight, or the next, fails with it and is handled there.
    const broken = (): void => undefined;
    client.on('error', broken);
    let failed: Error | undefined;
    try {
      await client.query(durable ? 'BEGIN' : 'BEGIN; SET LOCAL synchronous_commit TO off');
      const result = await fn(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      if (isConnectionFault(err)) failed = err as Error;
      else await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.off('error', broken);
      // A broken connection is closed, not given back to the pool.
      client.release(failed);
    }
  }
}

/** One message and its recipients (queued: the claims go through claim()). */
async function insert(client: pg.PoolClient, m: NewMessage, body: Buffer): Promise<void> {
  await client.query(
    `INSERT INTO messages (id, received_at, sender, size, body, smtputf8, eight_bit, tls_required, origin, client_ip, helo, header_message_id, subject)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      m.id,
      m.receivedAt,
      m.sender,
      bodySize(m.body),
      body,
      m.smtputf8,
      m.eightBit,
      m.tlsRequired ?? null,
      m.origin,
      m.clientIp ?? null,
      m.helo ?? null,
      m.headerMessageId ?? null,
      m.subject ?? null,
    ],
  );
  if (m.recipients.length === 0) return;
  await client.query(
    `INSERT INTO recipients (message_id, rcpt, address, transport, state, next_attempt_at, updated_at)
     SELECT $1, rcpt, address, transport, 'queued', $2, $2 FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS r(rcpt, address, transport, n) ORDER BY n`,
    [m.id, m.receivedAt, m.recipients.map((r) => r.rcpt), m.recipients.map((r) => r.address), m.recipients.map((r) => r.transport)],
  );
}

/** NOTIFY the other nodes' LISTEN of fresh work; inside a transaction it is sent at COMMIT. */
async function notifyOthers(client: pg.Pool | pg.PoolClient, node: string, transports: readonly Transport[]): Promise<void> {
  for (const t of new Set(transports)) await client.query('SELECT pg_notify($1, $2)', [WAKE_CHANNEL, `${node} ${t}`]);
}

/** The whole message as bytes: a spooled body is read from its file (the nodes share no disk). */
async function wholeBody(body: MessageBody): Promise<Buffer> {
  if (!isSpooled(body)) return body;
  const rest = await readFile(body.file);
  return Buffer.concat([body.prefix, rest.subarray(body.offset)]);
}
