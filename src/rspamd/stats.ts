// Counts rspamd scans per hour, direction and action (table rspamd_stats, migration 008) for
// `sealpost status`: the last day's actions and errors. Counts in memory and writes them in one
// transaction at most every `flushMs` and at close (db/hourly-counts.ts). The only
// writer of that table; also reads it back.
import { HourlyCounts, type HourlyCountsDeps, hourOf } from '../db/hourly-counts.ts';
import type { Db } from '../db/open.ts';
import type { ScanDirection } from './verdict.ts';

export type RspamdStatsDeps = HourlyCountsDeps;

export class RspamdStats {
  private readonly deps: RspamdStatsDeps;
  private readonly counts: HourlyCounts<{ hour: number; direction: string; action: string; scans: number }>;

  constructor(db: Db, deps: RspamdStatsDeps) {
    this.deps = deps;
    this.counts = new HourlyCounts(
      db,
      {
        name: 'rspamd_stats',
        upsert: `INSERT INTO rspamd_stats (hour, direction, action, scans) VALUES (@hour, @direction, @action, @scans)
       ON CONFLICT (hour, direction, action) DO UPDATE SET scans = scans + excluded.scans`,
        fault: 'rspamd stats',
        what: 'rspamd statistics',
      },
      deps,
    );
  }

  /** One scan: rspamd's action, or "error". */
  record(direction: ScanDirection, action: string): void {
    const hour = hourOf(this.deps.now());
    this.counts.count(`${hour}|${direction}|${action}`, () => ({ hour, direction, action, scans: 0 })).scans++;
  }

  flush(): void {
    this.counts.flush();
  }

  close(): void {
    this.counts.flush();
  }
}

/** Scans per direction and action in the hours from the one holding `since` on. */
export function rspamdActions(db: Db, since: number): Record<string, Record<string, number>> {
  const rows = db
    .prepare<[number], { direction: string; action: string; scans: number }>(
      'SELECT direction, action, sum(scans) AS scans FROM rspamd_stats WHERE hour >= ? GROUP BY direction, action ORDER BY direction, action',
    )
    .all(hourOf(since));
  const out: Record<string, Record<string, number>> = {};
  for (const r of rows) (out[r.direction] ??= {})[r.action] = r.scans;
  return out;
}
