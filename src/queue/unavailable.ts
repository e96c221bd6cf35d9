// The queue database does not answer (PostgreSQL down or unreachable): the error a store throws
// then, marked by its code so that it keeps its meaning across the session processes' IPC
// (cluster/protocol.ts keeps an error's code). Intake answers it 451 4.3.0 "queue database
// unavailable" (RFC 3463 §3.4: 4.3.0, other mail system status), never 250.
export const QUEUE_UNAVAILABLE = 'SEALPOST_QUEUE_UNAVAILABLE';

export class QueueUnavailable extends Error {
  readonly code = QUEUE_UNAVAILABLE;

  constructor(cause: unknown) {
    super(`queue database unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export function isQueueUnavailable(err: unknown): boolean {
  return (err as { code?: unknown } | null | undefined)?.code === QUEUE_UNAVAILABLE;
}
