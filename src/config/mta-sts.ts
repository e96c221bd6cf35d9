// The [mta_sts] section reader (pure): the MX hosts and max_age of the policies we host.
import { canonicalDomain } from '../core/address.ts';
import type { Reader, Table } from './fields.ts';
import { duration } from './sections.ts';
import type { MtaStsConfig } from './types.ts';

/** RFC 8461 §3.2: max_age is at most 31557600 seconds (about a year). */
const MAX_AGE_LIMIT_S = 31_557_600;

export function readMtaSts(r: Reader, t: Table, hostname: string): MtaStsConfig {
  r.unknownKeys(t, 'mta_sts', ['extra_mx', 'max_age']);
  const extraMx: string[] = [];
  r.stringList(t, 'extra_mx', 'mta_sts', []).forEach((text, i) => {
    // RFC 8461 §3.2: an mx value is a host name, or "*." and a domain (one label).
    const wildcard = text.startsWith('*.');
    const name = canonicalDomain(wildcard ? text.slice(2) : text);
    if (name === '' || name.startsWith('[') || !name.includes('.'))
      r.problem(`mta_sts.extra_mx[${i}]`, `"${text}" is not a host name such as "backup-mx.example.org" (or a pattern such as "*.example.org")`);
    else {
      const mx = wildcard ? `*.${name}` : name;
      if (mx !== hostname && !extraMx.includes(mx)) extraMx.push(mx);
    }
  });
  const maxAgeMs = duration(r, t, 'max_age', '1w', false, 'mta_sts');
  const maxAgeSeconds = Math.floor(maxAgeMs / 1000);
  if (maxAgeSeconds > MAX_AGE_LIMIT_S)
    r.problem('mta_sts.max_age', `is longer than RFC 8461 allows (${MAX_AGE_LIMIT_S} seconds, about a year); e.g. "1w" or "52w"`);
  return { extraMx, maxAgeSeconds: Math.min(maxAgeSeconds, MAX_AGE_LIMIT_S) };
}
