// The operator's read-only view of the PostgreSQL queue (`sealpost store status`, `queue list|show`,
// `status`, `nodes`, from any node): schema version, the nodes and their last heartbeat, recipients
// by state, the messages page by page, and who holds the claims.
import type pg from 'pg';
import { DEFAULT_LIST_LIMIT, type QueuedMessage, type QueuedRecipient, type QueuePage } from '../admin.ts';
import type { QueueCounts } from '../contract.ts';
import { MIGRATIONS, schemaVersion } from './schema.ts';

export interface PgNode {
  name: string;
  startedAt: number;
  heartbeatAt: number;
  /** Recipients this node holds claims on, and the earliest of their leases' ends. */
  claims: number;
  leaseUntil: number | null;
}

export interface PgQueueStatus {
  schema: { version: number; known: number };
  /** Empty before the schema exists. */
  nodes: PgNode[];
  counts: QueueCounts | null;
}

export async function pgQueueStatus(pool: pg.Pool): Promise<PgQueueStatus> {
  const version = await schemaVersion(pool);
  const schema = { version, known: MIGRATIONS.length };
  if (version === 0) return { schema, nodes: [], counts: null };
  const nodes = await pool.query<{ name: string; started_at: string; heartbeat_at: string; claims: string; lease_until: string | null }>(
    `SELECT n.name, n.started_at, n.heartbeat_at, count(r.id) AS claims, min(r.lease_until) AS lease_until
     FROM nodes n LEFT JOIN recipients r ON r.owner = n.name AND r.state = 'active'
     GROUP BY n.name ORDER BY n.name`,
  );
  const states = await pool.query<{ state: string; n: string }>(
    `SELECT state, count(*) AS n FROM recipients WHERE state IN ('queued', 'active', 'held') GROUP BY state
     UNION ALL SELECT 'messages', count(*) FROM messages`,
  );
  const counts: QueueCounts = { queued: 0, active: 0, held: 0, messages: 0 };
  for (const { state, n } of states.rows) if (state === 'queued' || state === 'active' || state === 'held' || state === 'messages') counts[state] = Number(n);
  return {
    schema,
    nodes: nodes.rows.map((n) => ({
      name: n.name,
      startedAt: Number(n.started_at),
      heartbeatAt: Number(n.heartbeat_at),
      claims: Number(n.claims),
      leaseUntil: n.lease_until === null ? null : Number(n.lease_until),
    })),
    counts,
  };
}

interface MessageRow {
  id: string;
  received_at: string;
  sender: string;
  size: string;
  origin: string;
  subject: string | null;
  header_message_id: string | null;
  tls_required: string | null;
}

interface RecipientRow {
  message_id: string;
  rcpt: string;
  address: string;
  transport: string;
  state: string;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  owner: string | null;
  lease_until: string | null;
}

const MESSAGE_COLUMNS = 'id, received_at, sender, size, origin, subject, header_message_id, tls_required';
const RECIPIENT_COLUMNS = 'message_id, rcpt, address, transport, state, attempts, next_attempt_at, last_error, owner, lease_until';

/** `sealpost queue list` on PostgreSQL, as QueueAdmin.list (../admin.ts) pages it, with each claim's node and lease. */
export async function pgQueueList(pool: pg.Pool, options: { limit?: number; after?: string } = {}): Promise<QueuePage> {
  const limit = options.limit ?? DEFAULT_LIST_LIMIT;
  // COLLATE "C": ids compare byte by byte, as SQLite does (they are time-ordered, see ../ids.ts).
  const { rows } = await pool.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id > $1 COLLATE "C" ORDER BY id COLLATE "C" LIMIT $2`, [
    options.after ?? '',
    limit + 1,
  ]);
  const more = rows.length > limit;
  if (more) rows.pop();
  const recipients = await pool.query<RecipientRow>(
    `SELECT ${RECIPIENT_COLUMNS} FROM recipients WHERE message_id = ANY($1) AND state IN ('queued', 'active', 'held', 'failed') ORDER BY id`,
    [rows.map((m) => m.id)],
  );
  const byMessage = new Map<string, QueuedRecipient[]>();
  for (const r of recipients.rows) {
    const list = byMessage.get(r.message_id) ?? [];
    list.push(toRecipient(r));
    byMessage.set(r.message_id, list);
  }
  const total = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM messages')).rows[0]?.n ?? 0);
  const shown = rows.map((m) => toMessage(m, byMessage.get(m.id) ?? []));
  return { total, after: options.after ?? null, more, next: more ? (shown.at(-1)?.id ?? null) : null, messages: shown };
}

/** `sealpost queue show ID` on PostgreSQL. */
export async function pgQueueShow(pool: pg.Pool, id: string): Promise<QueuedMessage | undefined> {
  const m = (await pool.query<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages WHERE id = $1`, [id])).rows[0];
  if (!m) return undefined;
  const recipients = await pool.query<RecipientRow>(`SELECT ${RECIPIENT_COLUMNS} FROM recipients WHERE message_id = $1 ORDER BY id`, [id]);
  return toMessage(m, recipients.rows.map(toRecipient));
}

/** `sealpost status`'s queue section on PostgreSQL: messages, the oldest, recipients by transport and state. */
export async function pgQueueByTransport(
  pool: pg.Pool,
): Promise<{ messages: number; oldestReceivedAt: string | null; recipients: Record<string, Record<string, number>> }> {
  const m = (await pool.query<{ n: string; oldest: string | null }>('SELECT count(*) AS n, min(received_at) AS oldest FROM messages')).rows[0];
  const recipients: Record<string, Record<string, number>> = {};
  const byState = await pool.query<{ transport: string; state: string; n: string }>(
    'SELECT transport, state, count(*) AS n FROM recipients GROUP BY transport, state ORDER BY transport, state',
  );
  for (const r of byState.rows) (recipients[r.transport] ??= {})[r.state] = Number(r.n);
  return { messages: Number(m?.n ?? 0), oldestReceivedAt: m?.oldest ? new Date(Number(m.oldest)).toISOString() : null, recipients };
}

/** A node as `sealpost nodes` shows it: gone once silent for more than 3 leases (it died, hangs, or was stopped). */
export interface NodeView extends PgNode {
  heartbeatAgeMs: number;
  gone: boolean;
}

export function nodeViews(nodes: readonly PgNode[], now: number, leaseMs: number): NodeView[] {
  return nodes.map((n) => ({ ...n, heartbeatAgeMs: Math.max(0, now - n.heartbeatAt), gone: now - n.heartbeatAt > 3 * leaseMs }));
}

function toRecipient(r: RecipientRow): QueuedRecipient {
  return {
    rcpt: r.rcpt,
    address: r.address,
    transport: r.transport,
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: Number(r.next_attempt_at),
    lastError: r.last_error,
    ...(r.owner !== null ? { owner: r.owner } : {}),
    ...(r.lease_until !== null ? { leaseUntil: Number(r.lease_until) } : {}),
  };
}

function toMessage(m: MessageRow, recipients: QueuedRecipient[]): QueuedMessage {
  return {
    id: m.id,
    receivedAt: Number(m.received_at),
    sender: m.sender,
    size: Number(m.size),
    origin: m.origin,
    subject: m.subject,
    messageId: m.header_message_id,
    tlsRequired: m.tls_required,
    recipients,
  };
}

/** The metrics' queue gauges on PostgreSQL: recipients waiting by transport and state, messages, the oldest arrival. */
export async function pgQueueSizes(
  pool: pg.Pool,
): Promise<{ recipients: { transport: string; state: string; count: number }[]; messages: number; oldestReceivedAt: number | undefined }> {
  const byState = await pool.query<{ transport: string; state: string; count: string }>(
    `SELECT transport, state, count(*) AS count FROM recipients WHERE state IN ('queued', 'active', 'held') GROUP BY transport, state`,
  );
  const m = (await pool.query<{ n: string; oldest: string | null }>('SELECT count(*) AS n, min(received_at) AS oldest FROM messages')).rows[0];
  return {
    recipients: byState.rows.map((r) => ({ transport: r.transport, state: r.state, count: Number(r.count) })),
    messages: Number(m?.n ?? 0),
    oldestReceivedAt: m?.oldest ? Number(m.oldest) : undefined,
  };
}

/** The newest local recipients waiting or failed with an error (`sealpost status`'s last delivery errors), newest first. */
export async function pgLocalErrors(
  pool: pg.Pool,
  limit: number,
): Promise<{ updatedAt: number; queueId: string; address: string; state: string; lastError: string }[]> {
  const { rows } = await pool.query<{ updated_at: string; message_id: string; address: string; state: string; last_error: string }>(
    `SELECT updated_at, message_id, address, state, last_error FROM recipients
     WHERE transport = 'local' AND state IN ('queued', 'held', 'failed') AND last_error IS NOT NULL ORDER BY updated_at DESC LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({ updatedAt: Number(r.updated_at), queueId: r.message_id, address: r.address, state: r.state, lastError: r.last_error }));
}
