// The Resolver over node:dns's c-ares Resolver, with our servers and timeout. Its own Resolver
// instance: never dns.setServers(), nothing at import time. Network I/O on each lookup.
// Besides the Resolver interface it answers the lookups only some callers need: PTR and CNAME
// (SPF "ptr", DMARC) and reverse (a client's name for Received headers).
import { promises as dns } from 'node:dns';
import { reverseName } from './names.ts';
import type { DnsAnswer, MxRecord, Resolver } from './resolver.ts';

export interface NodeResolverOptions {
  /** "IP" or "IP:PORT" / "[IPv6]:PORT"; empty = the system's (/etc/resolv.conf). */
  servers: readonly string[];
  /** Budget for one lookup, retries included, ms. */
  timeoutMs: number;
}

export interface NodeResolver extends Resolver {
  resolvePtr(name: string): Promise<DnsAnswer<string>>;
  resolveCname(name: string): Promise<DnsAnswer<string>>;
  /** PTR names of an IP address. */
  reverse(ip: string): Promise<DnsAnswer<string>>;
  /** CAA records as presentation text, "0 issue \"letsencrypt.org\"" (RFC 8659 §4.1), for `sealpost doctor`. */
  resolveCaa(name: string): Promise<DnsAnswer<string>>;
}

/** Sees each answer with its query type ("MX", "A"…): the daemon counts the failures (metrics). */
export type AnswerObserver = (type: string, answer: DnsAnswer<unknown>) => void;

export function createNodeResolver(options: NodeResolverOptions, observe?: AnswerObserver): NodeResolver {
  const tries = 2;
  // c-ares doubles the per-try timeout; split the budget so the whole lookup fits in it.
  const resolver = new dns.Resolver({ timeout: Math.max(50, Math.floor(options.timeoutMs / 3)), tries });
  if (options.servers.length > 0) resolver.setServers([...options.servers]);
  const run = async <T>(type: string, lookup: () => Promise<T[]>): Promise<DnsAnswer<T>> => {
    const answer = await guarded(type, lookup, options.timeoutMs);
    observe?.(type, answer);
    return answer;
  };
  return {
    resolveMx: (name) =>
      run<MxRecord>('MX', async () => (await resolver.resolveMx(name)).map((r) => ({ exchange: normalizeName(r.exchange), preference: r.priority }))),
    resolve4: (name) => run('A', () => resolver.resolve4(name)),
    resolve6: (name) => run('AAAA', () => resolver.resolve6(name)),
    resolveTxt: (name) => run('TXT', async () => (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''))),
    resolvePtr: (name) => run('PTR', () => resolver.resolvePtr(name)),
    resolveCname: (name) => run('CNAME', () => resolver.resolveCname(name)),
    // A PTR query, not resolver.reverse(): c-ares's getHostByAddr answers ENOTFOUND (our nxdomain)
    // when the DNS server cannot be reached, which SPF and the doctor would take for "no PTR".
    reverse: (ip) => run('PTR', () => resolver.resolvePtr(reverseName(ip))),
    resolveCaa: (name) => run('CAA', async () => (await resolver.resolveCaa(name)).map(caaText)),
  };
}

function caaText(r: { critical: number; issue?: string; issuewild?: string; iodef?: string; contactemail?: string; contactphone?: string }): string {
  // Node adds type: 'CAA' beside the one property named after the record's tag.
  const [tag, value] = Object.entries(r).find(([k]) => k !== 'critical' && k !== 'type') ?? ['issue', ''];
  return `${r.critical} ${tag} "${String(value)}"`;
}

function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.length > 1 && lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

async function guarded<T>(type: string, lookup: () => Promise<T[]>, budgetMs: number): Promise<DnsAnswer<T>> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<DnsAnswer<T>>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'timeout', detail: `no answer within ${budgetMs} ms` }), budgetMs + 50);
  });
  const answer = lookup().then(
    (records): DnsAnswer<T> => (records.length > 0 ? { kind: 'records', records } : { kind: 'nodata' }),
    (err: unknown): DnsAnswer<T> => classify(err, type),
  );
  try {
    return await Promise.race([answer, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Maps c-ares error codes to answers (https://nodejs.org/api/dns.html#error-codes). */
export function classify<T>(err: unknown, type: string): DnsAnswer<T> {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  switch (code) {
    case 'ENOTFOUND':
      return { kind: 'nxdomain' };
    case 'ENODATA':
      return { kind: 'nodata' };
    case 'ETIMEOUT':
      return { kind: 'timeout', detail: `${type} query timed out` };
    case 'ESERVFAIL':
      return { kind: 'servfail', detail: 'SERVFAIL' };
    case 'EREFUSED':
      return { kind: 'servfail', detail: 'REFUSED' };
    default:
      return { kind: 'servfail', detail: code || String(err) };
  }
}
