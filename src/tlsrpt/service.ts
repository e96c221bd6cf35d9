// TLSRPT sending (RFC 8460 §4-5): once a UTC day (at start-up, then at each day boundary of the
// injected clock) the previous day's attempts are grouped by destination domain; each domain that
// publishes `_smtp._tls` with rua= gets its aggregate report (aggregate.ts) by each URI
// (deliver.ts), at most once per domain and day (sent-store.ts claims the row first). Our own report
// messages' attempts are left out (no loops). Timers and DNS; the decisions are in the pure modules.

import type { DnsAnswer } from '../dns/resolver.ts';
import { type Logger, mailLog } from '../log/log.ts';
import type { AttemptRecord, AttemptsContract, AttemptsCursor } from '../outbound/attempts-store.ts';
import { DayTally, utcDay } from './aggregate.ts';
import { type DeliverDeps, deliverReport, packReport } from './deliver.ts';
import { parseTlsrptRecord, tlsrptName } from './rua.ts';
import type { TlsrptSent } from './sent-store.ts';

const DAY_MS = 86_400_000;

export interface TlsrptDeps extends DeliverDeps {
  organization: string;
  contact: string;
  attempts: Pick<AttemptsContract, 'page'>;
  /** The reports made; on PostgreSQL shared by the nodes, whose claim lets one node only send a domain's day. */
  store: TlsrptSent;
  resolveTxt: (name: string) => Promise<DnsAnswer<string>>;
  log: Logger;
  /** How long the records of reports made are kept (queue.attempts_retention, as the attempts). */
  retentionMs: number;
}

export interface RunSummary {
  day: string;
  domains: number;
  reports: number;
  failed: number;
}

/** Reports on the UTC day `dayStart` for every domain not done yet. Rejects only when the database does. */
export async function reportDay(dayStart: number, deps: TlsrptDeps): Promise<RunSummary> {
  const { day, start, end } = utcDay(dayStart);
  const done = await deps.store.doneFor(day);
  // Our report messages of the whole retention (a report may be retried for days: queue.max_lifetime).
  const ours = await deps.store.reportMessages(start - deps.retentionMs);
  // One pass over the day's rows, a page at a time (the loop serves others in between), counted as they come.
  const byDomain = new Map<string, DayTally>();
  for await (const a of dayAttempts(deps.attempts, start, end)) {
    if (ours.has(a.queueId) || done.has(a.domain)) continue;
    let tally = byDomain.get(a.domain);
    if (!tally) {
      tally = new DayTally(a.domain);
      byDomain.set(a.domain, tally);
    }
    tally.add(a);
  }
  const summary: RunSummary = { day, domains: byDomain.size, reports: 0, failed: 0 };
  for (const [domain, tally] of byDomain) {
    try {
      const outcome = await reportDomain(domain, tally, { day, start, end }, deps);
      if (outcome === 'sent') summary.reports++;
      else if (outcome === 'failed') summary.failed++;
    } catch (err) {
      summary.failed++;
      deps.log.error({ err, event: 'tlsrpt', domain, day }, 'TLS report failed');
    }
  }
  await deps.store.pruneBefore(start - deps.retentionMs);
  mailLog(deps.log, 'tlsrpt', { state: 'run', ...summary }, `TLS reports for ${day}: ${summary.reports} sent, ${summary.failed} failed`);
  return summary;
}

/** Rows per page of the day's attempts: a few milliseconds of the event loop each. */
const PAGE_ROWS = 2000;

async function* dayAttempts(attempts: Pick<AttemptsContract, 'page'>, start: number, end: number): AsyncGenerator<AttemptRecord> {
  let after: AttemptsCursor | undefined;
  for (;;) {
    const page = await attempts.page(start, end, after, PAGE_ROWS);
    yield* page.attempts;
    if (!page.next) return;
    after = page.next;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function reportDomain(
  domain: string,
  tally: DayTally,
  range: { day: string; start: number; end: number },
  deps: TlsrptDeps,
): Promise<'sent' | 'failed' | 'skipped'> {
  // A day without TLS sessions to its MX hosts (only DNS or connection failures): nothing to say.
  if (tally.empty) return 'skipped';
  const answer = await deps.resolveTxt(tlsrptName(domain));
  if (answer.kind !== 'records') return 'skipped';
  const record = parseTlsrptRecord(answer.records);
  if (!record.ok) return 'skipped';
  // RFC 8460 §5.3: the Subject's Report-ID is a msg-id (RFC 5322 §3.6.4: dot-atom "@" dot-atom, no ":").
  const reportId = `${range.day}.${domain}@${deps.hostname}`;
  const report = tally.report({ start: range.start, end: range.end, organization: deps.organization, contact: deps.contact, reportId });
  if (!report) return 'skipped';
  let sessions = 0;
  let failures = 0;
  for (const p of report.policies) {
    sessions += p.summary['total-successful-session-count'] + p.summary['total-failure-session-count'];
    failures += p.summary['total-failure-session-count'];
  }
  if (!(await deps.store.claim({ domain, day: range.day, reportId, at: deps.now(), sessions, failures }))) return 'skipped';
  const packed = packReport(report, deps.hostname, domain, range.start, range.end);
  const destinations = [];
  for (const destination of record.destinations) destinations.push(await deliverReport(destination, packed, report, domain, deps));
  const state = await deps.store.finish(domain, range.day, destinations);
  mailLog(
    deps.log,
    'tlsrpt',
    { state, domain, day: range.day, reportId, sessions, failures, destinations },
    state === 'sent' ? `TLS report for ${domain} sent` : `TLS report for ${domain} could not be sent`,
    state === 'sent' ? 'info' : 'warn',
  );
  return state;
}

export interface TlsrptScheduler {
  /** The clock jumped (test clocks): look again at which day it is. */
  wake(): void;
  stop(): Promise<void>;
}

/**
 * Runs reportDay for the day before now at start, then after each UTC midnight of deps.now. One
 * run at a time; the timer does not keep the process alive.
 */
export function startTlsrpt(deps: TlsrptDeps): TlsrptScheduler {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  let lastDay: string | undefined;
  let stopped = false;
  const tick = (): void => {
    if (stopped) return;
    const today = utcDay(deps.now());
    if (today.day !== lastDay) {
      lastDay = today.day;
      running = running
        .then(() => (stopped ? undefined : reportDay(today.start - DAY_MS, deps)))
        // A store fault (a full disk): this day's reports wait for the next start.
        .catch((err: unknown) => deps.log.error({ err, event: 'tlsrpt' }, 'TLS report run failed'));
    }
    clearTimeout(timer);
    // A second past midnight: the last attempts of the day are written by then.
    timer = setTimeout(tick, Math.max(1000, today.end - deps.now() + 1000));
    timer.unref();
  };
  tick();
  return {
    wake: tick,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
