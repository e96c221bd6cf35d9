// Connections to the PostgreSQL queue ([store] kind = "postgres"): a pg.Pool for the store's
// statements and single clients (LISTEN), from the URL and the password in password_file, else
// PGPASSFILE (libpq's format, pgpass.ts). The password is read when a connection is made, so a
// changed file applies to new connections, and it never appears in the config or a log.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import pg from 'pg';
import { type PgTarget, pgpassLookup } from './pgpass.ts';

export interface PgSettings {
  /** postgres://USER@HOST:PORT/DATABASE (config/store.ts checked it has no password). */
  url: string;
  passwordFile?: string;
}

/** Host, port, database and user of a checked URL. */
export function targetOf(url: string): PgTarget {
  const u = new URL(url);
  return {
    host: decodeURIComponent(u.hostname.replace(/^\[|\]$/g, '')),
    port: u.port === '' ? 5432 : Number(u.port),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')),
    user: decodeURIComponent(u.username),
  };
}

/** The password for a new connection: password_file's first line, or PGPASSFILE's matching entry. */
export async function readPassword(settings: PgSettings, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (settings.passwordFile) return (await readFile(settings.passwordFile, 'utf8')).split(/\r?\n/)[0] ?? '';
  const file = env['PGPASSFILE'];
  if (!file) return '';
  return pgpassLookup(await readFile(file, 'utf8'), targetOf(settings.url)) ?? '';
}

/** A pg client config: every connection commits durably (synchronous_commit on) and says who it is. */
export function clientConfig(settings: PgSettings): pg.ClientConfig {
  const t = targetOf(settings.url);
  return {
    host: t.host,
    port: t.port,
    database: t.database,
    user: t.user,
    password: () => readPassword(settings),
    application_name: `sealpost ${os.hostname()}`,
    // RFC 5321 §6.1: the 250 means we took responsibility; it waits for a commit on disk.
    options: '-c synchronous_commit=on',
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
  };
}

export function openPool(settings: PgSettings, max = 10): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(settings), max, idleTimeoutMillis: 30_000 });
  // An idle client's connection that breaks (server restart) must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  // Nor a checked-out one's: pg-pool takes its idle listener off a client it hands out, so a
  // server that ends the connection (57P01 at a restart) while no query runs on it emitted an
  // unhandled 'error' and ended the process (seen once with two nodes under load). Every client
  // keeps a listener for its whole life; the query under way fails with the error anyway, and the
  // pool discards a client that is no longer queryable when it comes back.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/**
 * A client of the pool for one transaction, given back when `fn` settles. pg-pool takes its own
 * error listener off a client it hands out: without one, a connection the server ends while the
 * client is out (a restart, pg_terminate_backend) is an unhandled 'error' event, which ends the
 * process. The statement under way fails with that error anyway; the broken client is discarded.
 */
export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (err: Error): void => {
    broken = err;
  };
  client.on('error', onError);
  try {
    return await fn(client);
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}
