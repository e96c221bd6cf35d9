// Check 9 (pure): our IPs in DNSBLs and our domains in domain blocklists (RFC 5782). An answer in
// 127.0.0.2-127.0.0.255 lists us; Spamhaus's 127.255.255.x (252: typo, 254: query through a
// public resolver, 255: too many queries) and anything else are "could not check", not "listed".
import { ipv4Number } from '../../config/dnsbl.ts';
import type { DnsblZone } from '../../config/types.ts';
import { reversedAddress, zoneResult } from '../../inbound/dnsbl.ts';
import { type DoctorFacts, describe, type Finding, ok, problem } from '../findings.ts';

/** RFC 5782 §2.1 and §2.4: the query name for an IP or a domain in a zone (the inbound check's rules). */
export function dnsblQuery(subject: string, zone: string): string {
  return `${reversedAddress(subject) ?? subject}.${zone}`;
}

export type DnsblVerdict = { kind: 'clean' } | { kind: 'listed'; codes: string[] } | { kind: 'unknown'; why: string };

/** RFC 5782 §2.3: 127.0.0.2 and up list an address; read by the same rule as the inbound DNSBL check. */
const LISTING: DnsblZone = { zone: '', weight: 1, codes: [{ from: ipv4Number('127.0.0.2') ?? 0, to: ipv4Number('127.0.0.255') ?? 0 }] };

const REFUSED_WHY: Record<string, string> = {
  '127.255.255.252': 'the query name was malformed',
  '127.255.255.254': 'the list refuses queries from public DNS resolvers',
  '127.255.255.255': 'the list refuses this resolver: too many queries',
};

export function interpret(answer: DoctorFacts['dnsbl'][number]['answer']): DnsblVerdict {
  const result = zoneResult(LISTING, answer);
  if (result.kind === 'clean') return { kind: 'clean' };
  if (result.kind === 'listed') return { kind: 'listed', codes: answer.kind === 'records' ? [...answer.records] : [result.answer] };
  if (result.why === 'refused') {
    const code = result.answer ?? '';
    return { kind: 'unknown', why: `${code}: ${REFUSED_WHY[code] ?? 'the list refused the query'}` };
  }
  if (result.why === 'bad-answer') return { kind: 'unknown', why: `unexpected answer ${result.answer ?? ''}` };
  return { kind: 'unknown', why: describe(answer, 'records') };
}

export function checkBlocklists(f: DoctorFacts): Finding[] {
  return f.dnsbl.map((b) => {
    const subject = `${b.subject} in ${b.zone}`;
    const v = interpret(b.answer);
    if (v.kind === 'clean') return ok('dnsbl.clean', subject, 'not listed');
    if (v.kind === 'listed') {
      return problem(
        'error',
        'dnsbl.listed',
        subject,
        `listed (${v.codes.join(', ')})`,
        'receivers that use this list refuse or spam-folder your mail',
        `look ${b.subject} up on the list's website (${b.zone}) for the reason and its delisting form; fix the cause first (an open relay, a compromised account)`,
      );
    }
    return problem(
      'warning',
      'dnsbl.unknown',
      subject,
      `could not check: ${v.why}`,
      'the listing status is unknown',
      'use a local resolver that asks the lists itself (e.g. unbound on 127.0.0.1) in dns.servers, not a public one such as 8.8.8.8',
    );
  });
}

/** The lookups to make: each IP in each DNSBL, each domain in each domain blocklist. */
export function dnsblLookups(
  addresses: readonly string[],
  domains: readonly string[],
  ipZones: readonly string[],
  domainZones: readonly string[],
): { subject: string; zone: string }[] {
  return [
    ...addresses.flatMap((ip) => ipZones.map((zone) => ({ subject: ip, zone }))),
    ...domains.flatMap((d) => domainZones.map((zone) => ({ subject: d, zone }))),
  ];
}
