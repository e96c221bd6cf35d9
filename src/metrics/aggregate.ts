// The text one /metrics scrape serves: the metrics of every process of the daemon summed by
// prom-client's AggregatorRegistry (counters and histograms added; the queue and certificate
// gauges, which every process reads alike, by max). Today the daemon is one process, one source;
// each process added later hands its registry's getMetricsAsJSON() in as one more source.
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';

/** One process's metrics, as its registry.getMetricsAsJSON() gives them. */
export type MetricsSource = () => Promise<MetricObjectWithValues<MetricValue<string>>[]>;

export interface Scrape {
  contentType: string;
  body: string;
}

/**
 * prom-client's default metrics that are gauges named *_total, which Prometheus's conventions (and
 * `promtool check metrics`) refuse; their per-type siblings (sealpost_nodejs_active_handles{type}…) stay.
 */
const NOT_SERVED = new Set(['sealpost_nodejs_active_handles_total', 'sealpost_nodejs_active_requests_total', 'sealpost_nodejs_active_resources_total']);

export async function scrapeAll(sources: readonly MetricsSource[]): Promise<Scrape> {
  const each = await Promise.all(sources.map(async (source) => (await source()).filter((m) => !NOT_SERVED.has(m.name))));
  const aggregated = AggregatorRegistry.aggregate(each);
  return { contentType: aggregated.contentType, body: await aggregated.metrics() };
}
