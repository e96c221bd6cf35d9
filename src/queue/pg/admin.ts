// The operator's read-only view of the PostgreSQL queue (`sealpost store status`, from any node):
// schema version, the nodes and their last heartbeat, recipients by state, and who holds the claims.
import type pg from 'pg';
import type { QueueCounts } from '../contract.ts';
import { MIGRATIONS, schemaVersion } from './schema.ts';

export interface PgNode {
  name: string;
  startedAt: number;
  heartbeatAt: number;
  /** Recipients this node holds claims on, and the earliest of their leases' ends. */
  claims: number;
  leaseUntil: number | null;
}

export interface PgQueueStatus {
  schema: { version: number; known: number };
  /** Empty before the schema exists. */
  nodes: PgNode[];
  counts: QueueCounts | null;
}

export async function pgQueueStatus(pool: pg.Pool): Promise<PgQueueStatus> {
  const version = await schemaVersion(pool);
  const schema = { version, known: MIGRATIONS.length };
  if (version === 0) return { schema, nodes: [], counts: null };
  const nodes = await pool.query<{ name: string; started_at: string; heartbeat_at: string; claims: string; lease_until: string | null }>(
    `SELECT n.name, n.started_at, n.heartbeat_at, count(r.id) AS claims, min(r.lease_until) AS lease_until
     FROM nodes n LEFT JOIN recipients r ON r.owner = n.name AND r.state = 'active'
     GROUP BY n.name ORDER BY n.name`,
  );
  const states = await pool.query<{ state: string; n: string }>(
    `SELECT state, count(*) AS n FROM recipients WHERE state IN ('queued', 'active', 'held') GROUP BY state
     UNION ALL SELECT 'messages', count(*) FROM messages`,
  );
  const counts: QueueCounts = { queued: 0, active: 0, held: 0, messages: 0 };
  for (const { state, n } of states.rows) if (state === 'queued' || state === 'active' || state === 'held' || state === 'messages') counts[state] = Number(n);
  return {
    schema,
    nodes: nodes.rows.map((n) => ({
      name: n.name,
      startedAt: Number(n.started_at),
      heartbeatAt: Number(n.heartbeat_at),
      claims: Number(n.claims),
      leaseUntil: n.lease_until === null ? null : Number(n.lease_until),
    })),
    counts,
  };
}
