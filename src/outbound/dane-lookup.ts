// The DANE lookup of one MX host (RFC 7672 §2.2): TLSA at _<port>._tcp.<host> only when the MX
// answer and the host's address answers were DNSSEC-secure; with a secure CNAME chain the end of
// the chain first, then the MX host name (§2.2.2). Returns what DNS said (hop.ts DaneLookup), for
// hostPolicy to judge. One or two TLSA lookups through the DNSSEC-aware resolver.
import { type DnsAnswer, describeAnswer, isSecure, isTemporary, type TlsaRecord } from '../dns/resolver.ts';
import type { DaneLookup } from './hop.ts';
import type { MxHost } from './mx.ts';

export interface TlsaResolver {
  resolveTlsa(name: string): Promise<DnsAnswer<TlsaRecord>>;
}

/** RFC 6698 §3: the TLSA owner name of a TCP service. */
export function tlsaName(port: number, host: string): string {
  return `_${port}._tcp.${host}`;
}

export async function lookupDane(resolver: TlsaResolver, host: MxHost, port: number): Promise<DaneLookup> {
  // RFC 7672 §2.2.1: an implicit MX (no MX records) needs a secure denial of the MX RRset.
  if (!host.secure?.mx) {
    const why = host.implicit ? `the "no MX records" answer for ${host.name} is not DNSSEC-secure` : `the MX records naming ${host.name} are not DNSSEC-secure`;
    return { kind: 'insecure', why };
  }
  if (!host.secure.addresses) return { kind: 'insecure', why: `the address records of ${host.name} are not DNSSEC-secure` };
  const bases = host.canonical && host.canonical !== host.name ? [host.canonical, host.name] : [host.name];
  let denial = '';
  for (const base of bases) {
    const name = tlsaName(port, base);
    const answer = await resolver.resolveTlsa(name);
    // RFC 7672 §2.2: a TLSA lookup that fails (SERVFAIL: bogus; or no answer) is a temporary failure.
    if (isTemporary(answer)) return { kind: 'failed', why: describeAnswer(name, 'TLSA', answer) };
    if (!isSecure(answer)) return { kind: 'insecure', why: `the TLSA answer for ${name} is not DNSSEC-secure` };
    if (answer.kind === 'records') return { kind: 'records', records: answer.records, secure: true, base };
    denial ||= `${name} has no TLSA records (DNSSEC-secure denial)`;
  }
  return { kind: 'none', why: denial };
}
