// The MTA-STS policy in force for a domain (RFC 8461 §5.1): TXT id compared with the cached
// policy, fetched anew when the id changed or nothing is cached, else the cached one. Failures
// never block delivery by themselves: without a usable policy the domain has no MTA-STS.
import type { Resolver } from '../dns/resolver.ts';
import { parseStsPolicy, parseStsTxt, type StsPolicy } from './mta-sts.ts';
import type { FetchResult } from './sts-fetch.ts';

/** The policy cache (sts-cache.ts on SQLite, sts-cache-pg.ts on the nodes' shared PostgreSQL). */
export interface StsStore {
  get(domain: string, now: number): Promise<(StsPolicy & { id: string }) | undefined>;
  /** Never rejects for a cache write that failed: the policy still applies to this delivery. */
  put(domain: string, id: string, policy: StsPolicy, now: number): Promise<StsPolicy & { id: string }>;
}

export interface StsDeps {
  resolver: Resolver;
  cache: StsStore;
  fetch: (domain: string) => Promise<FetchResult>;
  now: () => number;
  /** Told why a policy could not be used (logged by the caller; `kind` for the TLS report). */
  report?: (domain: string, problem: string, kind: StsProblemKind) => void;
}

/** RFC 8460 §4.3.2.2: why a domain's MTA-STS policy could not be used. */
export type StsProblemKind = 'sts-policy-fetch-error' | 'sts-policy-invalid' | 'sts-webpki-invalid';

export interface StsProblem {
  kind: StsProblemKind;
  detail: string;
}

/** What a delivery gets: the policy in force, why the domain's policy is not usable, or nothing (no MTA-STS). */
export type StsFound = (StsPolicy & { id: string }) | { unusable: StsProblem } | undefined;

export async function currentStsPolicy(domain: string, deps: StsDeps): Promise<(StsPolicy & { id: string }) | undefined> {
  const now = deps.now();
  const cached = await deps.cache.get(domain, now);
  const txt = await deps.resolver.resolveTxt(`_mta-sts.${domain}`);
  if (txt.kind !== 'records') return cached;
  const record = parseStsTxt(txt.records);
  if ('error' in record) {
    if (txt.records.some((r) => r.startsWith('v=STSv1'))) deps.report?.(domain, `_mta-sts TXT: ${record.error}`, 'sts-policy-invalid');
    return cached;
  }
  if (cached && cached.id === record.id) return cached;
  const fetched = await deps.fetch(domain);
  if (!fetched.ok) {
    deps.report?.(
      domain,
      `policy fetch failed: ${fetched.error}${cached ? '; using the cached policy' : ''}`,
      fetched.webpki ? 'sts-webpki-invalid' : 'sts-policy-fetch-error',
    );
    return cached;
  }
  const policy = parseStsPolicy(fetched.text);
  if ('error' in policy) {
    deps.report?.(domain, `policy invalid: ${policy.error}${cached ? '; using the cached policy' : ''}`, 'sts-policy-invalid');
    return cached;
  }
  return deps.cache.put(domain, record.id, policy, now);
}
