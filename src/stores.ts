// The daemon's stores, built in one place by [store] kind: the node-local SQLite database at
// data_dir (always: session stats, rspamd stats, DNSBL counts, local delivery stats, and for now
// every table not moved yet), and the queue, on that database (kind "sqlite") or on PostgreSQL
// (kind "postgres": a pool, this node's PgQueueStore with its lease, heartbeat and LISTEN). A store
// that moves to PostgreSQL is swapped here, in openStores, and nowhere else: the users, attempts,
// MTA-STS cache and TLS report state follow the queue (shared-state/stores.ts, on this pool).
import os from 'node:os';
import type pg from 'pg';
import type { StoreConfig } from './config/types.ts';
import type { SharedSlots } from './core/limiter.ts';
import type { Db } from './db/open.ts';
import { StorageHealth } from './db/storage-fault.ts';
import { type Logger, mailLog } from './log/log.ts';
import type { QueueSizes } from './metrics/queue-sizes.ts';
import type { QueueStoreContract } from './queue/contract.ts';
import type { PgQueueStore } from './queue/pg/store.ts';
import type { RetryPolicy } from './queue/schedule.ts';
import { Spool, spoolDirOf } from './queue/spool.ts';
import { SqliteQueueStoreContract } from './queue/sqlite-contract.ts';
import { QueueStore } from './queue/store.ts';
import { openSharedStores, type SharedStores } from './shared-state/stores.ts';

export interface DaemonStores {
  readonly kind: StoreConfig['kind'];
  /** The node-local SQLite database (data_dir). */
  readonly db: Db;
  /** The queue the workers, intake and the session processes' primary use. */
  readonly queue: QueueStoreContract;
  /** Users, attempts, the MTA-STS cache, TLS reports received and sent: in db, or on the nodes' PostgreSQL beside the queue. */
  readonly shared: SharedStores;
  /**
   * kind "postgres": the queue gauges of listen.metrics (a scrape reads synchronously), refreshed
   * every 10 s while `watchSizes` runs; absent: the metrics read the SQLite queue themselves.
   */
  readonly queueSizes?: () => QueueSizes;
  /** Starts refreshing queueSizes (with listen.metrics only); returns its stop. */
  watchSizes?(): () => void;
  /** Where large bodies are written as they arrive (data_dir/spool; with PostgreSQL only until COMMIT). */
  readonly spool: Spool;
  /**
   * The queue's health as the workers see it: the disk's (SQLite, shared with the listeners) or the
   * PostgreSQL connection's (its faults waited out, never a crash).
   */
  readonly queueHealth: StorageHealth;
  /** kind "postgres": this node's name on its claims, and the pool (others' stores may share it). */
  readonly node?: string;
  readonly pool?: pg.Pool;
  /** kind "postgres": [outbound] concurrency_per_destination counted over every node (queue/pg/slots.ts). */
  readonly slots?: SharedSlots;
  /** At start-up, before the workers: this node's work in flight at its last stop queued again. Returns a stop for retries. */
  recover(): Promise<() => void>;
  /** Removes the spool files no message names (written before a crash). Returns how many. */
  sweepSpool(): Promise<number>;
  /** Stops for the caller's list, in the order to push them (it stops them in reverse). */
  readonly stops: { name: string; stop: () => unknown }[];
}

export interface StoresDeps {
  store: StoreConfig;
  dataDir: string;
  retry: RetryPolicy;
  /** The node-local database, opened by the caller (main.ts opens it on a full disk too). */
  db: Db;
  /** The disk's health (the listeners share it). */
  storage: StorageHealth;
  log: Logger;
  now: () => number;
  /** PostgreSQL connections of this node's pool. */
  poolSize?: number;
}

export async function openStores(deps: StoresDeps): Promise<DaemonStores> {
  const { db, log, now, storage } = deps;
  const config = deps.store;
  if (config.kind === 'sqlite') {
    const store = new QueueStore(db, deps.retry);
    const shared = await openSharedStores({ store: config }, { db, onAttemptsError: (err) => attemptsLost(err, storage, log) });
    return {
      kind: 'sqlite',
      db,
      queue: new SqliteQueueStoreContract(store, db),
      shared,
      spool: store.spool,
      queueHealth: storage,
      async recover() {
        return storage.untilWritten('recover', () => {
          const recovered = store.recover();
          if (recovered > 0) mailLog(log, 'daemon', { state: 'recovered', recipients: recovered }, 'deliveries in flight at the last stop are queued again');
        });
      },
      sweepSpool: () => store.sweepSpool(),
      // Before the database closes, after the couriers (started later, stopped first): their last attempts are written.
      stops: [{ name: 'shared stores', stop: () => shared.close() }],
    };
  }
  // Loaded only for kind "postgres": pg stays out of an SQLite daemon's memory.
  const [
    { default: pg },
    { clientConfig, openPool, targetOf },
    { CONNECTION_HINT, isConnectionFault },
    { PgQueueStore },
    { pgQueueSizes },
    { PgDestinationSlots },
  ] = await Promise.all([
    import('pg'),
    import('./queue/pg/connect.ts'),
    import('./queue/pg/faults.ts'),
    import('./queue/pg/store.ts'),
    import('./queue/pg/admin.ts'),
    import('./queue/pg/slots.ts'),
  ]);
  const node = config.node ?? os.hostname();
  const settings = { url: config.url, ...(config.passwordFile ? { passwordFile: config.passwordFile } : {}) };
  const pool = openPool(settings, deps.poolSize ?? 20);
  const stops: DaemonStores['stops'] = [{ name: 'queue database pool', stop: () => pool.end() }];
  let queue: PgQueueStore;
  try {
    queue = await PgQueueStore.open({
      pool,
      node,
      retry: deps.retry,
      leaseMs: config.leaseMs,
      now,
      listenClient: () => new pg.Client(clientConfig(settings)),
    });
  } catch (err) {
    await pool.end().catch(() => undefined);
    if (!isConnectionFault(err) && !/password authentication failed|does not exist/.test((err as Error).message)) throw err;
    // The start-up fails (a supervisor starts it again); the operator is told where to look.
    const t = targetOf(config.url);
    throw new Error(
      `the PostgreSQL queue at postgres://${t.user}@${t.host}:${t.port}/${t.database} does not answer (${(err as Error).message}): ${CONNECTION_HINT}`,
      { cause: err },
    );
  }
  stops.push({ name: 'queue store', stop: () => queue.close() });
  // This node's slots of each destination, with the claims' lease: a dead node's free up with its claims.
  let slots: Awaited<ReturnType<typeof PgDestinationSlots.open>>;
  try {
    slots = await PgDestinationSlots.open({ pool, node, leaseMs: config.leaseMs, now, listenClient: () => new pg.Client(clientConfig(settings)) });
  } catch (err) {
    await queue.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    throw err;
  }
  stops.push({ name: 'destination slots', stop: () => slots.close() });
  const queueHealth = new StorageHealth({
    log,
    now,
    isFault: isConnectionFault,
    // A database comes back in seconds (a restart, a fail-over): look again soon, not after 30 s.
    minBackoffMs: 500,
    maxBackoffMs: 5000,
    readsHeal: true,
    failingText: 'the queue database (PostgreSQL) does not answer; deliveries wait and retry, new mail gets 451 4.3.0',
    recoveredText: 'the queue database (PostgreSQL) answers again',
  });
  const shared = await openSharedStores({ store: config }, { pool, onAttemptsError: (err) => attemptsLost(err, queueHealth, log) });
  // Closed before the queue store and the pool (stops run in reverse).
  stops.push({ name: 'shared stores', stop: () => shared.close() });
  const spool = new Spool(spoolDirOf(deps.dataDir));
  mailLog(log, 'daemon', { state: 'queue-database', node, url: config.url, leaseMs: config.leaseMs }, `queue on PostgreSQL as node ${node}`);
  let sizes: QueueSizes = { recipients: [], messages: 0, oldestReceivedAt: undefined };
  const refresh = (): Promise<void> =>
    pgQueueSizes(pool).then(
      (s) => void (sizes = s),
      // The database does not answer: the gauges keep their last values (the workers log the episode).
      () => undefined,
    );
  return {
    kind: 'postgres',
    db,
    queue,
    shared,
    spool,
    queueHealth,
    node,
    pool,
    slots,
    queueSizes: () => sizes,
    watchSizes() {
      void refresh();
      const timer = setInterval(() => void refresh(), 10_000);
      timer.unref();
      return () => clearInterval(timer);
    },
    async recover() {
      const recovered = await queue.recover();
      if (recovered > 0)
        mailLog(log, 'daemon', { state: 'recovered', recipients: recovered, node }, "this node's deliveries in flight at its last stop are queued again");
      return () => undefined;
    },
    // The bodies are in the database once committed: every spool file left at start-up is an orphan.
    sweepSpool: () => spool.sweep(new Set()),
    stops,
  };
}

/** An attempts batch that could not be written: one 'storage' record per episode, else an error. */
function attemptsLost(err: unknown, health: StorageHealth, log: Logger): void {
  if (!health.fault('attempts', err)) log.error({ err }, 'could not record delivery attempts (the hop records have them)');
}
