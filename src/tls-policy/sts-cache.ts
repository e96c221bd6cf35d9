// The MTA-STS policy cache in the database (table sts_policies, migration 002): the only writer of
// that table in SQLite (sts-cache-pg.ts on PostgreSQL, the same StsStore contract of sts.ts). A
// policy stays usable until fetched_at + max_age (RFC 8461 §5.1).
import type { Db } from '../db/open.ts';
import { isStorageFault } from '../db/storage-fault.ts';
import type { StsMode, StsPolicy } from './mta-sts.ts';
import type { StsStore } from './sts.ts';

export interface CachedSts extends StsPolicy {
  id: string;
  fetchedAt: number;
  expiresAt: number;
}

interface Row {
  policy_id: string;
  mode: string;
  mx: string;
  max_age: number;
  fetched_at: number;
  expires_at: number;
}

export class StsCache implements StsStore {
  private readonly select;
  private readonly upsert;
  private readonly remove;

  constructor(db: Db) {
    this.select = db.prepare<[string], Row>('SELECT policy_id, mode, mx, max_age, fetched_at, expires_at FROM sts_policies WHERE domain = ?');
    this.upsert = db.prepare(
      `INSERT INTO sts_policies (domain, policy_id, mode, mx, max_age, fetched_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (domain) DO UPDATE SET policy_id = excluded.policy_id, mode = excluded.mode, mx = excluded.mx,
         max_age = excluded.max_age, fetched_at = excluded.fetched_at, expires_at = excluded.expires_at`,
    );
    this.remove = db.prepare('DELETE FROM sts_policies WHERE domain = ?');
  }

  /** The cached policy for `domain` if it has not expired at `now` (unix ms). */
  async get(domain: string, now: number): Promise<CachedSts | undefined> {
    return cachedFrom(this.select.get(domain), now);
  }

  /**
   * Caches a fetched policy and returns it. On a full disk the policy still applies to this
   * delivery and is fetched again next time: a cache write never fails a delivery.
   */
  async put(domain: string, id: string, policy: StsPolicy, now: number): Promise<CachedSts> {
    const expiresAt = now + policy.maxAge * 1000;
    try {
      this.upsert.run(domain, id, policy.mode, JSON.stringify(policy.mx), policy.maxAge, now, expiresAt);
    } catch (err) {
      if (!isStorageFault(err)) throw err;
    }
    return { ...policy, id, fetchedAt: now, expiresAt };
  }

  async delete(domain: string): Promise<void> {
    try {
      this.remove.run(domain);
    } catch (err) {
      // Full disk: the row stays until the next delete (an expired policy is not used anyway).
      if (!isStorageFault(err)) throw err;
    }
  }
}

/** A row of sts_policies (SQLite's numbers, or PostgreSQL's bigint strings) as a policy still usable at `now`. */
export function cachedFrom(
  row: { policy_id: string; mode: string; mx: string; max_age: number | string; fetched_at: number | string; expires_at: number | string } | undefined,
  now: number,
): CachedSts | undefined {
  if (!row || Number(row.expires_at) <= now) return undefined;
  return {
    id: row.policy_id,
    mode: row.mode as StsMode,
    mx: JSON.parse(row.mx) as string[],
    maxAge: Number(row.max_age),
    fetchedAt: Number(row.fetched_at),
    expiresAt: Number(row.expires_at),
  };
}
