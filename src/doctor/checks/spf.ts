// Check 4 (pure): one SPF record (RFC 7208 §4.5), that authorizes each of our addresses (mailauth's
// evaluation, gathered), with at most 10 DNS-querying terms (§4.6.4), ending in -all or ~all.
import { spfRecord } from '../../records/records.ts';
import { type DoctorFacts, type DomainFacts, describe, type Finding, ok, problem, records } from '../findings.ts';

export function isSpf(txt: string): boolean {
  return /^v=spf1(\s|$)/i.test(txt.trim());
}

/** RFC 7208 §4.6.4: include, a, mx, ptr, exists and redirect each cost one DNS query, counted across includes. */
export function countLookups(domain: string, tree: Readonly<Record<string, string | null>>, seen = new Set<string>()): number {
  const record = tree[domain];
  if (!record || seen.has(domain)) return 0;
  seen.add(domain);
  let n = 0;
  for (const term of record.trim().split(/\s+/).slice(1)) {
    const m = /^[+?~-]?(include:|a\b|mx\b|ptr\b|exists:|redirect=)(.*)$/i.exec(term);
    if (!m) continue;
    n++;
    const kind = (m[1] ?? '').toLowerCase();
    if (kind === 'include:' || kind === 'redirect=') n += countLookups((m[2] ?? '').toLowerCase(), tree, seen);
  }
  return n;
}

/** The targets of include: and redirect= in a record, for the gatherer. */
export function spfTargets(record: string): string[] {
  return [...record.matchAll(/(?:^|\s)[+?~-]?(?:include:|redirect=)(\S+)/gi)].map((m) => (m[1] ?? '').toLowerCase()).filter((t) => !t.includes('%'));
}

export function checkSpf(f: DoctorFacts): Finding[] {
  return f.domains.flatMap((d) => checkDomain(f, d));
}

function checkDomain(f: DoctorFacts, d: DomainFacts): Finding[] {
  const want = `${d.name}. IN TXT "${spfRecord(f.addresses)}"`;
  const spf = records(d.txt).filter(isSpf);
  if (spf.length === 0) {
    const found = d.txt.kind === 'records' || d.txt.kind === 'nodata' || d.txt.kind === 'nxdomain' ? 'no SPF record' : describe(d.txt, 'TXT records');
    return [
      problem(
        'error',
        'spf.missing',
        d.name,
        found,
        'Gmail and Outlook.com require SPF or DKIM from every sender; without SPF, forged mail from your domain looks as good as yours',
        `publish ${want}`,
      ),
    ];
  }
  if (spf.length > 1) {
    return [
      problem(
        'error',
        'spf.multiple',
        d.name,
        `${spf.length} SPF records: ${spf.map((s) => `"${s}"`).join(' and ')}`,
        'two SPF records make every check a permerror (RFC 7208 §4.5): receivers treat your mail as unauthenticated',
        `merge them into one: ${want}`,
      ),
    ];
  }
  const record = spf[0] as string;
  const out: Finding[] = [];
  const lookups = countLookups(d.name, { ...d.spfTree, [d.name]: record });
  if (lookups > 10) {
    out.push(
      problem(
        'error',
        'spf.too-many-lookups',
        d.name,
        `${lookups} DNS-querying terms (include, a, mx, ptr, exists, redirect), counted through the includes`,
        'more than 10 make the SPF check a permerror (RFC 7208 §4.6.4)',
        `flatten the includes into ip4:/ip6: terms; for this server alone: ${want}`,
      ),
    );
  }
  for (const r of d.spfResults) {
    if (r.result !== 'pass') {
      out.push(
        problem(
          'error',
          'spf.not-authorized',
          `${d.name} from ${r.ip}`,
          `SPF says ${r.result} for ${r.ip}${r.comment ? ` (${r.comment})` : ''}: "${record}"`,
          'receivers see mail from this server as not authorized by your domain',
          `add ${r.ip.includes(':') ? 'ip6' : 'ip4'}:${r.ip} (or mx) before the all term: ${want}`,
        ),
      );
    }
  }
  const all = /(?:^|\s)([+?~-]?)all\s*$/i.exec(record);
  const qualifier = all ? all[1] || '+' : undefined;
  if (qualifier === '+' || qualifier === '?') {
    out.push(
      problem(
        'warning',
        'spf.weak-all',
        d.name,
        `the record ends in ${qualifier}all: "${record}"`,
        `${qualifier}all lets anyone send as ${d.name}: it protects nothing`,
        `end it with -all (or ~all while testing): ${want}`,
      ),
    );
  } else if (qualifier === undefined && !/redirect=/i.test(record)) {
    out.push(
      problem(
        'warning',
        'spf.no-all',
        d.name,
        `the record has no all term: "${record}"`,
        'without one, mail from anywhere gets neutral',
        `end it with -all: ${want}`,
      ),
    );
  }
  if (out.length === 0)
    out.push(ok('spf.pass', d.name, `"${record}" passes for ${d.spfResults.map((r) => r.ip).join(', ') || 'no address'} (${lookups} lookups)`));
  return out;
}
