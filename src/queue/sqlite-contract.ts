// The embedded SQLite queue store (store.ts) behind the asynchronous queue-store contract
// (contract.ts): each call is the synchronous store's, its result wrapped in a promise, so the
// SQLite path does no extra work (complete: completeSoon, the outcomes of a tick in one transaction); counts() is one read of the recipients table.
import type { Statement } from 'better-sqlite3';
import type { DeliveryJob, Outcome } from '../core/delivery.ts';
import type { Db } from '../db/open.ts';
import type { QueueCounts, QueueStoreContract } from './contract.ts';
import type { JobTaker } from './handoff.ts';
import type { NewMessage, Transport } from './message.ts';
import type { CompleteOptions, Finished, QueueStore } from './store.ts';

export class SqliteQueueStoreContract implements QueueStoreContract {
  private readonly store: QueueStore;
  private readonly db: Db;
  private readonly states: Statement<[], { state: string; n: number }>;
  private readonly messages: Statement<[], { n: number }>;

  constructor(store: QueueStore, db: Db) {
    this.store = store;
    this.db = db;
    this.states = db.prepare(`SELECT state, count(*) AS n FROM recipients WHERE state IN ('queued', 'active', 'held') GROUP BY state`);
    this.messages = db.prepare('SELECT count(*) AS n FROM messages');
  }

  enqueue(message: NewMessage): Promise<void> {
    return this.store.enqueue(message);
  }

  onEnqueued(listener: (transport: Transport) => void): () => void {
    return this.store.onEnqueued(listener);
  }

  handOff(transport: Transport, taker: JobTaker): () => void {
    return this.store.handOff(transport, taker);
  }

  async claim(transport: Transport, now: number, limit: number): Promise<DeliveryJob[]> {
    return this.store.claim(transport, now, limit);
  }

  async complete(job: DeliveryJob, outcomes: ReadonlyMap<number, Outcome>, now: number, options?: CompleteOptions): Promise<Finished | undefined> {
    return this.store.completeSoon(job, outcomes, now, options);
  }

  async retryNow(id: string | undefined, now: number): Promise<number> {
    return this.store.retryNow(id, now);
  }

  async hold(id: string): Promise<number> {
    return this.store.hold(id);
  }

  async release(id: string, now: number): Promise<number> {
    return this.store.release(id, now);
  }

  delete(id: string): Promise<number> {
    return this.store.delete(id);
  }

  /** One node: everything active at start-up was this node's. */
  async recover(): Promise<number> {
    return this.store.recover();
  }

  async nextDue(transport: Transport): Promise<number | undefined> {
    return this.store.nextDue(transport);
  }

  async counts(): Promise<QueueCounts> {
    const counts: QueueCounts = { queued: 0, active: 0, held: 0, messages: this.messages.get()?.n ?? 0 };
    for (const { state, n } of this.states.all()) if (state === 'queued' || state === 'active' || state === 'held') counts[state] = n;
    return counts;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
