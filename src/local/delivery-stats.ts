// Counts local deliveries (Maildir, LMTP) per hour, delivery agent and outcome (table
// local_delivery_stats, migration 014) for the status page and `sealpost status`: remote
// deliveries have their attempts rows, local ones nothing else per hour. Counts in memory and
// writes them in one transaction at most every `flushMs` and at close (db/hourly-counts.ts). The
// only writer of that table; also reads it back.
import { HourlyCounts, type HourlyCountsDeps, hourOf } from '../db/hourly-counts.ts';
import type { Db } from '../db/open.ts';

export type LocalDeliveryStatsDeps = HourlyCountsDeps;
export type LocalOutcome = 'delivered' | 'deferred' | 'bounced';
export const LOCAL_OUTCOMES: readonly LocalOutcome[] = ['delivered', 'deferred', 'bounced'];

export class LocalDeliveryStats {
  private readonly deps: LocalDeliveryStatsDeps;
  private readonly counts: HourlyCounts<{ hour: number; agent: string; outcome: string; recipients: number }>;

  constructor(db: Db, deps: LocalDeliveryStatsDeps) {
    this.deps = deps;
    this.counts = new HourlyCounts(
      db,
      {
        name: 'local_delivery_stats',
        upsert: `INSERT INTO local_delivery_stats (hour, agent, outcome, recipients) VALUES (@hour, @agent, @outcome, @recipients)
       ON CONFLICT (hour, agent, outcome) DO UPDATE SET recipients = recipients + excluded.recipients`,
        fault: 'local delivery stats',
        what: 'local delivery statistics',
      },
      deps,
    );
  }

  /** One recipient's outcome, by its delivery agent (maildir, lmtp). */
  record(outcome: LocalOutcome, agent: string): void {
    const hour = hourOf(this.deps.now());
    this.counts.count(`${hour}|${agent}|${outcome}`, () => ({ hour, agent, outcome, recipients: 0 })).recipients++;
  }

  flush(): void {
    this.counts.flush();
  }

  close(): void {
    this.counts.flush();
  }
}

/** Recipients per outcome in the hours from the one holding `since` on, in all and by agent. */
export function localDeliveries(db: Db, since: number): Record<LocalOutcome, number> & { byAgent: Record<string, Record<string, number>> } {
  const out = { delivered: 0, deferred: 0, bounced: 0, byAgent: {} as Record<string, Record<string, number>> };
  for (const r of db
    .prepare<[number], { agent: string; outcome: string; recipients: number }>(
      'SELECT agent, outcome, sum(recipients) AS recipients FROM local_delivery_stats WHERE hour >= ? GROUP BY agent, outcome ORDER BY agent, outcome',
    )
    .all(hourOf(since))) {
    if ((LOCAL_OUTCOMES as readonly string[]).includes(r.outcome)) out[r.outcome as LocalOutcome] += r.recipients;
    (out.byAgent[r.agent] ??= {})[r.outcome] = r.recipients;
  }
  return out;
}
