// DNSBL decisions (pure): the name a client address is looked up under (RFC 5782 §2.1, §2.4),
// what one zone's A answer means, and the client's score over all zones (Postfix postscreen's
// weighted postscreen_dnsbl_sites and postscreen_dnsbl_threshold). An answer is a listing only
// inside the zone's codes; Spamhaus's 127.255.255.x ("query refused": public resolver, typing
// error, too many queries) and anything outside 127.0.0.0/8 (RFC 5782 §2.3; a resolver that
// rewrites NXDOMAIN) mean the zone is unavailable, never that the client is listed.
import net from 'node:net';
import { ipv4Number } from '../config/dnsbl.ts';
import type { DnsblZone } from '../config/types.ts';
import { reverseName } from '../dns/names.ts';
import type { DnsAnswer } from '../dns/resolver.ts';

/** The client's address as a DNSBL query prefix: IPv4 octets reversed, IPv6 nibbles reversed; undefined if unreadable. */
export function reversedAddress(ip: string): string | undefined {
  const address = bare(ip);
  if (net.isIPv4(address)) return address.split('.').reverse().join('.');
  if (!net.isIPv6(address)) return undefined;
  return reverseName(address).replace(/\.ip6\.arpa$/, '');
}

/** The PTR name of a client address (dns/names.ts), IPv4-mapped IPv6 as IPv4; undefined if unreadable. */
export function ptrName(ip: string): string | undefined {
  const address = bare(ip);
  return net.isIP(address) === 0 ? undefined : reverseName(address);
}

/** "::ffff:192.0.2.1" (RFC 4291 §2.5.5.2) → "192.0.2.1"; a zone index dropped. */
function bare(ip: string): string {
  return (/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1] ?? ip).replace(/%.*$/, '');
}

export type ZoneResult =
  | { zone: string; kind: 'listed'; answer: string; weight: number }
  | { zone: string; kind: 'clean' }
  /** refused: the zone's "query refused" code; bad-answer: outside 127/8; temporary: SERVFAIL or timeout. */
  | { zone: string; kind: 'unavailable'; why: 'refused' | 'bad-answer' | 'temporary'; answer?: string };

const REFUSED = { from: ipv4Number('127.255.255.0') ?? 0, to: ipv4Number('127.255.255.255') ?? 0 };
const LOOPBACK_NET = { from: ipv4Number('127.0.0.0') ?? 0, to: ipv4Number('127.255.255.255') ?? 0 };

const within = (n: number, r: { from: number; to: number }): boolean => n >= r.from && n <= r.to;

/** One zone's answer for the client's name. */
export function zoneResult(zone: DnsblZone, answer: DnsAnswer<string>): ZoneResult {
  if (answer.kind === 'nxdomain' || answer.kind === 'nodata') return { zone: zone.zone, kind: 'clean' };
  if (answer.kind !== 'records') return { zone: zone.zone, kind: 'unavailable', why: 'temporary' };
  let listed: string | undefined;
  for (const record of answer.records) {
    const n = ipv4Number(record);
    if (n === undefined || !within(n, LOOPBACK_NET)) return { zone: zone.zone, kind: 'unavailable', why: 'bad-answer', answer: record };
    // Checked before the codes: a range such as 127.0.0.0-127.255.255.255 must not make it a listing.
    if (within(n, REFUSED)) return { zone: zone.zone, kind: 'unavailable', why: 'refused', answer: record };
    if (listed === undefined && zone.codes.some((c) => within(n, c))) listed = record;
  }
  return listed === undefined ? { zone: zone.zone, kind: 'clean' } : { zone: zone.zone, kind: 'listed', answer: listed, weight: zone.weight };
}

export type DnsblVerdict =
  | { kind: 'pass'; score: number; results: readonly ZoneResult[] }
  /** `zone`: the listing zone with the highest weight, named in the reply. */
  | { kind: 'refuse'; score: number; zone: string; results: readonly ZoneResult[] };

/** The score is the sum of the weights of the zones that list the client; at or above the threshold it is refused. */
export function dnsblVerdict(results: readonly ZoneResult[], threshold: number): DnsblVerdict {
  let score = 0;
  let top: Extract<ZoneResult, { kind: 'listed' }> | undefined;
  for (const r of results) {
    if (r.kind !== 'listed') continue;
    score += r.weight;
    if (!top || r.weight > top.weight) top = r;
  }
  if (score >= threshold && top) return { kind: 'refuse', score, zone: top.zone, results };
  return { kind: 'pass', score, results };
}

/** The reply after the greeting (as Postfix words it): `554 5.7.1 Service unavailable; client [IP] blocked using ZONE`. */
export function dnsblReply(ip: string, zone: string): string {
  return `5.7.1 Service unavailable; client [${ip}] blocked using ${zone}`;
}

/** Is `name` the domain or below it (allow_domains)? Both lowercase without trailing dot. */
export function inDomain(name: string, domain: string): boolean {
  return name === domain || name.endsWith(`.${domain}`);
}
