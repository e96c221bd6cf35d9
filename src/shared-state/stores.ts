// The stores of the state the nodes share when [store] kind = "postgres" (submission users,
// delivery attempts, the MTA-STS policy cache, the TLS reports received and the ones sent), built
// from the config in one place for main.ts and the CLI: in data_dir's SQLite database by default,
// in the PostgreSQL database of [store] otherwise. Node-local counters (session, rspamd, DNSBL and
// local delivery stats) are not here: they stay in each node's SQLite database.
// Side effects: a pg.Pool when none is given (closed by close()).
import type pg from 'pg';
import { type UserStore, UsersStore } from '../auth/users.ts';
import { PgUsersStore } from '../auth/users-pg.ts';
import type { Config } from '../config/types.ts';
import type { Db } from '../db/open.ts';
import { PgAttemptsStore } from '../outbound/attempts-pg.ts';
import { type AttemptsContract, AttemptsStore } from '../outbound/attempts-store.ts';
import { openPool } from '../queue/pg/connect.ts';
import { MIGRATIONS, schemaVersion } from '../queue/pg/schema.ts';
import type { StsStore } from '../tls-policy/sts.ts';
import { StsCache } from '../tls-policy/sts-cache.ts';
import { PgStsCache } from '../tls-policy/sts-cache-pg.ts';
import { type TlsrptSent, TlsrptSentStore } from '../tlsrpt/sent-store.ts';
import { PgTlsrptSentStore } from '../tlsrpt/sent-store-pg.ts';
import { type ReceivedReports, TlsReportStore } from '../tlsrpt/store.ts';
import { PgTlsReportStore } from '../tlsrpt/store-pg.ts';

export interface SharedStores {
  /** Where they are: "sqlite" (data_dir) or "postgres" (shared by the nodes). */
  readonly kind: 'sqlite' | 'postgres';
  readonly users: UserStore;
  /** One attempts store for the whole process: the courier records, `queue show`, status, TLS reports and pruning read. */
  readonly attempts: AttemptsContract;
  readonly sts: StsStore;
  readonly tlsReports: ReceivedReports;
  readonly tlsrptSent: TlsrptSent;
  /** Writes the attempts still queued; ends the pool if it was opened here. */
  close(): Promise<void>;
}

export interface SharedStoresOptions {
  /** The node's SQLite database (data_dir): the stores in sqlite mode (needed there). */
  db?: Db;
  /** postgres mode: the pool of the queue store (main.ts); absent: one is opened (the CLI) and its schema checked. */
  pool?: pg.Pool;
  /** An attempts batch that could not be written (full disk, database away): the rows are dropped, the hop records have them. */
  onAttemptsError?: (err: unknown) => void;
}

/** The database's schema is older than these stores need. */
export class SharedSchemaBehind extends Error {}

export async function openSharedStores(config: Pick<Config, 'store'>, options: SharedStoresOptions): Promise<SharedStores> {
  const store = config.store;
  if (store.kind === 'sqlite') {
    const { db } = options;
    if (!db) throw new Error("the SQLite stores need data_dir's database (a bug)");
    const attempts = new AttemptsStore(db, options.onAttemptsError);
    return {
      kind: 'sqlite',
      users: new UsersStore(db),
      attempts,
      sts: new StsCache(db),
      tlsReports: new TlsReportStore(db),
      tlsrptSent: new TlsrptSentStore(db),
      close: () => attempts.flushed(),
    };
  }
  const owned = options.pool === undefined;
  const pool = options.pool ?? openPool(store, 2);
  if (owned) {
    try {
      const version = await schemaVersion(pool);
      if (version < MIGRATIONS.length)
        throw new SharedSchemaBehind(
          `the PostgreSQL database of [store] is at schema version ${version}, this Sealpost needs ${MIGRATIONS.length}: start a node, or run sealpost store init --config FILE`,
        );
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
  }
  const attempts = new PgAttemptsStore(pool, options.onAttemptsError);
  return {
    kind: 'postgres',
    users: new PgUsersStore(pool),
    attempts,
    sts: new PgStsCache(pool),
    tlsReports: new PgTlsReportStore(pool),
    tlsrptSent: new PgTlsrptSentStore(pool),
    async close() {
      await attempts.flushed();
      if (owned) await pool.end();
    },
  };
}
