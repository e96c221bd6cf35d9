// The DNSBL check of a port-25 client at connect: every zone looked up in parallel through our
// (caching) resolver, and with allow_domains the client's forward-confirmed reverse name (FCrDNS:
// a PTR name whose A/AAAA records hold the address) beside them; the verdict is dnsbl.ts's. A
// zone that answers "query refused" (Spamhaus's 127.255.255.x: our resolver is a public one) is a
// configuration problem, told once per zone (logDnsblProblems: logged once for the life of the
// daemon; a session process tells the primary, which logs it once for all), and counts as not
// listing anyone. allow_networks are never looked up.
import type { DnsblConfig } from '../config/types.ts';
import type { DnsAnswer } from '../dns/resolver.ts';
import type { Logger } from '../log/log.ts';
import { networkMatcher } from '../routing/networks.ts';
import { type DnsblVerdict, dnsblVerdict, inDomain, ptrName, reversedAddress, type ZoneResult, zoneResult } from './dnsbl.ts';

/** The lookups the check makes (dns/cache.ts's caching resolver has them). */
export interface DnsblResolver {
  resolve4(name: string): Promise<DnsAnswer<string>>;
  resolve6(name: string): Promise<DnsAnswer<string>>;
  resolvePtr?(name: string): Promise<DnsAnswer<string>>;
}

export type DnsblCheck = (ip: string) => Promise<DnsblVerdict | { kind: 'allowed'; by: 'network' | 'domain'; name?: string }>;

/** A zone's answer that says our set-up is wrong (not a listing, not a passing failure). */
export interface DnsblProblem {
  zone: string;
  why: 'refused' | 'bad-answer';
  answer?: string;
}

/** `tell`, once per zone: later problems of a zone told already are dropped. */
export function oncePerZone(tell: (problem: DnsblProblem) => void): (problem: DnsblProblem) => void {
  const told = new Set<string>();
  return (problem) => {
    if (told.has(problem.zone)) return;
    told.add(problem.zone);
    tell(problem);
  };
}

/** Each zone's problem logged once, with the fix. */
export function logDnsblProblems(log: Logger): (problem: DnsblProblem) => void {
  return oncePerZone((p) =>
    log.error(
      { event: 'daemon', problem: 'dnsbl', zone: p.zone, answer: p.answer, why: p.why },
      p.why === 'refused'
        ? `DNSBL ${p.zone} refuses our queries (answer ${p.answer}): it does not answer queries from public resolvers; run a local resolver (unbound) and set dns.servers to it; until then this zone lists no one`
        : `DNSBL ${p.zone} answered ${p.answer}, outside 127.0.0.0/8: the resolver in dns.servers rewrites answers; use a local resolver; until then this zone lists no one`,
    ),
  );
}

/** `problems`: told each zone answer that says the set-up is wrong (logDnsblProblems, or a session process's note to the primary). */
export function createDnsblCheck(config: DnsblConfig, resolver: DnsblResolver, problems: (problem: DnsblProblem) => void): DnsblCheck {
  const allowed = networkMatcher(config.allowNetworks);
  const report = (r: ZoneResult): void => {
    if (r.kind !== 'unavailable' || r.why === 'temporary') return;
    problems({ zone: r.zone, why: r.why, ...(r.answer !== undefined ? { answer: r.answer } : {}) });
  };

  const fcrdnsAllowed = async (ip: string): Promise<string | undefined> => {
    const ptr = ptrName(ip);
    if (config.allowDomains.length === 0 || !ptr || !resolver.resolvePtr) return undefined;
    const names = await resolver.resolvePtr(ptr);
    if (names.kind !== 'records') return undefined;
    const bare = ip.replace(/^::ffff:(?=\d+\.)/i, '');
    for (const raw of names.records.slice(0, 10)) {
      const name = raw.toLowerCase().replace(/\.$/, '');
      if (!config.allowDomains.some((d) => inDomain(name, d))) continue;
      const forward = bare.includes(':') ? await resolver.resolve6(name) : await resolver.resolve4(name);
      if (forward.kind === 'records' && forward.records.some((a) => a.toLowerCase() === bare.toLowerCase())) return name;
    }
    return undefined;
  };

  return async (ip) => {
    if (allowed(ip)) return { kind: 'allowed', by: 'network' };
    const reversed = reversedAddress(ip);
    if (reversed === undefined) return dnsblVerdict([], config.threshold);
    const [name, ...results] = await Promise.all([
      fcrdnsAllowed(ip),
      ...config.zones.map(async (zone) => zoneResult(zone, await resolver.resolve4(`${reversed}.${zone.zone}`))),
    ]);
    for (const r of results) report(r);
    if (name !== undefined) return { kind: 'allowed', by: 'domain', name };
    return dnsblVerdict(results, config.threshold);
  };
}
