// `sealpost store init|status --config FILE [--json]`: the PostgreSQL queue store of [store]
// kind = "postgres" (`store migrate --to URL` copies a SQLite queue into one: store-migrate.ts).
// init creates or upgrades its schema (once, under an advisory lock: safe while other nodes
// start); status shows, from any node, the schema version, the nodes with their last
// heartbeat and claims, and the recipients by state. Reads the password as the store does
// (password_file or PGPASSFILE) and never prints it.
import { formatProblems, loadConfig } from '../config/load.ts';
import { pgQueueStatus } from '../queue/pg/admin.ts';
import { openPool, targetOf } from '../queue/pg/connect.ts';
import { CONNECTION_HINT } from '../queue/pg/faults.ts';
import { migrate, SchemaTooNew } from '../queue/pg/schema.ts';
import type { Args } from './args.ts';

export async function run(configFile: string, args: Args, out = process.stdout, err = process.stderr, now = Date.now): Promise<number> {
  const [, action] = args.words;
  if (action === 'migrate') return (await import('./store-migrate.ts')).runMigrate(configFile, args, out, err, now);
  if (action !== 'init' && action !== 'status') {
    err.write(`sealpost store: unknown subcommand "${action ?? ''}"; try: sealpost store init|status|migrate --config FILE\n`);
    return 2;
  }
  const loaded = await loadConfig(configFile, { acceptPostgres: true });
  if (!loaded.ok) {
    err.write(`${formatProblems(loaded.file, loaded.problems)}\n`);
    return 1;
  }
  const store = loaded.config.store;
  if (store.kind !== 'postgres') {
    err.write(
      `sealpost store ${action}: ${loaded.file} has store.kind = "sqlite" (the queue is data_dir/sealpost.db); set [store] kind = "postgres" and url to use PostgreSQL\n`,
    );
    return 1;
  }
  const t = targetOf(store.url);
  const where = `postgres://${t.user}@${t.host}:${t.port}/${t.database}`;
  const pool = openPool(store, 1);
  try {
    if (action === 'init') {
      const applied = await migrate(pool);
      const status = await pgQueueStatus(pool);
      out.write(`${where}: schema at version ${status.schema.version}${applied.length > 0 ? ` (applied ${applied.join(', ')})` : ' (already current)'}\n`);
      return 0;
    }
    const status = await pgQueueStatus(pool);
    if (args.flags.has('json')) {
      out.write(`${JSON.stringify({ url: where, ...status })}\n`);
      return status.schema.version === 0 ? 1 : 0;
    }
    if (status.schema.version === 0) {
      err.write(`${where}: no Sealpost schema yet; create it with: sealpost store init --config ${configFile}\n`);
      return 1;
    }
    const behind = status.schema.version < status.schema.known ? ` (this Sealpost knows ${status.schema.known}: run sealpost store init)` : '';
    const ahead = status.schema.version > status.schema.known ? ` (newer than this Sealpost knows, ${status.schema.known}: upgrade this node)` : '';
    const c = status.counts;
    const lines = [
      `${where}: schema version ${status.schema.version}${behind}${ahead}`,
      c ? `queue: ${c.messages} messages; recipients ${c.queued} queued, ${c.active} active, ${c.held} held` : 'queue: -',
      `nodes: ${status.nodes.length}`,
      ...status.nodes.map(
        (n) =>
          `  ${n.name}: heartbeat ${ago(now() - n.heartbeatAt)} ago, ${n.claims} claim${n.claims === 1 ? '' : 's'}${n.leaseUntil === null ? '' : `, first lease ends ${new Date(n.leaseUntil).toISOString()}`}`,
      ),
    ];
    out.write(`${lines.join('\n')}\n`);
    return 0;
  } catch (e) {
    if (e instanceof SchemaTooNew) err.write(`sealpost store ${action}: ${e.message}\n`);
    else err.write(`sealpost store ${action}: ${where}: ${e instanceof Error ? e.message : String(e)}; ${CONNECTION_HINT}\n`);
    return 1;
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** A heartbeat's age in words: 45s, 12m, 3h. */
export function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}
