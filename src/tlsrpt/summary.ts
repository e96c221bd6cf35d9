// What the TLS reports we received say (pure): per reporting organization and UTC day the
// sessions that succeeded, the failures by result type (RFC 8460 §4.3) and the sending MTAs'
// addresses; the totals of the last days in one line; and whether a domain's MTA-STS policy can
// go from "testing" to "enforce" (RFC 8461 §5: under enforce, failing senders stop delivering).
import type { StoredPolicy } from './store.ts';

export const DAY_MS = 86_400_000;

export interface ReportDay {
  organization: string;
  /** UTC day the reports' date-range starts, YYYY-MM-DD. */
  day: string;
  reports: number;
  /** Our domains the reports are about. */
  domains: string[];
  successes: number;
  failures: number;
  /** Failed sessions per result type. */
  failuresByType: Record<string, number>;
  /** The sending MTAs' addresses of the failure details (RFC 8460 lists addresses only there). */
  sendingIps: string[];
}

export interface ReportTotals {
  /** Reporting organizations. */
  senders: number;
  reports: number;
  /** Sessions reported: successes plus failures. */
  sessions: number;
  failures: number;
}

/** The first ms of the UTC day `days - 1` days before the one holding `now`: "the last `days` days". */
export function sinceDays(now: number, days: number): number {
  return Math.floor(now / DAY_MS) * DAY_MS - (days - 1) * DAY_MS;
}

/** Per organization and day, days oldest first, organizations by name. */
export function reportDays(policies: readonly StoredPolicy[]): ReportDay[] {
  const days = new Map<string, ReportDay & { ids: Set<string> }>();
  for (const p of policies) {
    const day = new Date(p.start).toISOString().slice(0, 10);
    const key = `${day}\u0000${p.organization}`;
    let d = days.get(key);
    if (!d) {
      d = { organization: p.organization, day, reports: 0, domains: [], successes: 0, failures: 0, failuresByType: {}, sendingIps: [], ids: new Set() };
      days.set(key, d);
    }
    d.ids.add(p.reportId);
    if (!d.domains.includes(p.domain)) d.domains.push(p.domain);
    d.successes += p.successes;
    d.failures += p.failures;
    for (const f of p.details) {
      d.failuresByType[f.resultType] = (d.failuresByType[f.resultType] ?? 0) + f.sessions;
      if (f.sendingMtaIp !== '' && !d.sendingIps.includes(f.sendingMtaIp)) d.sendingIps.push(f.sendingMtaIp);
    }
  }
  return [...days.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, { ids, ...d }]) => ({ ...d, reports: ids.size }));
}

export function reportTotals(policies: readonly StoredPolicy[]): ReportTotals {
  const senders = new Set(policies.map((p) => p.organization));
  const reports = new Set(policies.map((p) => `${p.organization}\u0000${p.reportId}`));
  const failures = policies.reduce((n, p) => n + p.failures, 0);
  return { senders: senders.size, reports: reports.size, sessions: policies.reduce((n, p) => n + p.successes, 0) + failures, failures };
}

/** "TLS reports: 3 senders, 12,345 sessions, 0 failures" (the `sealpost status` line). */
export function totalsLine(t: ReportTotals, days: number): string {
  if (t.reports === 0) return `TLS reports: none in the last ${days} days`;
  const n = (x: number, one: string, many: string): string => `${x.toLocaleString('en-US')} ${x === 1 ? one : many}`;
  return `TLS reports: ${n(t.senders, 'sender', 'senders')}, ${n(t.sessions, 'session', 'sessions')}, ${n(t.failures, 'failure', 'failures')} (last ${days} days)`;
}

export type EnforceAdvice =
  | { kind: 'no-reports'; days: number }
  | { kind: 'safe'; days: number; reports: number; sessions: number }
  | { kind: 'failures'; days: number; reports: number; sessions: number; failures: number; byType: Record<string, number>; sendingIps: string[] };

/** Whether the reports about `domain` (those of the last `days` days) show it safe to enforce. */
export function enforceAdvice(domain: string, policies: readonly StoredPolicy[], days: number): EnforceAdvice {
  const about = policies.filter((p) => p.domain === domain);
  if (about.length === 0) return { kind: 'no-reports', days };
  const totals = reportTotals(about);
  if (totals.failures === 0) return { kind: 'safe', days, reports: totals.reports, sessions: totals.sessions };
  const byType: Record<string, number> = {};
  const sendingIps: string[] = [];
  for (const f of about.flatMap((p) => p.details)) {
    byType[f.resultType] = (byType[f.resultType] ?? 0) + f.sessions;
    if (f.sendingMtaIp !== '' && !sendingIps.includes(f.sendingMtaIp)) sendingIps.push(f.sendingMtaIp);
  }
  return { kind: 'failures', days, reports: totals.reports, sessions: totals.sessions, failures: totals.failures, byType, sendingIps };
}

/** The advice in one line, for `sealpost mta-sts show`. */
export function describeAdvice(a: EnforceAdvice, mode: 'testing' | 'enforce'): string {
  const now = mode === 'enforce' ? 'enforce' : 'switching to "enforce"';
  switch (a.kind) {
    case 'no-reports':
      return `no TLS reports about this domain in the last ${a.days} days: ${now} cannot be judged yet (reports arrive about a day after senders see the _smtp._tls record)`;
    case 'safe':
      return `${a.reports} TLS report${a.reports === 1 ? '' : 's'} in the last ${a.days} days, ${a.sessions.toLocaleString('en-US')} sessions, no failures: ${mode === 'enforce' ? 'enforce is working' : 'safe to switch to mta_sts = "enforce"'}`;
    case 'failures':
      return `${a.failures.toLocaleString('en-US')} of ${a.sessions.toLocaleString('en-US')} sessions failed in the last ${a.days} days (${formatByType(a.byType)}${a.sendingIps.length > 0 ? `; from ${a.sendingIps.join(', ')}` : ''}): ${mode === 'enforce' ? 'these senders cannot deliver under enforce' : 'not safe to enforce yet; fix these first (sealpost tls-report)'}`;
  }
}

export function formatByType(byType: Readonly<Record<string, number>>): string {
  const entries = Object.entries(byType);
  return entries.length === 0 ? 'no details' : entries.map(([type, n]) => `${type} ${n.toLocaleString('en-US')}`).join(', ');
}
