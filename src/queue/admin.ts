// The operator's view of the queue (list, show) for `sealpost queue`: reads only; the levers
// (retry, hold, release, delete) are the store's, the one writer of the queue tables.
import type { Db } from '../db/open.ts';

export interface QueuedRecipient {
  rcpt: string;
  address: string;
  transport: string;
  state: string;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  /** PostgreSQL ([store] kind = "postgres"): the node holding an active recipient's claim, and until when. */
  owner?: string;
  leaseUntil?: number;
}

export interface QueuedMessage {
  id: string;
  receivedAt: number;
  sender: string;
  size: number;
  origin: string;
  subject: string | null;
  messageId: string | null;
  /** RFC 8689: 'requiretls', 'no' (TLS-Required: No) or null. */
  tlsRequired: string | null;
  recipients: QueuedRecipient[];
}

/** Messages in one `queue list` unless --limit says otherwise. */
export const DEFAULT_LIST_LIMIT = 1000;

/** A page of `queue list`: the total in the queue and whether the page is cut. */
export interface QueuePage {
  /** Messages in the whole queue. */
  total: number;
  /** The id the page starts after (--after), or null from the start. */
  after: string | null;
  /** More messages follow this page. */
  more: boolean;
  /** The --after for the next page (the last id shown) when more follow, else null. */
  next: string | null;
  messages: QueuedMessage[];
}

interface MessageRow {
  id: string;
  received_at: number;
  sender: string;
  size: number;
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
  next_attempt_at: number;
  last_error: string | null;
}

export class QueueAdmin {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /**
   * One page of the queue, oldest first: at most `limit` messages whose id sorts after `after`
   * (ids are time-ordered, see ids.ts, so paging by id is paging by arrival, and a page boundary
   * that was delivered meanwhile still works). Always says the total and whether more follow.
   */
  list(options: { limit?: number; after?: string } = {}): QueuePage {
    const limit = options.limit ?? DEFAULT_LIST_LIMIT;
    const after = options.after ?? '';
    // One more than asked for: whether the list is cut, without a second count.
    const messages = this.db
      .prepare<[string, number], MessageRow>(
        'SELECT id, received_at, sender, size, origin, subject, header_message_id, tls_required FROM messages WHERE id > ? ORDER BY id LIMIT ?',
      )
      .all(after, limit + 1);
    const more = messages.length > limit;
    if (more) messages.pop();
    const recipients = this.db
      .prepare<[string], RecipientRow>(
        `SELECT message_id, rcpt, address, transport, state, attempts, next_attempt_at, last_error FROM recipients
         WHERE message_id IN (SELECT value FROM json_each(?)) AND state IN ('queued', 'active', 'held', 'failed') ORDER BY id`,
      )
      .all(JSON.stringify(messages.map((m) => m.id)));
    const byMessage = new Map<string, QueuedRecipient[]>();
    for (const r of recipients) {
      const list = byMessage.get(r.message_id) ?? [];
      list.push(toRecipient(r));
      byMessage.set(r.message_id, list);
    }
    const total = this.db.prepare<[], { n: number }>('SELECT count(*) AS n FROM messages').get()?.n ?? 0;
    const shown = messages.map((m) => toMessage(m, byMessage.get(m.id) ?? []));
    return { total, after: options.after ?? null, more, next: more ? (shown.at(-1)?.id ?? null) : null, messages: shown };
  }

  show(id: string): QueuedMessage | undefined {
    const m = this.db
      .prepare<[string], MessageRow>('SELECT id, received_at, sender, size, origin, subject, header_message_id, tls_required FROM messages WHERE id = ?')
      .get(id);
    if (!m) return undefined;
    const recipients = this.db
      .prepare<[string], RecipientRow>(
        'SELECT message_id, rcpt, address, transport, state, attempts, next_attempt_at, last_error FROM recipients WHERE message_id = ? ORDER BY id',
      )
      .all(id);
    return toMessage(m, recipients.map(toRecipient));
  }
}

function toRecipient(r: RecipientRow): QueuedRecipient {
  return {
    rcpt: r.rcpt,
    address: r.address,
    transport: r.transport,
    state: r.state,
    attempts: r.attempts,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
  };
}

function toMessage(m: MessageRow, recipients: QueuedRecipient[]): QueuedMessage {
  return {
    id: m.id,
    receivedAt: m.received_at,
    sender: m.sender,
    size: m.size,
    origin: m.origin,
    subject: m.subject,
    messageId: m.header_message_id,
    tlsRequired: m.tls_required,
    recipients,
  };
}
