// Counters per hour for a statistics table (session_stats, rspamd_stats): counted in memory and
// written in one transaction at most every `flushMs` and at close, so an event costs no fsync of
// its own; a crash loses at most the last few seconds of counts. Rows older than 30 days go at
// each flush. Statistics never fail mail: a write error is logged (a full disk once per episode,
// through StorageHealth) and those counts dropped.
import type { Statement } from 'better-sqlite3';
import type { Logger } from '../log/log.ts';
import type { Db } from './open.ts';
import type { StorageHealth } from './storage-fault.ts';

export const HOUR = 3_600_000;
const KEEP_MS = 30 * 24 * HOUR;

export interface HourlyCountsDeps {
  now: () => number;
  log: Logger;
  /** Longest time counts wait in memory, ms (default 2000). */
  flushMs?: number;
  /** The daemon's view of the disk: a full one is logged once per episode there, not per flush. */
  storage?: StorageHealth;
}

export interface HourlyTable {
  /** The table, with an `hour` column (unix ms at the start of the hour). */
  name: string;
  /** INSERT … ON CONFLICT … DO UPDATE adding one pending count (named parameters). */
  upsert: string;
  /** The storage-fault label ("session stats") and what the error record says could not be recorded. */
  fault: string;
  what: string;
}

export class HourlyCounts<C extends { hour: number }> {
  private readonly db: Db;
  private readonly table: HourlyTable;
  private readonly deps: HourlyCountsDeps;
  private readonly add: Statement<[C]>;
  private readonly prune: Statement<[number]>;
  private pending = new Map<string, C>();
  private timer: NodeJS.Timeout | undefined;

  constructor(db: Db, table: HourlyTable, deps: HourlyCountsDeps) {
    this.db = db;
    this.table = table;
    this.deps = deps;
    this.add = db.prepare<[C]>(table.upsert);
    this.prune = db.prepare<[number]>(`DELETE FROM ${table.name} WHERE hour < ?`);
  }

  /** The pending count under `key` (made by `fresh` the first time) for the caller to add to; the flush is armed. */
  count(key: string, fresh: () => C): C {
    let count = this.pending.get(key);
    if (!count) {
      count = fresh();
      this.pending.set(key, count);
    }
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.deps.flushMs ?? 2000);
      this.timer.unref();
    }
    return count;
  }

  /** Writes the counts gathered so far. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const counts = [...this.pending.values()];
    this.pending = new Map();
    try {
      this.db.transaction(() => {
        for (const c of counts) this.add.run(c);
        this.prune.run(this.deps.now() - KEEP_MS);
      })();
      this.deps.storage?.ok();
    } catch (err) {
      if (this.deps.storage?.fault(this.table.fault, err)) return;
      this.deps.log.error({ err, event: 'daemon' }, `could not record ${this.table.what}`);
    }
  }
}

/** The start of the hour holding `at`. */
export function hourOf(at: number): number {
  return Math.floor(at / HOUR) * HOUR;
}
