// The hand-off of fresh messages from enqueue to the workers (in memory only): a worker with room
// reserves a slot before the commit and gets its job once the message is on disk, with no claim
// query and no reading of the body back; the workers of what waits to be claimed are told.
import type { DeliveryJob } from '../core/delivery.ts';
import type { NewMessage, Transport } from './message.ts';

/**
 * A worker as the store sees it: a fresh message can go to it straight from enqueue, its
 * recipients committed as active, with no claim query and no reading of the body back.
 */
export interface JobTaker {
  /** Holds a slot for a job that take() or release() will settle; false when there is no room. */
  reserve(): boolean;
  /** The job for a reserved slot; its recipients are active. */
  take(job: DeliveryJob): void;
  /** A reserved slot that gets no job (the message was not committed). */
  release(): void;
}

/** The workers that reserved a slot for one message, by transport. */
export type Reserved = ReadonlyMap<Transport, JobTaker>;

export class HandOff {
  private readonly takers = new Map<Transport, JobTaker>();
  private readonly listeners = new Set<(transport: Transport) => void>();

  /** Fresh messages for `transport` go straight to `taker` while it has room. */
  register(transport: Transport, taker: JobTaker): () => void {
    this.takers.set(transport, taker);
    return () => {
      if (this.takers.get(transport) === taker) this.takers.delete(transport);
    };
  }

  /** Called with the transport of every committed recipient group that waits to be claimed. */
  onEnqueued(listener: (transport: Transport) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A slot for each transport of the message whose worker has room; undefined when none has. */
  reserve(message: NewMessage): Reserved | undefined {
    let reserved: Map<Transport, JobTaker> | undefined;
    for (const t of new Set(message.recipients.map((r) => r.transport))) {
      const taker = this.takers.get(t);
      if (taker?.reserve()) (reserved ??= new Map()).set(t, taker);
    }
    return reserved;
  }

  notify(transports: readonly Transport[]): void {
    for (const t of new Set(transports)) for (const l of this.listeners) l(t);
  }
}
