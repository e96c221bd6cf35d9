// A caching Resolver in front of another (every lookup method it has: MX, A, AAAA, TXT, and PTR,
// CNAME and TLSA where present; an answer's `secure` flag is kept with it): answers (records, NXDOMAIN, NODATA) are kept for a short fixed time,
// since node:dns does not report TTLs for MX and TXT; temporary failures are never kept.
// Identical lookups in flight share one query. Bounded in size; oldest out first.
import type { DnsAnswer, Resolver } from './resolver.ts';

export interface CacheOptions {
  now: () => number;
  /** How long an answer with records is reused, ms. */
  positiveMs?: number;
  /** How long NXDOMAIN / NODATA is reused, ms (RFC 2308 negative caching). */
  negativeMs?: number;
  maxEntries?: number;
}

type Lookup = (name: string) => Promise<DnsAnswer<unknown>>;

export function cachingResolver<R extends Resolver & { [K in keyof R]: Lookup }>(inner: R, options: CacheOptions): R {
  const positiveMs = options.positiveMs ?? 60_000;
  const negativeMs = options.negativeMs ?? 30_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const answers = new Map<string, { until: number; answer: DnsAnswer<unknown> }>();
  const inFlight = new Map<string, Promise<DnsAnswer<unknown>>>();

  const lookup = (method: keyof R & string, name: string): Promise<DnsAnswer<unknown>> => {
    const key = `${method} ${name.toLowerCase()}`;
    const now = options.now();
    const kept = answers.get(key);
    if (kept && kept.until > now) return Promise.resolve(kept.answer);
    if (kept) answers.delete(key);
    const pending = inFlight.get(key);
    if (pending) return pending;
    const query = inner[method](name).then(
      (answer) => {
        inFlight.delete(key);
        const ttl = answer.kind === 'records' ? positiveMs : answer.kind === 'nxdomain' || answer.kind === 'nodata' ? negativeMs : 0;
        if (ttl > 0) {
          if (answers.size >= maxEntries) answers.delete(answers.keys().next().value as string);
          answers.set(key, { until: options.now() + ttl, answer });
        }
        return answer;
      },
      (err: unknown) => {
        inFlight.delete(key);
        throw err;
      },
    );
    inFlight.set(key, query);
    return query;
  };

  // By name, not by the inner object's own keys: a resolver class keeps its methods on the prototype.
  const cached = {} as R;
  for (const method of LOOKUPS as readonly (keyof R & string)[]) {
    if (typeof inner[method] === 'function') cached[method] = ((name: string) => lookup(method, name)) as R[typeof method];
  }
  return cached;
}

/** Every lookup a resolver may have: the Resolver interface's, PTR and CNAME (dns/node-resolver.ts), TLSA (dns/dnssec-resolver.ts). */
const LOOKUPS = ['resolveMx', 'resolve4', 'resolve6', 'resolveTxt', 'resolvePtr', 'resolveCname', 'resolveTlsa'] as const;
