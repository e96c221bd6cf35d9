// [store] (pure): where the queue lives. "sqlite" (the default: the embedded database in
// data_dir) or "postgres" (one PostgreSQL database several nodes share, src/queue/pg/). The
// password never sits in the config: it comes from password_file (mode 0600, checked by load.ts), or PGPASSFILE.
import path from 'node:path';
import type { Reader, Table } from './fields.ts';
import { duration } from './sections.ts';
import type { StoreConfig } from './types.ts';

export const STORE_KINDS = ['sqlite', 'postgres'] as const;

/** The message config check and start give while the daemon cannot run on PostgreSQL yet. */
export const POSTGRES_NOT_WIRED =
  'store.kind = postgres is not wired into the daemon yet: the PostgreSQL queue store exists (src/queue/pg/) but `sealpost start` still runs on SQLite; use kind = "sqlite" (the default) for now';

/**
 * `acceptPostgres`: the caller can use a PostgreSQL store (`sealpost store …`); for everyone else
 * (start, config check, the queue commands) kind = "postgres" is a problem until the daemon runs on it.
 */
export function readStore(r: Reader, t: Table, baseDir: string, acceptPostgres = false): StoreConfig {
  r.unknownKeys(t, 'store', ['kind', 'url', 'password_file', 'node', 'lease']);
  const kind = r.oneOf(t, 'kind', 'store', STORE_KINDS, 'sqlite');
  if (kind === 'sqlite') {
    for (const key of ['url', 'password_file', 'node', 'lease'])
      if (t[key] !== undefined) r.problem(`store.${key}`, 'is for kind = "postgres" only; remove it, or set kind = "postgres"');
    return { kind };
  }
  const url = r.string(t, 'url', 'store');
  checkUrl(r, url);
  const passwordFile = r.string(t, 'password_file', 'store', '');
  const node = r.string(t, 'node', 'store', '');
  if (node !== '' && !/^[A-Za-z0-9._:-]{1,64}$/.test(node)) r.problem('store.node', `"${node}" must be 1-64 letters, digits, ".", "_", ":" or "-", e.g. "mx1"`);
  const leaseMs = duration(r, t, 'lease', '60s', false, 'store');
  if (leaseMs < 5000) r.problem('store.lease', 'must be at least "5s": a node renews its claims every third of it');
  // Until the daemon runs on it, saying so beats starting on SQLite while the operator thinks otherwise.
  if (!acceptPostgres) r.problem('store.kind', POSTGRES_NOT_WIRED);
  return { kind, url, ...(passwordFile ? { passwordFile: path.resolve(baseDir, passwordFile) } : {}), ...(node ? { node } : {}), leaseMs };
}

function checkUrl(r: Reader, url: string): void {
  if (url === '') return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    r.problem('store.url', `"${url}" is not a URL; write "postgres://USER@HOST:5432/DATABASE"`);
    return;
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:')
    r.problem('store.url', `must start with postgres://, e.g. "postgres://sealpost@db.example.org:5432/sealpost"; got "${parsed.protocol}"`);
  // The URL is logged and shown; a password in it would be too (never echo it back here either).
  if (parsed.password !== '') r.problem('store.url', 'must not hold a password; put it in a file named by store.password_file (mode 0600), or in PGPASSFILE');
  if (parsed.username === '') r.problem('store.url', 'needs a user name, e.g. "postgres://sealpost@db.example.org/sealpost"');
  if (parsed.pathname.replace(/^\//, '') === '') r.problem('store.url', 'needs a database name, e.g. "postgres://sealpost@db.example.org/sealpost"');
  if (parsed.search !== '') r.problem('store.url', 'takes no ?parameters in this version; write "postgres://USER@HOST:PORT/DATABASE"');
}
