// The Resolver over our own DNS client (dns/wire-client.ts), for lookups whose answer must say
// whether DNSSEC validated it: every answer carries `secure`, the AD bit of each response in a
// CNAME chain ANDed (RFC 7672 §2.2.2 for DANE), believed only from a resolver dns/trust.ts trusts.
// It answers every lookup NodeResolver does, plus TLSA (RFC 6698). Network I/O on each lookup.
import { getServers } from 'node:dns';
import type { Answer, DecodedPacket, RecordType } from 'dns-packet';
import { reverseName } from './names.ts';
import type { NodeResolver, NodeResolverOptions } from './node-resolver.ts';
import type { DnsAnswer, MxRecord, TlsaRecord } from './resolver.ts';
import { adTrust } from './trust.ts';
import { type DnsServerAddress, query } from './wire-client.ts';

export interface DnssecResolverOptions extends NodeResolverOptions {
  /** `[dns] trust_ad`: believe the AD bit of a resolver that is not on loopback. */
  trustAd: boolean;
}

export interface DnssecResolver extends NodeResolver {
  /** TLSA records at e.g. "_25._tcp.mx.example.org" (RFC 6698 §3, RFC 7672 §2.2). */
  resolveTlsa(name: string): Promise<DnsAnswer<TlsaRecord>>;
  /** The servers asked, in order. */
  readonly servers: readonly DnsServerAddress[];
}

/** RFC 1034 §3.6.2 allows chains; resolvers stop around 8–16 links. */
const MAX_CHAIN = 8;

export function createDnssecResolver(options: DnssecResolverOptions): DnssecResolver {
  const servers = (options.servers.length > 0 ? options.servers : getServers()).map(parseServer).filter((s) => s !== undefined);
  const trusted = (server: DnsServerAddress): boolean => adTrust(server.host, options.trustAd).trusted;

  async function lookup<T>(name: string, type: RecordType, pick: (a: Answer) => T | undefined): Promise<DnsAnswer<T>> {
    const deadline = Date.now() + options.timeoutMs;
    const asked = normalizeName(name);
    let current = asked;
    let secure = true;
    const seen = new Set<string>();
    for (let link = 0; link <= MAX_CHAIN; link++) {
      const outcome = await query(servers, current, type, Math.max(50, deadline - Date.now()));
      if (outcome.kind === 'timeout') return { kind: 'timeout', detail: `${type} ${current}: ${outcome.detail}` };
      if (outcome.kind === 'error') return { kind: 'servfail', detail: outcome.detail };
      const response = outcome.response;
      secure &&= response.flag_ad && trusted(outcome.server);
      if (outcome.rcode !== 'NOERROR' && outcome.rcode !== 'NXDOMAIN') return { kind: 'servfail', detail: outcome.rcode };
      // Walk the chain as far as this response carries it (a recursive resolver sends it whole).
      const followed = follow(response, current, type);
      const records = (response.answers ?? [])
        .filter((a) => normalizeName(a.name) === followed && a.type === type)
        .flatMap((a) => {
          const value = pick(a);
          return value === undefined ? [] : [value];
        });
      if (records.length > 0) return { kind: 'records', records, secure, ...(followed !== asked ? { canonical: followed } : {}) };
      if (outcome.rcode === 'NXDOMAIN') return { kind: 'nxdomain', secure };
      if (followed === current || type === 'CNAME') return { kind: 'nodata', secure };
      // The response ended the chain at an alias without its records: ask for the target.
      if (seen.has(followed)) return { kind: 'servfail', detail: `CNAME loop at ${followed}` };
      seen.add(current);
      current = followed;
    }
    return { kind: 'servfail', detail: `CNAME chain of ${name} longer than ${MAX_CHAIN}` };
  }

  const records =
    <T>(type: RecordType, pick: (a: Answer) => T | undefined) =>
    (name: string) =>
      lookup(name, type, pick);
  return {
    servers,
    resolveMx: records<MxRecord>('MX', (a) => (a.type === 'MX' ? { exchange: normalizeName(a.data.exchange), preference: a.data.preference ?? 0 } : undefined)),
    resolve4: records('A', (a) => (a.type === 'A' ? a.data : undefined)),
    resolve6: records('AAAA', (a) => (a.type === 'AAAA' ? a.data : undefined)),
    resolveTxt: records('TXT', (a) => (a.type === 'TXT' ? txtText(a.data) : undefined)),
    resolvePtr: records('PTR', (a) => (a.type === 'PTR' ? normalizeName(a.data) : undefined)),
    resolveCname: records('CNAME', (a) => (a.type === 'CNAME' ? normalizeName(a.data) : undefined)),
    resolveCaa: records('CAA', (a) => (a.type === 'CAA' ? `${a.data.flags ?? 0} ${a.data.tag} "${a.data.value}"` : undefined)),
    resolveTlsa: records<TlsaRecord>('TLSA', (a) =>
      a.type === 'TLSA'
        ? { usage: a.data.usage, selector: a.data.selector, matchingType: a.data.matchingType, data: a.data.certificate.toString('hex') }
        : undefined,
    ),
    reverse: (ip) => lookup(reverseName(ip), 'PTR', (a) => (a.type === 'PTR' ? normalizeName(a.data) : undefined)),
  };
}

/** The end of the CNAME chain from `name` within one response (RFC 1034 §4.3.2 step 3.a). */
function follow(response: DecodedPacket, name: string, type: RecordType): string {
  if (type === 'CNAME') return name;
  let current = name;
  for (let link = 0; link < MAX_CHAIN; link++) {
    const alias = (response.answers ?? []).find((a) => a.type === 'CNAME' && normalizeName(a.name) === current);
    if (alias?.type !== 'CNAME') return current;
    current = normalizeName(alias.data);
  }
  return current;
}

function txtText(data: string | Buffer | (string | Buffer)[]): string {
  const chunks = Array.isArray(data) ? data : [data];
  return chunks.map((c) => (typeof c === 'string' ? c : c.toString('utf8'))).join('');
}

function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.length > 1 && lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** "IP", "IP:PORT", "[IPv6]:PORT" (config dns.servers, node's getServers()). */
export function parseServer(text: string): DnsServerAddress | undefined {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracketed) return { host: bracketed[1] ?? '', port: Number(bracketed[2] ?? 53) };
  if (text.split(':').length > 2) return { host: text, port: 53 };
  const [host = '', port] = text.split(':');
  if (host === '') return undefined;
  return { host, port: port === undefined ? 53 : Number(port) };
}
