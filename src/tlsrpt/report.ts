// The RFC 8460 aggregate report model (types only, plus its fixed names): the JSON of a TLS report
// (§4.3, schema §4.4), its result types (§4.3.2), the report file name (§5.1) and media type (§5.3).
// Shared by the sending side (tlsrpt/aggregate.ts, mail.ts) and the receiving side (tlsrpt/parse.ts).

/** RFC 8460 §4.3.1: the policy that applied to the sessions. */
export type PolicyType = 'sts' | 'tlsa' | 'no-policy-found';

/** RFC 8460 §4.3.2: why a session failed. */
export const RESULT_TYPES = [
  // §4.3.2.1 negotiation failures
  'starttls-not-supported',
  'certificate-host-mismatch',
  'certificate-expired',
  'certificate-not-trusted',
  'validation-failure',
  // §4.3.2.2 policy failures: DANE
  'tlsa-invalid',
  'dnssec-invalid',
  'dane-required',
  // §4.3.2.2 policy failures: MTA-STS
  'sts-policy-fetch-error',
  'sts-policy-invalid',
  'sts-webpki-invalid',
] as const;

export type ResultType = (typeof RESULT_TYPES)[number];

export const POLICY_TYPES: readonly PolicyType[] = ['sts', 'tlsa', 'no-policy-found'];

/** RFC 8460 §4.4 "failure-details" items. */
export interface FailureDetails {
  'result-type': ResultType;
  'sending-mta-ip'?: string;
  'receiving-mx-hostname'?: string;
  'receiving-mx-helo'?: string;
  'receiving-ip'?: string;
  'failed-session-count': number;
  'additional-information'?: string;
  'failure-reason-code'?: string;
}

export interface ReportPolicy {
  'policy-type': PolicyType;
  /** The policy's text, one string per line (§4.3: for sts, the policy file's lines). */
  'policy-string'?: string[];
  'policy-domain': string;
  /** The MX host patterns of an sts policy. */
  'mx-host'?: string[];
}

export interface PolicyResult {
  policy: ReportPolicy;
  summary: { 'total-successful-session-count': number; 'total-failure-session-count': number };
  'failure-details'?: FailureDetails[];
}

/** RFC 8460 §4.4: one aggregate report, for one policy domain and one period. */
export interface TlsReport {
  'organization-name': string;
  /** RFC 3339 date-times; the period is [start, end). */
  'date-range': { 'start-datetime': string; 'end-datetime': string };
  'contact-info': string;
  'report-id': string;
  policies: PolicyResult[];
}

/** RFC 8460 §5.3: the media type of a gzip-compressed report (and of an HTTPS POST body, §5.2). */
export const TLSRPT_GZIP_TYPE = 'application/tlsrpt+gzip';

/**
 * RFC 8460 §5.1: "sender!policy-domain!begin-timestamp!end-timestamp[!unique-id].json.gz", the
 * timestamps in seconds since the epoch.
 */
export function reportFileName(submitter: string, policyDomain: string, beginMs: number, endMs: number, uniqueId?: string): string {
  const begin = Math.floor(beginMs / 1000);
  const end = Math.floor(endMs / 1000);
  return `${submitter}!${policyDomain}!${begin}!${end}${uniqueId ? `!${uniqueId}` : ''}.json.gz`;
}
