// A caching Resolver in front of another: answers (records, NXDOMAIN, NODATA) are kept for a
// short fixed time, since node:dns does not report TTLs for MX and TXT; temporary failures are
// never kept. Identical lookups in flight share one query. Bounded in size; oldest out first.
import type { DnsAnswer, Resolver } from './resolver.ts';

export interface CacheOptions {
  now: () => number;
  /** How long an answer with records is reused, ms. */
  positiveMs?: number;
  /** How long NXDOMAIN / NODATA is reused, ms (RFC 2308 negative caching). */
  negativeMs?: number;
  maxEntries?: number;
}

type Method = keyof Resolver;

export function cachingResolver(inner: Resolver, options: CacheOptions): Resolver {
  const positiveMs = options.positiveMs ?? 60_000;
  const negativeMs = options.negativeMs ?? 30_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const answers = new Map<string, { until: number; answer: DnsAnswer<unknown> }>();
  const inFlight = new Map<string, Promise<DnsAnswer<unknown>>>();

  const lookup = <T>(method: Method, name: string): Promise<DnsAnswer<T>> => {
    const key = `${method} ${name.toLowerCase()}`;
    const now = options.now();
    const kept = answers.get(key);
    if (kept && kept.until > now) return Promise.resolve(kept.answer as DnsAnswer<T>);
    if (kept) answers.delete(key);
    const pending = inFlight.get(key);
    if (pending) return pending as Promise<DnsAnswer<T>>;
    const query = (inner[method](name) as Promise<DnsAnswer<unknown>>).then((answer) => {
      inFlight.delete(key);
      const ttl = answer.kind === 'records' ? positiveMs : answer.kind === 'nxdomain' || answer.kind === 'nodata' ? negativeMs : 0;
      if (ttl > 0) {
        if (answers.size >= maxEntries) answers.delete(answers.keys().next().value as string);
        answers.set(key, { until: options.now() + ttl, answer });
      }
      return answer;
    }, (err: unknown) => {
      inFlight.delete(key);
      throw err;
    });
    inFlight.set(key, query);
    return query as Promise<DnsAnswer<T>>;
  };

  return {
    resolveMx: (name) => lookup('resolveMx', name),
    resolve4: (name) => lookup('resolve4', name),
    resolve6: (name) => lookup('resolve6', name),
    resolveTxt: (name) => lookup('resolveTxt', name),
  };
}
