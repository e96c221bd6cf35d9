// The queue-store contract (types only): what the worker, intake and the operator's levers need
// of a queue store, asynchronous so that a store over the network (PostgreSQL, pg/store.ts) and
// the embedded one (SQLite, store.ts through sqlite-contract.ts) answer the same calls with the
// same meaning. test/integration/queue-store-contract.test.ts runs one suite against both.
import type { DeliveryJob, Outcome } from '../core/delivery.ts';
import type { JobTaker } from './handoff.ts';
import type { NewMessage, Transport } from './message.ts';
import type { CompleteOptions, Finished } from './store.ts';

/** Recipients by state (delivered and failed ones leave with their message). */
export interface QueueCounts {
  /** Waiting, due now or later. */
  queued: number;
  /** Claimed by a worker (of some node), being delivered. */
  active: number;
  /** Held by the operator until released. */
  held: number;
  messages: number;
}

export interface QueueStoreContract {
  /** Resolves once the message and its recipients are durable (the 250 may be sent). */
  enqueue(message: NewMessage): Promise<void>;
  /** Called with the transport of committed recipients that wait to be claimed (of this node, or of any node). */
  onEnqueued(listener: (transport: Transport) => void): () => void;
  /**
   * Optional (SQLite has it, PostgreSQL not): fresh messages for `transport` go straight from
   * enqueue to `taker` while it has room, their recipients committed as active (handoff.ts).
   */
  handOff?(transport: Transport, taker: JobTaker): () => void;
  /** The due recipients of up to `limit` messages, one job per message, claimed for this node. */
  claim(transport: Transport, now: number, limit: number): Promise<DeliveryJob[]>;
  /** Records each recipient's outcome; the message's end (and its DSN, via options.notice) when nothing is left. */
  complete(job: DeliveryJob, outcomes: ReadonlyMap<number, Outcome>, now: number, options?: CompleteOptions): Promise<Finished | undefined>;
  /** Queued recipients due now: of one message, or (undefined) of all. Returns how many. */
  retryNow(id: string | undefined, now: number): Promise<number>;
  /** Holds a message's queued recipients (Postfix's postsuper -h). Returns how many. */
  hold(id: string): Promise<number>;
  /** Held recipients queued again, due at `now` (postsuper -H). Returns how many. */
  release(id: string, now: number): Promise<number>;
  /** Removes a message and its recipients; no DSN (postsuper -d). Returns 1, or 0 if there was none. */
  delete(id: string): Promise<number>;
  /** At start-up: this node's work that was in flight when it stopped is queued again. Returns how many. */
  recover(): Promise<number>;
  /** When the next queued recipient of `transport` is due, or undefined if none waits. */
  nextDue(transport: Transport): Promise<number | undefined>;
  counts(): Promise<QueueCounts>;
  close(): Promise<void>;
}
