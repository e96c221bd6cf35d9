// The MX walk for one destination domain (RFC 5321 §5.1, RFC 7505): which hosts to try, in which
// order, at which addresses — or why none (permanent vs transient). Lookups through the given
// Resolver; the ordering is pure with an injected random source. Each host keeps whether its MX
// and address answers were DNSSEC-secure, and the end of a CNAME chain (DANE, RFC 7672 §2.2).
import net from 'node:net';
import type { AddressFamily, PreferFamily } from '../config/types.ts';
import { type DnsAnswer, describeAnswer, isSecure, isTemporary, type MxRecord, type Resolver } from '../dns/resolver.ts';

export interface MxHost {
  /** Host name (lowercase, no trailing dot): the SNI and certificate name. */
  name: string;
  preference: number;
  /** True when the domain has no MX and its own A/AAAA are used (RFC 5321 §5.1). */
  implicit: boolean;
  /** In the order to try: orderAddresses (address_family, prefer). */
  addresses: string[];
  /** Why a host has no addresses, when it has none. */
  problem?: string;
  /** Whether the MX answer (or the configured next hop) and the address answers were DNSSEC-secure. */
  secure?: { mx: boolean; addresses: boolean };
  /** The name the address lookups ended at when the host name is a CNAME (RFC 7672 §2.2.2). */
  canonical?: string;
}

export type MxWalk = { kind: 'hosts'; hosts: MxHost[] } | { kind: 'transient' | 'permanent'; reason: string; enhanced: string };

/** A host to look up; mxSecure: its MX answer was DNSSEC-secure (a configured next hop counts as secure). */
interface HostName {
  name: string;
  preference: number;
  implicit: boolean;
  mxSecure?: boolean;
}

export interface MxOptions {
  maxHosts: number;
  /** [outbound] address_family: which lookups are made and which addresses are kept. */
  family: AddressFamily;
  /** [outbound] prefer: under "any", which family's addresses come first. */
  prefer: PreferFamily;
  /** The resolver reports `secure` (dns/dnssec-resolver.ts): keep it on each host for DANE. */
  dnssec?: boolean;
}

/**
 * A host's addresses in the order to try them: only the family asked for, or both with the
 * preferred family first (each family keeps the resolver's order). RFC 6724 would sort by
 * source/destination address pairs; like Postfix (smtp_address_preference) we take one switch.
 */
export function orderAddresses(v6: readonly string[], v4: readonly string[], family: AddressFamily, prefer: PreferFamily): string[] {
  if (family === 'ipv4') return [...v4];
  if (family === 'ipv6') return [...v6];
  return prefer === 'ipv4' ? [...v4, ...v6] : [...v6, ...v4];
}

/** Whether an address literal may be used under `family`. */
export function familyAllows(family: AddressFamily, address: string): boolean {
  if (family === 'any') return true;
  return family === 'ipv6' ? net.isIPv6(address) : net.isIPv4(address);
}

/** Orders MX records: by preference, shuffled among equals (RFC 5321 §5.1), Fisher-Yates with `random`. */
export function orderMx(records: readonly MxRecord[], random: () => number): MxRecord[] {
  const shuffled = [...records];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j] as MxRecord, shuffled[i] as MxRecord];
  }
  // Array.prototype.sort is stable: equal preferences keep their shuffled order.
  return shuffled.sort((a, b) => a.preference - b.preference);
}

/** Decides from the MX answer alone: a list of host names to look up, or a final verdict. */
export function mxTargets(domain: string, answer: DnsAnswer<MxRecord>, random: () => number, maxHosts: number): MxWalk | { kind: 'names'; names: HostName[] } {
  switch (answer.kind) {
    case 'nxdomain':
      return { kind: 'permanent', reason: `${domain}: no such domain (NXDOMAIN)`, enhanced: '5.1.2' };
    case 'servfail':
    case 'timeout':
      return { kind: 'transient', reason: describeAnswer(domain, 'MX', answer), enhanced: '4.4.3' };
    case 'nodata':
      // RFC 5321 §5.1: no MX records → the domain itself is the implicit MX.
      return { kind: 'names', names: [{ name: domain, preference: 0, implicit: true }] };
    case 'records': {
      // RFC 7505 §3: a single MX of "." (null MX) means the domain accepts no mail.
      if (answer.records.some((r) => r.exchange === '' || r.exchange === '.')) {
        return { kind: 'permanent', reason: `${domain} does not accept mail (null MX, RFC 7505)`, enhanced: '5.1.10' };
      }
      const seen = new Set<string>();
      const names = orderMx(answer.records, random)
        .filter((r) => !seen.has(r.exchange) && seen.add(r.exchange))
        .slice(0, maxHosts)
        .map((r) => ({ name: r.exchange, preference: r.preference, implicit: false }));
      return { kind: 'names', names };
    }
  }
}

/** Resolves the hosts to try for `domain`, each with its addresses. */
export async function walkMx(domain: string, resolver: Resolver, random: () => number, options: MxOptions): Promise<MxWalk> {
  const answer = await resolver.resolveMx(domain);
  const targets = mxTargets(domain, answer, random, options.maxHosts);
  if (targets.kind !== 'names') return targets;
  const mxSecure = isSecure(answer);
  return resolveHosts(
    domain,
    targets.names.map((t) => (options.dnssec ? { ...t, mxSecure } : t)),
    resolver,
    options,
  );
}

/**
 * One named host, without an MX lookup: a transport's "[host]" (Postfix's brackets). An IP
 * address is used as it is.
 */
export async function walkHost(host: string, resolver: Resolver, options: MxOptions): Promise<MxWalk> {
  if (net.isIP(host) !== 0) {
    // A bracketed address of a family we do not use: the config must change; retry meanwhile.
    if (!familyAllows(options.family, host))
      return { kind: 'transient', reason: `the next hop ${host} is not an address of outbound.address_family "${options.family}"`, enhanced: '4.4.4' };
    return { kind: 'hosts', hosts: [{ name: host, preference: 0, implicit: false, addresses: [host] }] };
  }
  // RFC 7672 §2.2.1: a next hop from our own config stands for a secure MX answer.
  const walk = await resolveHosts(host, [{ name: host, preference: 0, implicit: false, ...(options.dnssec ? { mxSecure: true } : {}) }], resolver, options);
  if (walk.kind === 'permanent') return { ...walk, reason: `the next hop ${host} has no address: ${walk.reason}`, enhanced: '5.4.4' };
  return walk;
}

async function resolveHosts(domain: string, names: readonly HostName[], resolver: Resolver, options: MxOptions): Promise<MxWalk> {
  const targets = { names };
  let temporary = false;
  const hosts = await Promise.all(
    targets.names.map(async ({ mxSecure, ...t }): Promise<MxHost> => {
      const none = Promise.resolve<DnsAnswer<string>>({ kind: 'nodata' });
      const [v6, v4] = await Promise.all([
        options.family !== 'ipv4' ? resolver.resolve6(t.name) : none,
        options.family !== 'ipv6' ? resolver.resolve4(t.name) : none,
      ]);
      const records = (a: DnsAnswer<string>): string[] => (a.kind === 'records' ? a.records : []);
      const addresses = orderAddresses(records(v6), records(v4), options.family, options.prefer);
      const host: MxHost = { ...t, addresses };
      const found = [v6, v4].filter((a) => a.kind === 'records');
      // Secure only when every answer that gave addresses was (RFC 7672 §2.2.2), and only asked for then.
      if (mxSecure !== undefined) host.secure = { mx: mxSecure, addresses: found.length > 0 && found.every(isSecure) };
      const canonical = found.map((a) => (a.kind === 'records' ? a.canonical : undefined)).find((c) => c !== undefined);
      if (canonical) host.canonical = canonical;
      if (addresses.length === 0) {
        const asked = options.family === 'ipv4' ? [v4] : options.family === 'ipv6' ? [v6] : [v6, v4];
        const bad = asked.find(isTemporary) ?? (options.family === 'ipv6' ? v6 : v4);
        if (isTemporary(bad)) temporary = true;
        host.problem = describeAnswer(t.name, { any: 'A/AAAA', ipv4: 'A', ipv6: 'AAAA' }[options.family], bad);
      }
      return host;
    }),
  );
  const usable = hosts.filter((h) => h.addresses.length > 0);
  if (usable.length > 0) return { kind: 'hosts', hosts: usable };
  const problems = hosts.map((h) => h.problem).join('; ');
  // A lookup that may succeed later makes the walk transient; otherwise no host can ever be reached.
  if (temporary) return { kind: 'transient', reason: `no MX host of ${domain} could be resolved: ${problems}`, enhanced: '4.4.3' };
  if (targets.names[0]?.implicit) return { kind: 'permanent', reason: `${domain} has neither MX nor address records`, enhanced: '5.1.2' };
  return { kind: 'permanent', reason: `no MX host of ${domain} has an address: ${problems}`, enhanced: '5.4.4' };
}
