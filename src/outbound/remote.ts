// Builds the remote courier from config for the composition root: node:dns resolver on dns.servers,
// trust (Node's CAs + outbound.ca_file, read now), attempts table, MTA-STS cache and fetcher.
import type { Config, OutboundConfig } from '../config/types.ts';
import type { SharedSlots } from '../core/limiter.ts';
import type { Db } from '../db/open.ts';
import type { StorageHealth } from '../db/storage-fault.ts';
import { createNodeResolver } from '../dns/node-resolver.ts';
import type { Resolver } from '../dns/resolver.ts';
import { type Logger, mailLog } from '../log/log.ts';
import { currentStsPolicy, type StsFound, type StsStore } from '../tls-policy/sts.ts';
import { StsCache } from '../tls-policy/sts-cache.ts';
import { fetchStsPolicy } from '../tls-policy/sts-fetch.ts';
import { loadTrust } from '../tls-policy/trust.ts';
import { type AttemptSink, AttemptsStore } from './attempts-store.ts';
import { type DaneState, RemoteCourier } from './courier.ts';

export interface RemoteOverrides {
  resolver?: Resolver;
  now?: () => number;
  random?: () => number;
  /** Port of MTA-STS policy hosts (443; tests use another). */
  stsPort?: number;
  idleMs?: number;
  /** The [outbound] settings in force (main.ts: the snapshot a reload swaps in); default config.outbound. */
  outbound?: () => OutboundConfig;
  /** The daemon's view of the disk: attempt rows it refuses are one 'storage' record per episode. */
  storage?: StorageHealth;
  /** DANE on (DNSSEC validation works; the DNSSEC-aware resolver) or off and why (main.ts). */
  dane?: () => Promise<DaneState>;
  /** Where attempts go and the MTA-STS cache (shared-state/stores.ts: SQLite or the nodes' PostgreSQL); default: in `db`. */
  attempts?: AttemptSink;
  stsCache?: StsStore;
  /** [store] kind = "postgres": the per-destination slots every node counts (queue/pg/slots.ts). */
  sharedSlots?: SharedSlots;
}

/** Throws only when outbound.ca_file cannot be read (a startup error). */
export function createRemoteCourier(config: Config, db: Db, log: Logger, overrides: RemoteOverrides = {}): RemoteCourier {
  const resolver = overrides.resolver ?? createNodeResolver(config.dns);
  const trust = loadTrust(config.outbound.caFile);
  const now = overrides.now ?? Date.now;
  const cache = overrides.stsCache ?? new StsCache(db);
  const fetchDeps = {
    resolver,
    trust,
    timeoutMs: Math.min(60_000, config.outbound.connectTimeoutSeconds * 1000),
    ipv6: config.outbound.ipv6,
    ...(overrides.stsPort ? { port: overrides.stsPort } : {}),
  };
  const sts = config.outbound.mtaSts
    ? async (domain: string): Promise<StsFound> => {
        let unusable: StsFound;
        const policy = await currentStsPolicy(domain, {
          resolver,
          cache,
          now,
          fetch: (d) => fetchStsPolicy(d, fetchDeps),
          report: (d, problem, kind) => {
            mailLog(log, 'mta-sts', { domain: d, problem }, 'MTA-STS policy not usable', 'warn');
            unusable = { unusable: { kind, detail: problem } };
          },
        });
        // Without a policy (none cached), why: the TLS report names it (tlsrpt/).
        return policy ?? unusable;
      }
    : undefined;
  return new RemoteCourier({
    hostname: config.hostname,
    outbound: overrides.outbound ?? (() => config.outbound),
    resolver,
    trust,
    log,
    attempts:
      overrides.attempts ??
      new AttemptsStore(db, (err) => {
        if (!overrides.storage?.fault('attempts', err)) log.error({ err }, 'could not record delivery attempts (the hop records have them)');
      }),
    now,
    ...(sts ? { sts } : {}),
    ...(overrides.dane ? { dane: overrides.dane } : {}),
    ...(overrides.random ? { random: overrides.random } : {}),
    ...(overrides.idleMs ? { idleMs: overrides.idleMs } : {}),
    ...(overrides.sharedSlots ? { sharedSlots: overrides.sharedSlots } : {}),
  });
}
