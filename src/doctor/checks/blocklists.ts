// Check 9 (pure): our IPs in DNSBLs and our domains in domain blocklists (RFC 5782). An answer in
// 127.0.0.2-127.0.0.255 lists us; Spamhaus's 127.255.255.x (252: typo, 254: query through a
// public resolver, 255: too many queries) and anything else are "could not check", not "listed".
import net from 'node:net';
import { expandIpv6 } from '../../dns/names.ts';
import { type DoctorFacts, describe, type Finding, ok, problem } from '../findings.ts';

/** RFC 5782 §2.1 and §2.4: the query name for an IP or a domain in a zone. */
export function dnsblQuery(subject: string, zone: string): string {
  if (net.isIPv4(subject)) return `${subject.split('.').reverse().join('.')}.${zone}`;
  if (net.isIPv6(subject)) return `${expandIpv6(subject).replace(/:/g, '').split('').reverse().join('.')}.${zone}`;
  return `${subject}.${zone}`;
}

export type DnsblVerdict = { kind: 'clean' } | { kind: 'listed'; codes: string[] } | { kind: 'unknown'; why: string };

export function interpret(answer: DoctorFacts['dnsbl'][number]['answer']): DnsblVerdict {
  if (answer.kind === 'nxdomain' || answer.kind === 'nodata') return { kind: 'clean' };
  if (answer.kind !== 'records') return { kind: 'unknown', why: describe(answer, 'records') };
  const codes = answer.records;
  if (codes.some((c) => c.startsWith('127.255.255.'))) {
    const code = codes.find((c) => c.startsWith('127.255.255.')) ?? '';
    const why =
      {
        '127.255.255.252': 'the query name was malformed',
        '127.255.255.254': 'the list refuses queries from public DNS resolvers',
        '127.255.255.255': 'the list refuses this resolver: too many queries',
      }[code] ?? 'the list refused the query';
    return { kind: 'unknown', why: `${code}: ${why}` };
  }
  const listed = codes.filter((c) => /^127\.0\.0\.(\d+)$/.test(c) && Number(c.split('.')[3]) >= 2);
  return listed.length > 0 ? { kind: 'listed', codes: listed } : { kind: 'unknown', why: `unexpected answer ${codes.join(', ')}` };
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
