// Several Sealpost nodes sharing one PostgreSQL queue ([store] kind = "postgres"), for the
// multi-node tests: a fresh database on the test server (postgres.ts), migrated once as
// `sealpost store init` does, then N real daemons (daemon.ts), node i named "node<i+1>" and
// listening on 127.0.0.1<i+1> (127.0.0.11, .12, .13), each with its own data_dir. Side effects:
// the database, the daemons' temp dirs and processes; all stopped when the scope ends.

import { openPool } from '../../src/queue/pg/connect.ts';
import { migrate } from '../../src/queue/pg/schema.ts';
import { type SealpostDaemon, type SealpostOptions, startSealpost } from './daemon.ts';
import { freePort } from './ports.ts';
import type { Postgres } from './postgres.ts';
import type { Overrides, SealpostToml } from './sealpost-config.ts';
import type { Scope } from './tmp.ts';

export interface NodesOptions {
  /** How many nodes (1-3). */
  count: number;
  /** Config overrides for every node (merged into the test defaults; [store] is set here). */
  config?: Overrides<SealpostToml>;
  /** Overrides for node i alone, merged after `config`. */
  perNode?: (index: number) => Overrides<SealpostToml>;
  /** [store] lease; default "6s" (renewed every 2 s), so a dead node's claims come back quickly. */
  lease?: string;
  /** An existing database URL (migrated); default: a fresh one. */
  url?: string;
  /** Passed to startSealpost (env, startTimeoutMs, processes). */
  daemon?: Omit<SealpostOptions, 'config'>;
}

export interface SealpostNodes {
  /** The shared database (no password in it; the server's passwordFile holds it). */
  readonly url: string;
  readonly nodes: readonly SealpostDaemon[];
  /** The nodes' [store] node names, by index. */
  readonly names: readonly string[];
  /** The listening address of node i (127.0.0.1<i+1>). */
  host(index: number): string;
}

let databases = 0;

/** The host of node `index` (0-based): 127.0.0.11, 127.0.0.12, 127.0.0.13. */
export function nodeHost(index: number): string {
  return `127.0.0.${11 + index}`;
}

/** A fresh database on `server`, at the schema this Sealpost needs (what `sealpost store init` does). */
export async function sharedQueueDatabase(server: Postgres, name = `nodes_${process.pid}_${++databases}`): Promise<string> {
  const url = await server.createDatabase(name);
  const pool = openPool({ url, passwordFile: server.passwordFile }, 1);
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  return url;
}

/** Starts `count` nodes one after the other (each waits for its `listening` record). */
export async function startNodes(scope: Scope, server: Postgres, options: NodesOptions): Promise<SealpostNodes> {
  if (options.count < 1 || options.count > 3) throw new Error('startNodes: 1 to 3 nodes (127.0.0.11-13)');
  const url = options.url ?? (await sharedQueueDatabase(server));
  const names = Array.from({ length: options.count }, (_, i) => `node${i + 1}`);
  const nodes: SealpostDaemon[] = [];
  for (const [i, name] of names.entries()) {
    const host = nodeHost(i);
    const own: Overrides<SealpostToml> = {
      hostname: `${name}.sealpost.test`,
      listen: { smtp: [`${host}:${await freePort(host)}`], acme_http: [`${host}:${await freePort(host)}`] },
      relay: { networks: ['127.0.0.0/8'] },
      store: { kind: 'postgres', url, password_file: server.passwordFile, node: name, lease: options.lease ?? '6s' },
    };
    const config = merge(merge(own, options.config ?? {}), options.perNode?.(i) ?? {});
    nodes.push(await startSealpost(scope, { ...options.daemon, config }));
  }
  return { url, nodes, names, host: nodeHost };
}

/** Tables merged key by key (as mergeConfig does), so a test's [store] keys add to the shared ones. */
function merge(a: Overrides<SealpostToml>, b: Overrides<SealpostToml>): Overrides<SealpostToml> {
  const out: Record<string, unknown> = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const current = out[key];
    const table = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    out[key] = table(value) && table(current) ? merge(current as Overrides<SealpostToml>, value as Overrides<SealpostToml>) : value;
  }
  return out as Overrides<SealpostToml>;
}
