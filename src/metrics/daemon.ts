// The daemon's metrics, put together for main.ts (which loads this module only with listen.metrics):
// this process's registry over the queue and the certificate store, and the /metrics listener that
// serves the sum of every process's metrics (one source today). Opens sockets on start().
import type { ListenAddress } from '../config/types.ts';
import type { Db } from '../db/open.ts';
import type { Logger } from '../log/log.ts';
import { scrapeAll } from './aggregate.ts';
import { type MetricsListener, startMetricsListener } from './listener.ts';
import { type QueueSizes, queueSizeReader } from './queue-sizes.ts';
import { createProcessMetrics, type ProcessMetrics } from './registry.ts';

export interface DaemonMetricsDeps {
  addresses: readonly ListenAddress[];
  db: Db;
  /** The queue's sizes when the queue is not in `db` ([store] kind = "postgres": stores.ts keeps them fresh); absent: read from db. */
  queue?: () => QueueSizes;
  /** The certificates served: name → notAfter (unix ms), read at each scrape. */
  certificates: () => ReadonlyMap<string, number>;
  log: Logger;
  now: () => number;
}

export interface DaemonMetrics extends ProcessMetrics {
  /** Opens listen.metrics; rejects when an address cannot be bound. */
  start(): Promise<MetricsListener>;
}

export function createDaemonMetrics(deps: DaemonMetricsDeps): DaemonMetrics {
  const metrics = createProcessMetrics({ now: deps.now, queue: deps.queue ?? queueSizeReader(deps.db), certificates: deps.certificates });
  return {
    ...metrics,
    start: () =>
      startMetricsListener({
        addresses: deps.addresses,
        // Each process added later hands in its registry's JSON as one more source (aggregate.ts).
        scrape: () => scrapeAll([() => metrics.registry.getMetricsAsJSON()]),
        log: deps.log,
      }),
  };
}
