// The aggregate report of one policy domain for one UTC day (RFC 8460 §4), pure: the day's
// attempts classified (classify.ts) one at a time, counted per policy applied (an MTA-STS policy,
// an MX host's TLSA records, none found), failures grouped by result type and by sending IP, MX
// host and receiving IP.
import type { AttemptRecord } from '../outbound/attempts-store.ts';
import { classifyAttempt } from './classify.ts';
import type { FailureDetails, PolicyResult, PolicyType, ReportPolicy, TlsReport } from './report.ts';

const DAY_MS = 86_400_000;

/** The UTC day that holds `ms`: [start, end) in unix ms, and its name YYYY-MM-DD. */
export function utcDay(ms: number): { day: string; start: number; end: number } {
  const start = Math.floor(ms / DAY_MS) * DAY_MS;
  return { day: new Date(start).toISOString().slice(0, 10), start, end: start + DAY_MS };
}

export interface ReportInput {
  domain: string;
  /** The UTC day reported on (utcDay). */
  start: number;
  end: number;
  organization: string;
  contact: string;
  reportId: string;
  /** The domain's attempts that started in [start, end). */
  attempts: readonly AttemptRecord[];
}

/** RFC 8461 §3.2: the policy file's lines, as the report quotes them (RFC 8460 §4.3 "policy-string"). */
export function stsPolicyLines(sts: NonNullable<AttemptRecord['stsPolicy']>): string[] {
  return ['version: STSv1', `mode: ${sts.mode}`, ...sts.mx.map((mx) => `mx: ${mx}`), `max_age: ${sts.maxAge}`];
}

interface Group {
  policy: ReportPolicy;
  success: number;
  failure: number;
  details: Map<string, FailureDetails>;
}

/**
 * One domain's day, counted attempt by attempt (memory: one entry per policy and per failure
 * kind and host, never the attempts themselves).
 */
export class DayTally {
  readonly domain: string;
  private readonly groups = new Map<string, Group>();

  constructor(domain: string) {
    this.domain = domain;
  }

  /** Counts one attempt to this domain (classify.ts says for what). */
  add(a: AttemptRecord): void {
    const verdict = classifyAttempt(a);
    if (verdict.session === 'none') return;
    // DANE's policy is per MX host: its TLSA RRset (RFC 7672 §2.2), one group per host and record set.
    const tlsa = verdict.policy === 'tlsa' ? (a.dane?.records ?? []) : [];
    const key =
      a.stsPolicy && verdict.policy === 'sts' ? `sts ${a.stsPolicy.id}` : verdict.policy === 'tlsa' ? `tlsa ${a.mx} ${tlsa.join(',')}` : verdict.policy;
    let group = this.groups.get(key);
    if (!group) {
      const policy: ReportPolicy =
        a.stsPolicy && verdict.policy === 'sts'
          ? { 'policy-type': 'sts', 'policy-string': stsPolicyLines(a.stsPolicy), 'policy-domain': this.domain, 'mx-host': [...a.stsPolicy.mx] }
          : verdict.policy === 'tlsa'
            ? { 'policy-type': 'tlsa', ...(tlsa.length > 0 ? { 'policy-string': [...tlsa] } : {}), 'policy-domain': this.domain, 'mx-host': [a.mx] }
            : { 'policy-type': verdict.policy, 'policy-domain': this.domain };
      group = { policy, success: 0, failure: 0, details: new Map() };
      this.groups.set(key, group);
    }
    if (verdict.session === 'success') {
      group.success++;
      return;
    }
    group.failure++;
    const detailKey = [verdict.result, a.source ?? '', a.mx, a.ip].join('|');
    const known = group.details.get(detailKey);
    if (known) known['failed-session-count']++;
    else
      group.details.set(detailKey, {
        'result-type': verdict.result,
        ...(a.source ? { 'sending-mta-ip': a.source } : {}),
        ...(a.mx ? { 'receiving-mx-hostname': a.mx } : {}),
        ...(a.ip ? { 'receiving-ip': a.ip } : {}),
        'failed-session-count': 1,
        ...(reason(a, verdict.policy) ? { 'failure-reason-code': reason(a, verdict.policy)?.slice(0, 200) } : {}),
      });
  }

  /** Whether any TLS session was counted (else there is nothing to report). */
  get empty(): boolean {
    return this.groups.size === 0;
  }

  /** The report, or undefined when the day had no TLS session to the domain's MX hosts. */
  report(meta: Omit<ReportInput, 'domain' | 'attempts'>): TlsReport | undefined {
    if (this.groups.size === 0) return undefined;
    const policies: PolicyResult[] = [...this.groups.values()].map((g) => ({
      policy: g.policy,
      summary: { 'total-successful-session-count': g.success, 'total-failure-session-count': g.failure },
      ...(g.details.size > 0 ? { 'failure-details': [...g.details.values()] } : {}),
    }));
    return {
      'organization-name': meta.organization,
      'date-range': { 'start-datetime': rfc3339(meta.start), 'end-datetime': rfc3339(meta.end) },
      'contact-info': meta.contact,
      'report-id': meta.reportId,
      policies,
    };
  }
}

/** The report of a list of attempts (DayTally in one go), or undefined when it has no TLS session. */
export function buildReport(input: ReportInput): TlsReport | undefined {
  const tally = new DayTally(input.domain);
  for (const a of input.attempts) tally.add(a);
  return tally.report(input);
}

/** Our words for a failure, for "failure-reason-code": the policy problem (DANE's or MTA-STS's), the certificate error, or the attempt's error. */
function reason(a: AttemptRecord, policy: PolicyType): string | undefined {
  if (policy === 'tlsa') return a.dane?.error ?? a.tls?.error ?? a.error;
  return (!a.stsPolicy ? a.stsProblem?.detail : undefined) ?? a.tls?.error ?? a.error;
}

/** RFC 8460 §4.4 date-time (RFC 3339), whole seconds, UTC: "2026-12-01T00:00:00Z". */
function rfc3339(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}
