// Group commit for a store over the network (PostgreSQL): the items added in one tick go in one
// transaction, one COMMIT (one WAL flush on the server) for all of them; the items added while a
// commit is in flight form the next round. A round that fails is retried item by item, so a bad
// message does not fail its neighbours. An item is settled only after its COMMIT returned.

export interface AsyncGroupCommitDeps<T> {
  /** Commits the items in one transaction (synchronous_commit on); rejects if it cannot. */
  commit(items: readonly T[]): Promise<void>;
  /** Committed and durable. */
  settle(round: readonly T[]): void;
  /** An item that could not be committed. */
  failed(item: T, err: Error): void;
}

export class AsyncGroupCommit<T> {
  private readonly deps: AsyncGroupCommitDeps<T>;
  private pending: T[] = [];
  private running = false;

  constructor(deps: AsyncGroupCommitDeps<T>) {
    this.deps = deps;
  }

  add(item: T): void {
    this.pending.push(item);
    if (!this.running && this.pending.length === 1) setImmediate(() => void this.run());
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        await this.round(batch);
      }
    } finally {
      this.running = false;
    }
  }

  private async round(batch: T[]): Promise<void> {
    try {
      await this.deps.commit(batch);
      this.deps.settle(batch);
      return;
    } catch (err) {
      if (batch.length === 1 && batch[0] !== undefined) {
        this.deps.failed(batch[0], err as Error);
        return;
      }
    }
    for (const item of batch) {
      try {
        await this.deps.commit([item]);
        this.deps.settle([item]);
      } catch (e) {
        this.deps.failed(item, e as Error);
      }
    }
  }
}
