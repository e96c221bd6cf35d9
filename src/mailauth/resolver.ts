// The DNS function mailauth calls, built on our Resolver (config dns.servers, timeouts, typed
// answers) and never on the process-wide node:dns resolver. mailauth wants dns.resolve's shape:
// TXT as string[][], MX as { exchange, priority }, and errors with node's codes (ENOTFOUND,
// ENODATA, ETIMEOUT, ...), which it maps to SPF/DKIM/DMARC none, temperror and permerror.
// PTR (SPF "ptr") and CNAME (DMARC's existence test) come from `extra` (the node resolver, which
// has them; the cache in front of it does not). Network I/O on each lookup; nothing at import time.
import type { DNSResolver } from 'mailauth';
import type { DnsAnswer, Resolver } from '../dns/resolver.ts';

/** The lookups our Resolver interface does not have. */
export interface ExtraLookups {
  resolvePtr(name: string): Promise<DnsAnswer<string>>;
  resolveCname(name: string): Promise<DnsAnswer<string>>;
}

export function mailauthResolver(resolver: Resolver, extra: ExtraLookups): DNSResolver {
  const lookup = async (name: string, rrtype: string): Promise<unknown[]> => {
    const type = rrtype.toUpperCase();
    switch (type) {
      case 'TXT':
        // Our resolver joins a record's character-strings (RFC 7208 §3.3); one chunk per record here.
        return unwrap(name, type, await resolver.resolveTxt(name)).map((text) => [text]);
      case 'A':
        return unwrap(name, type, await resolver.resolve4(name));
      case 'AAAA':
        return unwrap(name, type, await resolver.resolve6(name));
      case 'MX':
        return unwrap(name, type, await resolver.resolveMx(name)).map((mx) => ({ exchange: mx.exchange, priority: mx.preference }));
      case 'PTR':
        return unwrap(name, type, await extra.resolvePtr(name));
      case 'CNAME':
        return unwrap(name, type, await extra.resolveCname(name));
      default:
        throw Object.assign(new Error(`${type} lookups are not supported`), { code: 'ENOTIMP' });
    }
  };
  // MX answers are objects, which DNSResolver's declared string arrays do not cover; mailauth reads them so.
  return lookup as DNSResolver;
}

/** The records, or the error node:dns would have thrown for this answer. */
export function unwrap<T>(name: string, type: string, answer: DnsAnswer<T>): T[] {
  switch (answer.kind) {
    case 'records':
      return answer.records;
    case 'nxdomain':
      throw dnsError('ENOTFOUND', name, type);
    case 'nodata':
      throw dnsError('ENODATA', name, type);
    case 'timeout':
      throw dnsError('ETIMEOUT', name, type);
    case 'servfail':
      throw dnsError(answer.detail === 'REFUSED' ? 'EREFUSED' : 'ESERVFAIL', name, type);
  }
}

/** An expected answer, not a bug: made without a stack trace (capturing one cost more than the cached lookup). */
function dnsError(code: string, name: string, type: string): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return Object.assign(new Error(`query${type} ${code} ${name}`), { code, hostname: name });
  } finally {
    Error.stackTraceLimit = limit;
  }
}
