// Queue stores for the contract suite: the SQLite one (a database file in a temp dir) and the
// PostgreSQL one (a fresh database on a test server, migrated), both behind the async contract;
// "nodes" are more stores on the same database. Side effects: files, databases, pools; all closed
// or removed when the scope ends.
import path from 'node:path';
import pg from 'pg';
import { MIGRATIONS_DIR, openDb } from '../../src/db/open.ts';
import type { QueueStoreContract } from '../../src/queue/contract.ts';
import type { NewMessage, Transport } from '../../src/queue/message.ts';
import { clientConfig, openPool, type PgSettings } from '../../src/queue/pg/connect.ts';
import { migrate } from '../../src/queue/pg/schema.ts';
import { PgQueueStore, type PgQueueStoreDeps } from '../../src/queue/pg/store.ts';
import type { RetryPolicy } from '../../src/queue/schedule.ts';
import { SqliteQueueStoreContract } from '../../src/queue/sqlite-contract.ts';
import { QueueStore } from '../../src/queue/store.ts';
import type { Postgres } from './postgres.ts';
import { type Scope, tempDir } from './tmp.ts';

export const TEST_RETRY: RetryPolicy = { minBackoffMs: 60_000, maxBackoffMs: 3_600_000, maxLifetimeMs: 86_400_000 };

/** A small message to queue, each recipient its own address on `transport`. */
export function queuedMessage(id: string, recipients: string[], receivedAt = 1000, transport: Transport = 'local'): NewMessage {
  return {
    id,
    receivedAt,
    sender: 'sender@remote.test',
    body: Buffer.from(`Subject: ${id}\r\n\r\nbody\r\n`),
    smtputf8: false,
    eightBit: false,
    origin: 'smtp',
    recipients: recipients.map((r) => ({ rcpt: r, address: r, transport })),
  };
}

/** One queue database and how to open a store (a node, or the same node after a restart) on it. */
export interface QueueDatabase {
  open(options?: { node?: string }): Promise<QueueStoreContract>;
}

export async function sqliteQueue(scope: Scope): Promise<QueueDatabase> {
  const file = path.join(await tempDir(scope, 'sealpost-contract-'), 'queue.db');
  return {
    async open() {
      const db = openDb(file, MIGRATIONS_DIR);
      const store = new SqliteQueueStoreContract(new QueueStore(db, TEST_RETRY), db);
      scope.after(() => store.close().catch(() => undefined));
      return store;
    },
  };
}

let databases = 0;

export interface PgQueueDatabase extends QueueDatabase {
  url: string;
  open(options?: { node?: string } & Partial<Omit<PgQueueStoreDeps, 'pool' | 'node'>>): Promise<PgQueueStore>;
}

/** A fresh, migrated database; each open() is a node with its own pool (heartbeat off unless asked). */
export async function pgQueue(scope: Scope, server: Postgres): Promise<PgQueueDatabase> {
  const url = await server.createDatabase(`queue_${process.pid}_${++databases}`);
  const settings = { url, passwordFile: server.passwordFile };
  const admin = openPool(settings, 2);
  await migrate(admin);
  await admin.end();
  return pgQueueAt(scope, settings);
}

/** Nodes on a database that exists and is migrated. */
export function pgQueueAt(scope: Scope, settings: PgSettings): PgQueueDatabase {
  return {
    url: settings.url,
    async open(options = {}) {
      const pool = openPool(settings, 5);
      const store = await PgQueueStore.open({
        pool,
        node: options.node ?? 'node-a',
        retry: TEST_RETRY,
        leaseMs: 60_000,
        heartbeat: false,
        listenClient: () => new pg.Client(clientConfig(settings)),
        ...options,
      });
      scope.after(async () => {
        await store.close().catch(() => undefined);
        await pool.end().catch(() => undefined);
      });
      return store;
    },
  };
}
