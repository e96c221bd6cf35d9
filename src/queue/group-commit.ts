// Group commit of the queue's new messages. The items added in one tick commit in one
// transaction (one that fails is retried item by item, so a bad message does not fail its
// neighbours), without waiting for the disk; then one fdatasync of the WAL, in the thread pool,
// makes durable every transaction committed before it started, and the rounds committed meanwhile
// wait for the next one. An item is settled only once its round is on disk (the same guarantee as
// synchronous=FULL), and a commit's fsync never stalls the event loop.
import { type FileHandle, open } from 'node:fs/promises';

export interface GroupCommitDeps<T> {
  /** Commits the items in one transaction, without an fsync; throws if it cannot. */
  commit(items: T[]): void;
  /** An item that could not be committed. */
  failed(item: T, err: Error): void;
  /** Committed items, on disk now; `err`: the sync failed (their rows stay: delivered, maybe twice). */
  settle(round: T[], err: Error | undefined): void;
  /** The WAL to sync; undefined when a commit is durable as it returns (in-memory, rollback journal). */
  walPath: string | undefined;
  /** fdatasync by path (tests slow it down to watch the rounds form). */
  syncFile?: (file: string) => Promise<void>;
}

export class GroupCommit<T> {
  private readonly deps: GroupCommitDeps<T>;
  private pending: T[] = [];
  /** Committed, waiting for the next WAL sync. */
  private unsynced: T[] = [];
  private syncing = false;

  constructor(deps: GroupCommitDeps<T>) {
    this.deps = deps;
  }

  add(item: T): void {
    this.pending.push(item);
    if (this.pending.length === 1) setImmediate(() => this.flush());
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    const committed: T[] = [];
    try {
      this.deps.commit(batch);
      committed.push(...batch);
    } catch (err) {
      if (batch.length === 1 && batch[0] !== undefined) this.deps.failed(batch[0], err as Error);
      else {
        for (const item of batch) {
          try {
            this.deps.commit([item]);
            committed.push(item);
          } catch (e) {
            this.deps.failed(item, e as Error);
          }
        }
      }
    }
    if (!this.deps.walPath) {
      this.deps.settle(committed, undefined);
      return;
    }
    this.unsynced.push(...committed);
    this.sync();
  }

  private sync(): void {
    const walPath = this.deps.walPath;
    if (this.syncing || this.unsynced.length === 0 || !walPath) return;
    const round = this.unsynced;
    this.unsynced = [];
    this.syncing = true;
    void (this.deps.syncFile ?? syncFile)(walPath)
      .then(
        () => this.deps.settle(round, undefined),
        (err: Error) => this.deps.settle(round, err),
      )
      .finally(() => {
        this.syncing = false;
        this.sync();
      });
  }
}

/** fdatasync of a file by path (a fresh descriptor syncs the same inode); a file gone was checkpointed and removed. */
async function syncFile(file: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
