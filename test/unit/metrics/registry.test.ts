// One process's registry (src/metrics/registry.ts) served through the aggregator (aggregate.ts):
// the counts of mail-log records, the scrape-time gauges, the user label's bound, the listener's routes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, mailLog, observeMailEvents } from '../../../src/log/log.ts';
import { scrapeAll } from '../../../src/metrics/aggregate.ts';
import { route } from '../../../src/metrics/listener.ts';
import { createProcessMetrics, MAX_USER_LABELS } from '../../../src/metrics/registry.ts';

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('mail-log records are counted through the logger, whatever its level, children included', { timeout: 10_000 }, async () => {
  const metrics = createProcessMetrics({ now: () => 0, defaultMetrics: false });
  const log = createLogger('error', 'stdout');
  const child = log.child({ part: 'worker' });
  observeMailEvents(log, metrics.observe);
  mailLog(child, 'delivered', { transport: 'local', agent: 'maildir', delayMs: 250 });
  mailLog(log, 'deferred', { transport: 'remote', agent: 'smtp' });
  mailLog(log.child({ x: 1 }), 'session', { listener: 'mx', tls: { version: 'TLSv1.3' } });
  const { body } = await scrapeAll([() => metrics.registry.getMetricsAsJSON()]);
  assert.equal(sample(body, 'sealpost_messages_delivered_total{transport="maildir"}'), 1);
  assert.equal(sample(body, 'sealpost_messages_delivered_total{transport="smtp"}'), 0, 'known label sets start at 0');
  assert.equal(sample(body, 'sealpost_messages_deferred_total{transport="smtp"}'), 1);
  assert.equal(sample(body, 'sealpost_sessions_total{listener="mx",tls="TLSv1.3"}'), 1);
  assert.equal(sample(body, 'sealpost_delivery_latency_seconds_bucket{le="0.25",transport="maildir"}'), 1);
  assert.equal(sample(body, 'sealpost_delivery_latency_seconds_bucket{le="0.1",transport="maildir"}'), 0);
});

test('the queue and certificate gauges are read at each scrape', { timeout: 10_000 }, async () => {
  let reads = 0;
  const metrics = createProcessMetrics({
    now: () => 100_000,
    defaultMetrics: false,
    queue: () => {
      reads++;
      return { recipients: [{ transport: 'remote', state: 'queued', count: 3 }], messages: 2, oldestReceivedAt: 40_000 };
    },
    certificates: () => new Map([['mx.example.org', 1_800_000_000_500]]),
  });
  const { body } = await scrapeAll([() => metrics.registry.getMetricsAsJSON()]);
  assert.equal(sample(body, 'sealpost_queue_recipients{transport="remote",state="queued"}'), 3);
  assert.equal(sample(body, 'sealpost_queue_recipients{transport="local",state="held"}'), 0);
  assert.equal(sample(body, 'sealpost_queue_messages'), 2);
  assert.equal(sample(body, 'sealpost_queue_oldest_message_age_seconds'), 60);
  assert.equal(sample(body, 'sealpost_certificate_expiry_timestamp_seconds{name="mx.example.org"}'), 1_800_000_000);
  assert.equal(reads, 1, 'one read of the queue per scrape');
  await scrapeAll([() => metrics.registry.getMetricsAsJSON()]);
  assert.equal(reads, 2);
});

test('two processes are served as one sum', { timeout: 10_000 }, async () => {
  const a = createProcessMetrics({ now: () => 0, defaultMetrics: false });
  const b = createProcessMetrics({ now: () => 0, defaultMetrics: false });
  a.observe('auth', { result: 'failed', method: 'PLAIN', user: 'x', known: false, clientIp: '192.0.2.1', failures: 1, delayedMs: 0 });
  b.observe('auth', { result: 'failed', method: 'PLAIN', user: 'y', known: false, clientIp: '192.0.2.2', failures: 1, delayedMs: 0 });
  const { body } = await scrapeAll([() => a.registry.getMetricsAsJSON(), () => b.registry.getMetricsAsJSON()]);
  assert.equal(sample(body, 'sealpost_auth_attempts_total{result="failed"}'), 2);
});

test('the user label is bounded: users past the limit are counted as "other"', { timeout: 10_000 }, async () => {
  const metrics = createProcessMetrics({ now: () => 0, defaultMetrics: false });
  for (let i = 0; i <= MAX_USER_LABELS + 1; i++) metrics.observe('received', { listener: 'submission', user: `u${i}@example.org` });
  metrics.observe('received', { listener: 'submission', user: 'u0@example.org' });
  const { body } = await scrapeAll([() => metrics.registry.getMetricsAsJSON()]);
  assert.equal(sample(body, 'sealpost_user_messages_total{user="u0@example.org"}'), 2);
  assert.equal(sample(body, 'sealpost_user_messages_total{user="other"}'), 2);
  assert.equal(body.split('\n').filter((l) => l.startsWith('sealpost_user_messages_total{')).length, MAX_USER_LABELS + 1);
});

test('the listener serves GET and HEAD /metrics only', () => {
  const cases: [string, string, ReturnType<typeof route>][] = [
    ['GET', '/metrics', 'metrics'],
    ['HEAD', '/metrics', 'metrics'],
    ['GET', '/metrics?name[]=x', 'metrics'],
    ['POST', '/metrics', 'method-not-allowed'],
    ['GET', '/', 'not-found'],
    ['GET', '/metrics/', 'not-found'],
    ['GET', '/status', 'not-found'],
  ];
  for (const [method, url, want] of cases) assert.equal(route(method, url), want, `${method} ${url}`);
});
