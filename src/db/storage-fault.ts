// A full or failing disk under data_dir: which errors mean it, one log record when an episode
// starts and one when it ends, and the backoff before the next try. The queue keeps its rows and
// tries again; new mail is answered 452 4.3.1 meanwhile (RFC 5321 §4.2.2, RFC 3463 §3.4: 4.3.1
// "mail system full"), never a crash.
import { type Logger, mailLog } from '../log/log.ts';

/**
 * SQLITE_FULL and every SQLITE_IOERR_* (https://sqlite.org/rescode.html: a write, fsync, shm
 * growth or truncate the file system refused), and the same from plain file writes.
 */
export function isStorageFault(err: unknown): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  if (typeof code !== 'string') return false;
  return code === 'SQLITE_FULL' || code.startsWith('SQLITE_IOERR') || code === 'ENOSPC' || code === 'EDQUOT' || code === 'EIO';
}

export interface StorageHealthDeps {
  log: Logger;
  now: () => number;
  /** New mail is refused for this long after the last fault (the next MAIL FROM after it tries again). */
  refuseMs?: number;
  /** First wait before a store call is tried again; doubles per failure up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Called once when an episode ends (e.g. to put the start-up reserve back). */
  recovered?: () => void;
  /** Called at every storage fault (e.g. to tell the session processes, which answer 452 too). */
  faulted?: (where: string, err: unknown) => void;
  /**
   * Which errors are faults to wait out (default isStorageFault), and what the records say of
   * them: the PostgreSQL queue's health counts its connection faults (queue/pg/faults.ts).
   */
  isFault?: (err: unknown) => boolean;
  failingText?: string;
  recoveredText?: string;
  /**
   * Any answer ends an episode, a read too (a database over the network: it answered, so it is
   * back). Default false: on a full disk a read that writes nothing proves nothing.
   */
  readsHeal?: boolean;
}

/** The daemon's one view of the disk under data_dir, shared by the queue workers and the listeners. */
export class StorageHealth {
  private readonly deps: StorageHealthDeps;
  private episode: { since: number; where: string; faults: number } | undefined;
  private lastFaultAt = 0;

  constructor(deps: StorageHealthDeps) {
    this.deps = deps;
  }

  /**
   * Records a failed store call: true if `err` is a storage fault (the caller retries later),
   * false if it is something else (a bug: the caller lets it go up). Logs once per episode.
   */
  fault(where: string, err: unknown): boolean {
    if (!(this.deps.isFault ?? isStorageFault)(err)) return false;
    const now = this.deps.now();
    this.lastFaultAt = now;
    this.deps.faulted?.(where, err);
    if (this.episode) {
      this.episode.faults++;
      return true;
    }
    this.episode = { since: now, where, faults: 1 };
    const e = err as { code?: string; message?: string };
    mailLog(
      this.deps.log,
      'storage',
      { state: 'failing', where, ...(e.code ? { code: e.code } : {}), ...(e.message ? { error: e.message } : {}) },
      this.deps.failingText ?? 'the disk under data_dir refuses writes (full?); the queue keeps its messages and retries, new mail gets 452 4.3.1',
      'error',
    );
    return true;
  }

  /** A store call went through: ends an episode (logged once, with how long it lasted). */
  ok(): void {
    const episode = this.episode;
    if (!episode) return;
    this.episode = undefined;
    mailLog(
      this.deps.log,
      'storage',
      { state: 'recovered', where: episode.where, faults: episode.faults, ms: this.deps.now() - episode.since },
      this.deps.recoveredText ?? 'the disk under data_dir takes writes again',
    );
    this.deps.recovered?.();
  }

  /** A call that wrote nothing still ends an episode (see StorageHealthDeps.readsHeal). */
  get readsHeal(): boolean {
    return this.deps.readsHeal === true;
  }

  /** In an episode. */
  get failing(): boolean {
    return this.episode !== undefined;
  }

  /** New mail should get 452 4.3.1 now: a fault was seen within refuseMs. */
  refusing(): boolean {
    return this.episode !== undefined && this.deps.now() - this.lastFaultAt < (this.deps.refuseMs ?? 5000);
  }

  /**
   * Runs a write now, or (the disk refuses it) again with backoff until it goes through, e.g.
   * recover() at start-up on a full disk. Other errors are thrown. Returns a stop for the retries.
   */
  untilWritten(where: string, write: () => void): () => void {
    let timer: NodeJS.Timeout | undefined;
    let failures = 0;
    const attempt = (): void => {
      timer = undefined;
      try {
        write();
        if (failures > 0) this.ok();
      } catch (err) {
        if (!this.fault(where, err)) throw err;
        timer = setTimeout(attempt, this.backoffMs(++failures));
        timer.unref();
      }
    };
    attempt();
    return () => clearTimeout(timer);
  }

  /** The wait before try number `failures` + 1 of a call that failed `failures` times in a row. */
  backoffMs(failures: number): number {
    const min = this.deps.minBackoffMs ?? 1000;
    const max = this.deps.maxBackoffMs ?? 30_000;
    return Math.min(max, min * 2 ** Math.max(0, failures - 1));
  }
}
