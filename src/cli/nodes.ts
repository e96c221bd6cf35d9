// `sealpost nodes --config FILE [--json]`: the Sealpost nodes sharing the PostgreSQL queue of
// [store] kind = "postgres", from any of them: each node's name, when it started, how long ago its
// last heartbeat was, the claims it holds and the first of their leases to end; a node silent for
// more than 3 × store.lease is marked gone (it died, hangs, or was stopped; its claims pass to the
// others as their leases end). Exit 0; 1 when the config or the database cannot be read.
import { formatProblems, loadConfig } from '../config/load.ts';
import { CONNECTION_HINT } from '../queue/pg/faults.ts';
import type { Args } from './args.ts';

type Out = Pick<NodeJS.WriteStream, 'write'>;

export async function run(configFile: string, args: Args, out: Out = process.stdout, err: Out = process.stderr, now = Date.now): Promise<number> {
  const loaded = await loadConfig(configFile);
  if (!loaded.ok) {
    err.write(`${formatProblems(loaded.file, loaded.problems)}\n`);
    return 1;
  }
  const store = loaded.config.store;
  if (store.kind !== 'postgres') {
    err.write(`sealpost nodes: ${loaded.file} has store.kind = "sqlite": this machine is the only node (set [store] kind = "postgres" to share a queue)\n`);
    return 1;
  }
  const [{ openPool, targetOf }, { nodeViews, pgQueueStatus }, { ago }] = await Promise.all([
    import('../queue/pg/connect.ts'),
    import('../queue/pg/admin.ts'),
    import('./store.ts'),
  ]);
  const t = targetOf(store.url);
  const where = `postgres://${t.user}@${t.host}:${t.port}/${t.database}`;
  const pool = openPool(store, 1);
  try {
    const status = await pgQueueStatus(pool);
    if (status.schema.version === 0) {
      err.write(`sealpost nodes: ${where}: no Sealpost schema yet; create it with: sealpost store init --config ${configFile}\n`);
      return 1;
    }
    const at = now();
    const nodes = nodeViews(status.nodes, at, store.leaseMs);
    if (args.flags.has('json')) {
      out.write(`${JSON.stringify({ url: where, leaseMs: store.leaseMs, checkedAt: new Date(at).toISOString(), nodes }, null, 2)}\n`);
      return 0;
    }
    const lines = nodes.map(
      (n) =>
        `${n.name}  ${n.gone ? 'gone' : 'live'}  heartbeat ${ago(n.heartbeatAgeMs)} ago  started ${new Date(n.startedAt).toISOString()}  ${n.claims} claim${n.claims === 1 ? '' : 's'}${n.leaseUntil === null ? '' : `, first lease ends ${new Date(n.leaseUntil).toISOString()}`}`,
    );
    const live = nodes.filter((n) => !n.gone).length;
    lines.push(
      `-- ${nodes.length} node${nodes.length === 1 ? '' : 's'}, ${live} live (gone: no heartbeat for more than 3 × lease = ${(3 * store.leaseMs) / 1000}s)`,
    );
    out.write(`${lines.join('\n')}\n`);
    return 0;
  } catch (e) {
    err.write(`sealpost nodes: ${where}: ${e instanceof Error ? e.message : String(e)}; ${CONNECTION_HINT}\n`);
    return 1;
  } finally {
    await pool.end().catch(() => undefined);
  }
}
