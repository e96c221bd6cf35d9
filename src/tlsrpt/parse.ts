// A TLS report (RFC 8460) that another domain sent about us, read and checked (pure): the bytes
// of a report part (gzip or plain JSON, §5.3) → the JSON → the report, validated against the
// schema of §4.4 with every problem listed by its key path. Its own minimal types: the receiving
// side needs only what it stores and summarizes.
import { gunzipSync } from 'node:zlib';

/** RFC 8460 §4.4 "policy-type". */
export type ReportPolicyType = 'sts' | 'tlsa' | 'no-policy-found';
export const REPORT_POLICY_TYPES: readonly ReportPolicyType[] = ['sts', 'tlsa', 'no-policy-found'];

/** One "failure-details" entry (RFC 8460 §4.4); absent strings are ''. */
export interface ReportFailure {
  /** RFC 8460 §4.3 result type ("certificate-host-mismatch", …); unknown ones are kept as sent. */
  resultType: string;
  sendingMtaIp: string;
  receivingMx: string;
  receivingIp: string;
  sessions: number;
  reasonCode: string;
}

export interface ReportPolicy {
  type: ReportPolicyType;
  domain: string;
  mxHosts: string[];
  successes: number;
  failures: number;
  details: ReportFailure[];
}

export interface TlsReport {
  organization: string;
  contact: string;
  reportId: string;
  /** Unix ms of "date-range". */
  start: number;
  end: number;
  policies: ReportPolicy[];
}

export type ParsedReport = { ok: true; report: TlsReport } | { ok: false; problems: string[] };

/** A report part inflates to at most this many bytes (a zip bomb is a problem, not an out-of-memory). */
export const MAX_REPORT_BYTES = 16 * 1024 * 1024;

/** RFC 8460 §5.3: the media types of a report part. */
export const REPORT_MEDIA_TYPES = ['application/tlsrpt+gzip', 'application/tlsrpt+json'] as const;

/**
 * Whether a MIME part holds a report: RFC 8460 §5.3's media types, or (as some senders label it)
 * a gzip/JSON/octet-stream part whose file name ends in .json or .json.gz (the §5.3 file name).
 */
export function isReportPart(contentType: string, filename: string | undefined): boolean {
  const type = contentType.toLowerCase().split(';')[0]?.trim() ?? '';
  if ((REPORT_MEDIA_TYPES as readonly string[]).includes(type)) return true;
  const generic = ['application/gzip', 'application/x-gzip', 'application/json', 'application/octet-stream'];
  return generic.includes(type) && /\.json(\.gz)?$/i.test(filename ?? '');
}

/** The bytes of a report part → the report. Gzip by its magic bytes (1f 8b), whatever the label says. */
export function decodeReport(content: Buffer): ParsedReport {
  let text: string;
  if (content[0] === 0x1f && content[1] === 0x8b) {
    try {
      text = gunzipSync(content, { maxOutputLength: MAX_REPORT_BYTES }).toString('utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return {
        ok: false,
        problems: [code === 'ERR_BUFFER_TOO_LARGE' ? `inflates to more than ${MAX_REPORT_BYTES} bytes` : `not valid gzip: ${(e as Error).message}`],
      };
    }
  } else text = content.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, problems: [`not JSON: ${(e as Error).message}`] };
  }
  return parseReport(json);
}

/** RFC 8460 §4.4: the JSON of a report → the report, or every problem with its key path. */
export function parseReport(json: unknown): ParsedReport {
  const problems: string[] = [];
  const c = new Checker(problems);
  if (!isObject(json)) return { ok: false, problems: ['the report is not a JSON object'] };
  const organization = c.string(json, 'organization-name', '');
  const contact = c.string(json, 'contact-info', '');
  const reportId = c.string(json, 'report-id', '');
  let start = Number.NaN;
  let end = Number.NaN;
  const range = json['date-range'];
  if (!isObject(range)) problems.push('date-range: required, an object with start-datetime and end-datetime');
  else {
    start = c.dateTime(range, 'start-datetime', 'date-range.');
    end = c.dateTime(range, 'end-datetime', 'date-range.');
    if (start > end) problems.push('date-range: end-datetime is before start-datetime');
  }
  const policies: ReportPolicy[] = [];
  const list = json.policies;
  if (!Array.isArray(list)) problems.push('policies: required, an array');
  else
    list.forEach((p, i) => {
      policies.push(readPolicy(c, p, `policies[${i}]`));
    });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, report: { organization, contact, reportId, start, end, policies } };
}

function readPolicy(c: Checker, p: unknown, at: string): ReportPolicy {
  const out: ReportPolicy = { type: 'no-policy-found', domain: '', mxHosts: [], successes: 0, failures: 0, details: [] };
  if (!isObject(p)) {
    c.problems.push(`${at}: must be an object with policy and summary`);
    return out;
  }
  const policy = p.policy;
  if (!isObject(policy)) c.problems.push(`${at}.policy: required, an object`);
  else {
    const type = c.string(policy, 'policy-type', `${at}.policy.`);
    if (type !== '' && !(REPORT_POLICY_TYPES as readonly string[]).includes(type))
      c.problems.push(`${at}.policy.policy-type: "${type}" is not one of ${REPORT_POLICY_TYPES.join(', ')}`);
    else out.type = type as ReportPolicyType;
    out.domain = c.string(policy, 'policy-domain', `${at}.policy.`).toLowerCase();
    c.optionalStrings(policy, 'policy-string', `${at}.policy.`);
    // "mx-host" is an array in §4.4; some senders write one string: taken as a list of one.
    const mx = policy['mx-host'];
    out.mxHosts = typeof mx === 'string' ? [mx] : c.optionalStrings(policy, 'mx-host', `${at}.policy.`);
  }
  const summary = p.summary;
  if (!isObject(summary)) c.problems.push(`${at}.summary: required, an object with the session counts`);
  else {
    out.successes = c.count(summary, 'total-successful-session-count', `${at}.summary.`);
    out.failures = c.count(summary, 'total-failure-session-count', `${at}.summary.`);
  }
  const details = p['failure-details'];
  if (details !== undefined) {
    if (!Array.isArray(details)) c.problems.push(`${at}.failure-details: must be an array`);
    else
      details.forEach((d, j) => {
        const where = `${at}.failure-details[${j}]`;
        if (!isObject(d)) {
          c.problems.push(`${where}: must be an object`);
          return;
        }
        const optional = (key: string): string => c.optionalString(d, key, `${where}.`);
        out.details.push({
          resultType: c.string(d, 'result-type', `${where}.`),
          sendingMtaIp: optional('sending-mta-ip'),
          receivingMx: optional('receiving-mx-hostname'),
          receivingIp: optional('receiving-ip'),
          sessions: c.count(d, 'failed-session-count', `${where}.`),
          // §4.4 names it "failure-reason-code"; its Appendix B example writes "failure-error-code".
          reasonCode: optional('failure-reason-code') || optional('failure-error-code'),
        });
      });
  }
  return out;
}

/** Field readers that note a problem (with its key path) and return a neutral value. */
class Checker {
  readonly problems: string[];
  constructor(problems: string[]) {
    this.problems = problems;
  }

  string(o: Record<string, unknown>, key: string, at: string): string {
    const v = o[key];
    if (typeof v === 'string' && v !== '') return v;
    this.problems.push(`${at}${key}: ${v === undefined ? 'required, ' : 'must be '}a non-empty string`);
    return '';
  }

  optionalString(o: Record<string, unknown>, key: string, at: string): string {
    const v = o[key];
    if (v === undefined || typeof v === 'string') return v ?? '';
    this.problems.push(`${at}${key}: must be a string`);
    return '';
  }

  optionalStrings(o: Record<string, unknown>, key: string, at: string): string[] {
    const v = o[key];
    if (v === undefined) return [];
    if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v;
    this.problems.push(`${at}${key}: must be an array of strings`);
    return [];
  }

  count(o: Record<string, unknown>, key: string, at: string): number {
    const v = o[key];
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
    this.problems.push(`${at}${key}: ${v === undefined ? 'required, ' : 'must be '}a whole number ≥ 0`);
    return 0;
  }

  /** RFC 8460 §4.4: "date-time" of RFC 3339 §5.6. */
  dateTime(o: Record<string, unknown>, key: string, at: string): number {
    const v = o[key];
    const ms = typeof v === 'string' && RFC3339.test(v) ? Date.parse(v) : Number.NaN;
    if (!Number.isNaN(ms)) return ms;
    this.problems.push(`${at}${key}: ${v === undefined ? 'required, ' : 'must be '}an RFC 3339 date-time such as "2026-12-01T00:00:00Z"`);
    return Number.NaN;
  }
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
