// What a node of [store] kind = "postgres" shares beside the queue, built once for main.ts: the
// shared files (sync.ts, writer and sync), the ACME renewer lock (lock.ts) and the shared
// challenge tables (challenges.ts), over a small pool of their own. The node's name is
// store.node, else the machine's host name (as its queue claims).
// Side effects: a PostgreSQL pool, the LISTEN and lock connections, the sync's timer.
import os from 'node:os';
import pg from 'pg';
import type { ChallengeTable } from '../acme/responder.ts';
import type { StoreConfig } from '../config/types.ts';
import { type FileWriter, localFiles } from '../core/durable-fs.ts';
import type { Logger } from '../log/log.ts';
import { clientConfig, openPool } from '../queue/pg/connect.ts';
import type { AlpnChallenges } from '../tls/alpn-challenges.ts';
import { sharedAlpnChallenges, sharedChallengeTable } from './challenges.ts';
import { ACME_LOCK, type SessionLock, sessionLock } from './lock.ts';
import { sharedWriter, startSharedFiles } from './sync.ts';

export interface NodeSharing {
  readonly node: string;
  /** The writer of the ACME cache and DKIM keys on this node. */
  readonly files: FileWriter;
  /** The ACME renewer lock. */
  readonly leader: SessionLock;
  challenges(local: ChallengeTable): ChallengeTable;
  alpn(local: AlpnChallenges): AlpnChallenges;
  /** Who hears of the paths a sync changed (set once what reloads them has started). */
  onChange(handler: (paths: string[]) => unknown): void;
  close(): Promise<void>;
}

export type PostgresStore = Extract<StoreConfig, { kind: 'postgres' }>;

export function nodeName(store: PostgresStore): string {
  return store.node ?? os.hostname();
}

/** Syncs the files once before it resolves (the certificates and DKIM keys load after it). */
export async function startNodeSharing(store: PostgresStore, dataDir: string, deps: { log: Logger; now: () => number; pollMs?: number }): Promise<NodeSharing> {
  const settings = { url: store.url, ...(store.passwordFile ? { passwordFile: store.passwordFile } : {}) };
  const pool = openPool(settings, 3);
  const makeClient = () => new pg.Client(clientConfig(settings));
  const node = nodeName(store);
  let handler: (paths: string[]) => unknown = () => undefined;
  try {
    const shared = await startSharedFiles({
      pool,
      makeClient,
      dataDir,
      node,
      log: deps.log,
      now: deps.now,
      onChange: (paths) => handler(paths),
      ...(deps.pollMs !== undefined ? { pollMs: deps.pollMs } : {}),
    });
    const leader = sessionLock(makeClient, ACME_LOCK);
    return {
      node,
      files: shared.files,
      leader,
      challenges: (local) => sharedChallengeTable(local, pool, deps.now),
      alpn: (local) => sharedAlpnChallenges(local, pool, deps.now),
      onChange(h) {
        handler = h;
      },
      async close() {
        await shared.close();
        await leader.close();
        await pool.end().catch(() => undefined);
      },
    };
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }
}

/**
 * For a command that writes shared files (`sealpost dkim keygen`, `sealpost dane rollover`): the
 * shared writer with kind = "postgres" (its pool closed after `fn`), else the local disk.
 */
export async function withFileWriter<T>(store: StoreConfig, dataDir: string, fn: (files: FileWriter) => Promise<T>): Promise<T> {
  if (store.kind !== 'postgres') return fn(localFiles);
  const pool = openPool({ url: store.url, ...(store.passwordFile ? { passwordFile: store.passwordFile } : {}) }, 1);
  try {
    return await fn(sharedWriter({ pool, dataDir, node: nodeName(store), now: Date.now }));
  } finally {
    await pool.end().catch(() => undefined);
  }
}
