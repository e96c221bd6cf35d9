// The MTA-STS policy cache on PostgreSQL ([store] kind = "postgres"): table sts_policies shared by
// the nodes, so a policy one node fetched is used by all until it expires (RFC 8461 §5.1). The
// only writer of that table there. Side effects: queries on the pool.
import type pg from 'pg';
import type { StsPolicy } from './mta-sts.ts';
import type { StsStore } from './sts.ts';
import { type CachedSts, cachedFrom } from './sts-cache.ts';

export class PgStsCache implements StsStore {
  private readonly pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  /** Rejects when the database does: the delivery is deferred rather than made without its policy. */
  async get(domain: string, now: number): Promise<CachedSts | undefined> {
    const { rows } = await this.pool.query<{ policy_id: string; mode: string; mx: string; max_age: string; fetched_at: string; expires_at: string }>(
      'SELECT policy_id, mode, mx, max_age, fetched_at, expires_at FROM sts_policies WHERE domain = $1',
      [domain],
    );
    return cachedFrom(rows[0], now);
  }

  /** A write that fails (the database is away) is left: the policy applies to this delivery, fetched again next time. */
  async put(domain: string, id: string, policy: StsPolicy, now: number): Promise<CachedSts> {
    const expiresAt = now + policy.maxAge * 1000;
    await this.pool
      .query(
        `INSERT INTO sts_policies (domain, policy_id, mode, mx, max_age, fetched_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (domain) DO UPDATE SET policy_id = excluded.policy_id, mode = excluded.mode, mx = excluded.mx,
           max_age = excluded.max_age, fetched_at = excluded.fetched_at, expires_at = excluded.expires_at`,
        [domain, id, policy.mode, JSON.stringify(policy.mx), policy.maxAge, now, expiresAt],
      )
      .catch(() => undefined);
    return { ...policy, id, fetchedAt: now, expiresAt };
  }

  async delete(domain: string): Promise<void> {
    await this.pool.query('DELETE FROM sts_policies WHERE domain = $1', [domain]);
  }
}
