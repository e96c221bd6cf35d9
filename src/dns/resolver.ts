// The DNS lookups Sealpost makes, as an interface with typed answers (no I/O here): NXDOMAIN,
// NODATA and temporary failures are values, so callers decide permanent vs transient (RFC 5321 §5.1).

// `secure` (RFC 4035 §3.2.3, RFC 6840 §5.8): the answer came with the AD bit from a resolver whose AD
// we trust (dns/trust.ts), for every step of a CNAME chain. Absent means false: node:dns never
// reports AD (nodejs/node#57159), so only dns/dnssec-resolver.ts ever sets it true.
export type DnsAnswer<T> =
  /** canonical: the name at the end of a CNAME chain, when the name was an alias (dns/dnssec-resolver.ts; RFC 7672 §2.2.2). */
  | { kind: 'records'; records: T[]; secure?: boolean; canonical?: string }
  /** The name does not exist (RCODE 3): a permanent condition. */
  | { kind: 'nxdomain'; secure?: boolean }
  /** The name exists but has no records of this type. */
  | { kind: 'nodata'; secure?: boolean }
  /** SERVFAIL, REFUSED, a malformed answer or no server reachable: try again later. */
  | { kind: 'servfail'; detail: string }
  | { kind: 'timeout'; detail: string };

export interface MxRecord {
  /** Host name, lowercase, without a trailing dot; '' or '.' for a null MX (RFC 7505). */
  exchange: string;
  preference: number;
}

/** A TLSA record (RFC 6698 §2.1): certificate usage, selector, matching type, association data. */
export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  /** The certificate association data, lowercase hex. */
  data: string;
}

/** True when the answer is DNSSEC-validated (records, NXDOMAIN or NODATA with a trusted AD bit). */
export function isSecure(answer: DnsAnswer<unknown>): boolean {
  return answer.kind !== 'servfail' && answer.kind !== 'timeout' && answer.secure === true;
}

export interface Resolver {
  resolveMx(name: string): Promise<DnsAnswer<MxRecord>>;
  resolve4(name: string): Promise<DnsAnswer<string>>;
  resolve6(name: string): Promise<DnsAnswer<string>>;
  /** Each TXT record's character-strings joined (RFC 7208 §3.3 and RFC 8461 §3.1 read them so). */
  resolveTxt(name: string): Promise<DnsAnswer<string>>;
}

/** True for an answer that says "try again later". */
export function isTemporary<T>(answer: DnsAnswer<T>): answer is Extract<DnsAnswer<T>, { kind: 'servfail' | 'timeout' }> {
  return answer.kind === 'servfail' || answer.kind === 'timeout';
}

/** A short human description of a non-record answer, for logs and bounce texts. */
export function describeAnswer(name: string, type: string, answer: DnsAnswer<unknown>): string {
  switch (answer.kind) {
    case 'records':
      return `${name} ${type}: ${answer.records.length} record(s)`;
    case 'nxdomain':
      return `${name}: no such domain (NXDOMAIN)`;
    case 'nodata':
      return `${name}: no ${type} records`;
    case 'servfail':
      return `${name} ${type}: DNS server failure (${answer.detail})`;
    case 'timeout':
      return `${name} ${type}: DNS timeout (${answer.detail})`;
  }
}
