// The queue's size for the metrics, read at each scrape from the queue tables (read-only; the
// store stays their only writer): recipients by transport and state, messages, the oldest arrival.
import type { Db } from '../db/open.ts';

export interface QueueSizes {
  recipients: readonly { transport: string; state: string; count: number }[];
  messages: number;
  /** received_at (unix ms) of the oldest message; undefined when the queue is empty. */
  oldestReceivedAt: number | undefined;
}

/**
 * Cheap at any queue size the daemon handles: the recipients of queued messages only (delivered
 * messages leave the tables), and the oldest message by rowid (the order of arrival) instead of
 * a scan for min(received_at).
 */
export function queueSizeReader(db: Db): () => QueueSizes {
  const byState = db.prepare<[], { transport: string; state: string; count: number }>(
    `SELECT transport, state, count(*) AS count FROM recipients WHERE state IN ('queued', 'active', 'held') GROUP BY transport, state`,
  );
  const messages = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM messages');
  const oldest = db.prepare<[], { t: number }>('SELECT received_at AS t FROM messages ORDER BY rowid LIMIT 1');
  return () => ({
    recipients: byState.all(),
    messages: messages.get()?.n ?? 0,
    oldestReceivedAt: oldest.get()?.t,
  });
}
