// The [inbound.dnsbl] section (pure): the DNS blocklists a port-25 client is looked up in at
// connect (RFC 5782 §2.1), each with a weight and the answers that mean "listed" (Postfix's
// postscreen_dnsbl_sites "zone=127.0.0.[2..11]*weight"), the score that refuses, and the
// networks and domains never refused. The decisions on answers are in inbound/dnsbl.ts.
import { canonicalDomain } from '../core/address.ts';
import { isTable, join, type Reader, type Table } from './fields.ts';
import type { Cidr, DnsblConfig, DnsblZone } from './types.ts';

/** Any answer in 127.0.0.0/8 (RFC 5782 §2.3: listings are in 127/8); 127.255.255.x is never a listing (inbound/dnsbl.ts). */
export const DEFAULT_CODES = ['127.0.0.2-127.255.255.255'];

/** "a.b.c.d" → its 32-bit number, or undefined. */
export function ipv4Number(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  if (o.some((n) => n > 255)) return undefined;
  return (((o[0] ?? 0) << 24) >>> 0) + ((o[1] ?? 0) << 16) + ((o[2] ?? 0) << 8) + (o[3] ?? 0);
}

/** "127.0.0.2" or "127.0.0.2-127.0.0.11" → an inclusive range, or what is wrong with it. */
export function parseCodeRange(text: string): { from: number; to: number } | string {
  const [a = '', b, extra] = text.split('-').map((s) => s.trim());
  const from = ipv4Number(a);
  const to = b === undefined ? from : ipv4Number(b);
  if (from === undefined || to === undefined || extra !== undefined)
    return `"${text}" is not an answer or a range of answers; write "127.0.0.2" or "127.0.0.2-127.0.0.11"`;
  if (to < from) return `"${text}" ends before it begins`;
  return { from, to };
}

export function readDnsbl(r: Reader, t: Table, parseCidr: (text: string) => Cidr | string): DnsblConfig {
  const prefix = 'inbound.dnsbl';
  r.unknownKeys(t, prefix, ['zones', 'threshold', 'allow_networks', 'allow_domains']);
  const zones: DnsblZone[] = [];
  const raw = t['zones'];
  if (raw !== undefined && !Array.isArray(raw))
    r.problem(join(prefix, 'zones'), 'must be a list of tables, e.g. zones = [{ zone = "zen.spamhaus.org", weight = 2 }]');
  for (const [i, entry] of (Array.isArray(raw) ? raw : []).entries()) {
    const at = `${prefix}.zones[${i}]`;
    if (!isTable(entry)) {
      r.problem(at, 'must be a table, e.g. { zone = "zen.spamhaus.org", weight = 2, codes = ["127.0.0.2-127.0.0.11"] }');
      continue;
    }
    r.unknownKeys(entry, at, ['zone', 'weight', 'codes']);
    const text = r.string(entry, 'zone', at);
    const zone = canonicalDomain(text.replace(/\.$/, ''));
    if (text !== '' && (zone === '' || !zone.includes('.') || zone.startsWith('[')))
      r.problem(`${at}.zone`, `"${text}" is not a DNS zone; write e.g. "zen.spamhaus.org"`);
    if (zones.some((z) => z.zone === zone)) r.problem(`${at}.zone`, `"${zone}" is listed twice; give it one entry with its weight`);
    const weight = r.integer(entry, 'weight', at, 1, -100, 100);
    const codes = r.stringList(entry, 'codes', at, DEFAULT_CODES).flatMap((c, j) => {
      const range = parseCodeRange(c);
      if (typeof range === 'string') {
        r.problem(`${at}.codes[${j}]`, range);
        return [];
      }
      return [range];
    });
    zones.push({ zone, weight, codes });
  }
  const threshold = r.integer(t, 'threshold', prefix, 1, 1, 1000);
  const allowNetworks = r.stringList(t, 'allow_networks', prefix, []).flatMap((text, i) => {
    const cidr = parseCidr(text);
    if (typeof cidr === 'string') {
      r.problem(`${prefix}.allow_networks[${i}]`, cidr);
      return [];
    }
    return [cidr];
  });
  const allowDomains = r.stringList(t, 'allow_domains', prefix, []).map((d, i) => {
    const domain = canonicalDomain(d.replace(/^\./, ''));
    if (domain === '' || !domain.includes('.'))
      r.problem(`${prefix}.allow_domains[${i}]`, `"${d}" is not a domain; write e.g. "example.org" (it covers its subdomains too)`);
    return domain;
  });
  if (zones.length > 0 && zones.every((z) => z.weight <= 0))
    r.problem(`${prefix}.zones`, `no zone has a positive weight, so no client can reach threshold ${threshold}; give the blocklists a weight of 1 or more`);
  return { zones, threshold, allowNetworks, allowDomains };
}
