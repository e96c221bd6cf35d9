// One process's Prometheus metrics (npm prom-client): the counters fed by the mail-log records
// (counts.ts), rspamd's actions and DNS failures, the gauges read at scrape time (queue, certificate
// expiry) and Node's default metrics (event-loop lag, memory, CPU), all named sealpost_*. Each
// process makes one; aggregate.ts serves their sum.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { TLS_LEVELS } from '../config/types.ts';
import type { DnsAnswer } from '../dns/resolver.ts';
import type { MailEvent, MailEventFields, MailEventObserver } from '../log/log.ts';
import { AGENTS, AUTH_RESULTS, type CounterName, countsOf, dnsErrorLabels, HOP_RESULTS, type Labels, rspamdLabels } from './counts.ts';
import type { QueueSizes } from './queue-sizes.ts';

/** Past this many distinct users, sealpost_user_messages_total counts the others as user="other". */
export const MAX_USER_LABELS = 1000;

export interface MetricsDeps {
  now: () => number;
  /** The queue, read at each scrape (queue-sizes.ts); absent: no queue gauges. */
  queue?: () => QueueSizes;
  /** The certificates served (tls/store.ts snapshot), read at each scrape: name → notAfter (unix ms). */
  certificates?: () => ReadonlyMap<string, number>;
  /** Node's default metrics (process_*, nodejs_*, prefixed sealpost_). Default true. */
  defaultMetrics?: boolean;
}

export interface ProcessMetrics {
  readonly registry: Registry;
  /** The mail-log observer (log/log.ts observeMailEvents). */
  readonly observe: MailEventObserver;
  /** One rspamd scan (intake's record hook): its action, or "error". */
  rspamd(direction: string, action: string): void;
  /** One DNS answer of the daemon's resolver (dns/node-resolver.ts). */
  dnsAnswer(type: string, answer: DnsAnswer<unknown>): void;
}

const QUEUE_STATES = ['queued', 'active', 'held'] as const;
const QUEUE_TRANSPORTS = ['local', 'remote'] as const;
/** Seconds from arrival to delivery: a local delivery takes milliseconds, a deferred one hours or days. */
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 900, 3600, 4 * 3600, 86400, 5 * 86400];

export function createProcessMetrics(deps: MetricsDeps): ProcessMetrics {
  const registry = new Registry();
  const registers = [registry];
  const counter = (name: string, help: string, labelNames: string[] = []) => new Counter({ name, help, labelNames, registers });
  const counters: Record<CounterName, Counter> = {
    sessions: counter('sealpost_sessions_total', 'Inbound SMTP sessions ended, by listener and TLS version ("none": plaintext).', ['listener', 'tls']),
    received: counter('sealpost_messages_received_total', 'Messages accepted on a listener and committed to the queue, by listener.', ['listener']),
    userMessages: counter('sealpost_user_messages_total', 'Messages accepted from an authenticated submission user, by user.', ['user']),
    delivered: counter('sealpost_messages_delivered_total', 'Recipients delivered, by transport (smtp, relay, lmtp, maildir).', ['transport']),
    deferred: counter('sealpost_messages_deferred_total', 'Delivery attempts that failed transiently (retried later), per recipient, by transport.', [
      'transport',
    ]),
    bounced: counter('sealpost_messages_bounced_total', 'Recipients that failed permanently or expired, by transport.', ['transport']),
    hops: counter(
      'sealpost_outbound_hops_total',
      'Outbound attempts to one host, by TLS policy and TLS result (a downgrade is two: the failed handshake, then the plaintext retry).',
      ['policy', 'result'],
    ),
    acmeFailures: counter('sealpost_acme_renewal_failures_total', 'ACME issuances or renewals that failed.'),
    auth: counter('sealpost_auth_attempts_total', 'SMTP AUTH attempts by result (failed: wrong credentials; refused: locked out; busy: too many at once).', [
      'result',
    ]),
    dnsblRejections: counter('sealpost_dnsbl_rejections_total', 'Port-25 connections refused because DNS blocklists listed the client.'),
  };
  const latency = new Histogram({
    name: 'sealpost_delivery_latency_seconds',
    help: 'Seconds from the arrival of a message to the delivery of a recipient, by transport.',
    labelNames: ['transport'],
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const rspamd = counter('sealpost_rspamd_actions_total', 'rspamd scans by direction and action ("error": no usable answer).', ['direction', 'action']);
  const dnsErrors = counter('sealpost_dns_errors_total', 'DNS queries answered SERVFAIL or REFUSED, or not answered in time, by type.', ['type', 'error']);

  // Known label sets start at 0, so rate() and ratios work from the first scrape.
  for (const transport of AGENTS) {
    for (const name of ['delivered', 'deferred', 'bounced'] as const) counters[name].inc({ transport }, 0);
  }
  for (const policy of TLS_LEVELS) for (const result of HOP_RESULTS) counters.hops.inc({ policy, result }, 0);
  for (const result of AUTH_RESULTS) counters.auth.inc({ result }, 0);

  const { queue, certificates, now } = deps;
  if (queue) {
    let sizes: QueueSizes | undefined;
    // One read of the queue per scrape for the three gauges: the first collect reads, the others reuse it.
    const read = (): QueueSizes => {
      if (!sizes) {
        sizes = queue();
        queueMicrotask(() => {
          sizes = undefined;
        });
      }
      return sizes;
    };
    new Gauge({
      name: 'sealpost_queue_recipients',
      help: 'Recipients in the queue by transport (local, remote) and state (queued, active, held).',
      labelNames: ['transport', 'state'],
      registers,
      aggregator: 'max', // every process reads the same queue
      collect() {
        this.reset();
        for (const transport of QUEUE_TRANSPORTS) for (const state of QUEUE_STATES) this.set({ transport, state }, 0);
        for (const r of read().recipients) this.set({ transport: r.transport, state: r.state }, r.count);
      },
    });
    new Gauge({
      name: 'sealpost_queue_messages',
      help: 'Messages in the queue.',
      registers,
      aggregator: 'max',
      collect() {
        this.set(read().messages);
      },
    });
    new Gauge({
      name: 'sealpost_queue_oldest_message_age_seconds',
      help: 'Age of the oldest message in the queue (0 when it is empty).',
      registers,
      aggregator: 'max',
      collect() {
        const oldest = read().oldestReceivedAt;
        this.set(oldest === undefined ? 0 : Math.max(0, (now() - oldest) / 1000));
      },
    });
  }
  if (certificates) {
    new Gauge({
      name: 'sealpost_certificate_expiry_timestamp_seconds',
      help: 'When the certificate served for a name expires (notAfter, unix seconds).',
      labelNames: ['name'],
      registers,
      aggregator: 'max',
      collect() {
        this.reset();
        for (const [name, notAfter] of certificates()) this.set({ name }, Math.floor(notAfter / 1000));
      },
    });
  }
  if (deps.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'sealpost_' });

  const users = new Set<string>();
  const bounded = (labels: Labels): Labels => {
    const user = labels['user'];
    if (user === undefined || users.has(user)) return labels;
    if (users.size >= MAX_USER_LABELS) return { user: 'other' };
    users.add(user);
    return labels;
  };

  const observe = <E extends MailEvent>(event: E, fields: MailEventFields[E]): void => {
    for (const c of countsOf(event, fields)) {
      if (c.kind === 'latency') latency.observe(c.labels, c.seconds);
      else counters[c.name].inc(c.name === 'userMessages' ? bounded(c.labels) : c.labels);
    }
  };
  return {
    registry,
    observe,
    rspamd: (direction, action) => rspamd.inc(rspamdLabels(direction, action)),
    dnsAnswer(type, answer) {
      const labels = dnsErrorLabels(type, answer.kind);
      if (labels) dnsErrors.inc(labels);
    },
  };
}
