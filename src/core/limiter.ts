// Caps concurrent work in total and per destination (Postfix's default_process_limit and
// default_destination_concurrency_limit): outbound SMTP sessions, LMTP connections. First come,
// first served among waiters that can run.

export class Limiter {
  private readonly total: number;
  private readonly perKey: number;
  private running = 0;
  private readonly byKey = new Map<string, number>();
  private readonly waiters: { key: string; grant: () => void }[] = [];

  constructor(total: number, perKey: number) {
    this.total = total;
    this.perKey = perKey;
  }

  /** Resolves with a release function once a slot for `key` is free. */
  acquire(key: string): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = (): void => {
        this.running++;
        this.byKey.set(key, (this.byKey.get(key) ?? 0) + 1);
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.running--;
          const n = (this.byKey.get(key) ?? 1) - 1;
          if (n === 0) this.byKey.delete(key);
          else this.byKey.set(key, n);
          this.wake();
        });
      };
      if (this.fits(key)) grant();
      else this.waiters.push({ key, grant });
    });
  }

  /** Slots in use: in total, and for one key. */
  inUse(key?: string): number {
    return key === undefined ? this.running : (this.byKey.get(key) ?? 0);
  }

  private fits(key: string): boolean {
    return this.running < this.total && (this.byKey.get(key) ?? 0) < this.perKey;
  }

  private wake(): void {
    for (let i = 0; i < this.waiters.length && this.running < this.total; ) {
      const w = this.waiters[i] as { key: string; grant: () => void };
      if (this.fits(w.key)) {
        this.waiters.splice(i, 1);
        w.grant();
      } else i++;
    }
  }
}

/**
 * Slots of a destination that every node counts ([store] kind = "postgres": queue/pg/slots.ts),
 * taken after this process's Limiter slot, so the per-destination limit holds across nodes.
 */
export interface SharedSlots {
  /** Resolves with a release once one of `limit` slots for `key` is ours; rejects when they cannot be counted (the database is down). */
  acquire(key: string, limit: number): Promise<() => void>;
}
