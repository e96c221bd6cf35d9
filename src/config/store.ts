// [store] (pure): where the queue lives. "sqlite" (the default: the embedded database in
// data_dir) or "postgres" (one PostgreSQL database several nodes share, src/queue/pg/). The
// password never sits in the config: it comes from password_file (mode 0600, checked by load.ts), or PGPASSFILE.
import path from 'node:path';
import type { Reader, Table } from './fields.ts';
import { duration } from './sections.ts';
import type { StoreConfig } from './types.ts';

export const STORE_KINDS = ['sqlite', 'postgres'] as const;

/** What readStore needs of the [[domain]] tables: how each delivers (absent: Maildir). */
export interface DomainDelivery {
  delivery?: { kind: string };
}

/**
 * `acceptPostgres`: the caller only talks to the database (`sealpost store …`), so the daemon's
 * own checks of kind = "postgres" (no Maildir delivery, below) are not its business.
 */
export function readStore(r: Reader, t: Table, baseDir: string, acceptPostgres = false, domains: readonly DomainDelivery[] = []): StoreConfig {
  r.unknownKeys(t, 'store', ['kind', 'url', 'password_file', 'node', 'lease', 'allow_local_maildir']);
  const kind = r.oneOf(t, 'kind', 'store', STORE_KINDS, 'sqlite');
  if (kind === 'sqlite') {
    for (const key of ['url', 'password_file', 'node', 'lease', 'allow_local_maildir'])
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
  const allowLocalMaildir = r.boolean(t, 'allow_local_maildir', 'store', false);
  // Any node may claim any recipient: a Maildir on one node's disk would get the mail of whichever
  // node delivered it. Local mail goes to a Dovecot the nodes share, over LMTP.
  if (!acceptPostgres && !allowLocalMaildir)
    domains.forEach((d, i) => {
      if (d.delivery?.kind !== 'lmtp')
        r.problem(
          `domain[${i}].delivery`,
          'is Maildir (the default), but with [store] kind = "postgres" any node may deliver it, each to its own disk: set delivery = "lmtp:HOST:PORT" (or "lmtp:unix:PATH") to a Dovecot the nodes share, or, for one node alone, [store] allow_local_maildir = true',
        );
    });
  return {
    kind,
    url,
    ...(passwordFile ? { passwordFile: path.resolve(baseDir, passwordFile) } : {}),
    ...(node ? { node } : {}),
    leaseMs,
    ...(allowLocalMaildir ? { allowLocalMaildir } : {}),
  };
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
