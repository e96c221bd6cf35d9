// Counts rspamd scans per hour, direction and action (table rspamd_stats, migration 007) for
// `sealpost status`: the last day's actions and errors. Counts in memory and writes them in one
// transaction at most every `flushMs` and at close, as inbound/session-stats.ts does. The only
// writer of that table; also reads it back.
import type { Db } from '../db/open.ts';
import type { StorageHealth } from '../db/storage-fault.ts';
import type { Logger } from '../log/log.ts';
import type { ScanDirection } from './verdict.ts';

const HOUR = 3_600_000;
const KEEP_MS = 30 * 24 * HOUR;

export interface RspamdStatsDeps {
  now: () => number;
  log: Logger;
  /** Longest time counts wait in memory, ms (default 2000). */
  flushMs?: number;
  storage?: StorageHealth;
}

export class RspamdStats {
  private readonly deps: RspamdStatsDeps;
  private readonly db: Db;
  private readonly add;
  private readonly prune;
  private pending = new Map<string, { hour: number; direction: string; action: string; scans: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(db: Db, deps: RspamdStatsDeps) {
    this.db = db;
    this.deps = deps;
    this.add = db.prepare(
      `INSERT INTO rspamd_stats (hour, direction, action, scans) VALUES (@hour, @direction, @action, @scans)
       ON CONFLICT (hour, direction, action) DO UPDATE SET scans = scans + excluded.scans`,
    );
    this.prune = db.prepare('DELETE FROM rspamd_stats WHERE hour < ?');
  }

  /** One scan: rspamd's action, or "error". */
  record(direction: ScanDirection, action: string): void {
    const hour = Math.floor(this.deps.now() / HOUR) * HOUR;
    const key = `${hour}|${direction}|${action}`;
    const count = this.pending.get(key) ?? { hour, direction, action, scans: 0 };
    count.scans++;
    this.pending.set(key, count);
    if (this.timer === undefined) {
      this.timer = setTimeout(() => this.flush(), this.deps.flushMs ?? 2000);
      this.timer.unref();
    }
  }

  /** Statistics never fail mail: an error is logged and the counts dropped. */
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
      if (this.deps.storage?.fault('rspamd stats', err)) return;
      this.deps.log.error({ err, event: 'daemon' }, 'could not record rspamd statistics');
    }
  }

  close(): void {
    this.flush();
  }
}

/** Scans per direction and action in the hours from the one holding `since` on. */
export function rspamdActions(db: Db, since: number): Record<string, Record<string, number>> {
  const rows = db
    .prepare<[number], { direction: string; action: string; scans: number }>(
      'SELECT direction, action, sum(scans) AS scans FROM rspamd_stats WHERE hour >= ? GROUP BY direction, action ORDER BY direction, action',
    )
    .all(Math.floor(since / HOUR) * HOUR);
  const out: Record<string, Record<string, number>> = {};
  for (const r of rows) (out[r.direction] ??= {})[r.action] = r.scans;
  return out;
}
