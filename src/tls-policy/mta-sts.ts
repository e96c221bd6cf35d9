// MTA-STS (RFC 8461) protocol rules (pure): the _mta-sts TXT record, the policy file, and which
// MX hosts a policy allows. Fetching lives in sts-fetch.ts, caching in sts-cache.ts.
import { nameMatches } from '../tls/names.ts';

export type StsMode = 'enforce' | 'testing' | 'none';

export interface StsPolicy {
  mode: StsMode;
  /** MX patterns: "mx.example.com" or "*.example.com" (RFC 8461 §3.2). */
  mx: string[];
  /** Seconds, at most 31557600 (RFC 8461 §3.2). */
  maxAge: number;
}

export const STS_MAX_AGE_LIMIT = 31_557_600;

/**
 * RFC 8461 §3.1: the TXT records at _mta-sts.<domain>. Returns the policy id of the one record
 * that starts with "v=STSv1", or why there is none (no record, several, malformed).
 */
export function parseStsTxt(records: readonly string[]): { id: string } | { error: string } {
  const sts = records.filter((r) => /^v=STSv1\s*(;|$)/.test(r));
  if (sts.length === 0) return { error: 'no v=STSv1 record' };
  if (sts.length > 1) return { error: 'more than one v=STSv1 record (RFC 8461 §3.1: treat as no policy)' };
  const fields = new Map<string, string>();
  for (const part of (sts[0] ?? '').split(';')) {
    const m = /^\s*([A-Za-z0-9_.-]+)=([\x21-\x3a\x3c\x3e-\x7e]*)\s*$/.exec(part);
    if (m?.[1]) fields.set(m[1], m[2] ?? '');
  }
  const id = fields.get('id');
  if (id === undefined || !/^[A-Za-z0-9]{1,32}$/.test(id)) return { error: 'the record has no valid id (1-32 letters or digits)' };
  return { id };
}

/** RFC 8461 §3.2: "key: value" lines (CRLF or LF). Unknown keys are ignored. */
export function parseStsPolicy(text: string): StsPolicy | { error: string } {
  let version: string | undefined;
  let mode: string | undefined;
  let maxAge: string | undefined;
  const mx: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '') continue;
    const m = /^([A-Za-z0-9_]+)\s*:\s*(.*?)\s*$/.exec(line);
    if (!m?.[1]) return { error: `malformed line "${line.slice(0, 80)}"` };
    const [key, value = ''] = [m[1], m[2]];
    if (key === 'version') version ??= value;
    else if (key === 'mode') mode ??= value;
    else if (key === 'max_age') maxAge ??= value;
    else if (key === 'mx') mx.push(value.toLowerCase());
  }
  if (version !== 'STSv1') return { error: `version must be STSv1, got ${version === undefined ? 'none' : `"${version}"`}` };
  if (mode !== 'enforce' && mode !== 'testing' && mode !== 'none')
    return { error: `mode must be enforce, testing or none, got ${mode === undefined ? 'none' : `"${mode}"`}` };
  if (maxAge === undefined || !/^\d{1,10}$/.test(maxAge)) return { error: 'max_age must be a number of seconds' };
  const age = Number(maxAge);
  if (age > STS_MAX_AGE_LIMIT) return { error: `max_age ${age} exceeds ${STS_MAX_AGE_LIMIT}` };
  if (mode !== 'none' && mx.length === 0) return { error: `mode ${mode} needs at least one mx line` };
  const badMx = mx.find((p) => !/^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)+\.?$/.test(p));
  if (badMx !== undefined) return { error: `mx "${badMx}" is not a host name or *.domain pattern` };
  return { mode, mx, maxAge: age };
}

/** RFC 8461 §4.1: an MX host matches a pattern exactly or by a one-label wildcard. */
export function mxAllowed(host: string, policy: Pick<StsPolicy, 'mx'>): boolean {
  return policy.mx.some((pattern) => nameMatches(pattern, host));
}
