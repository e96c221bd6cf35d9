// The shared_files table (PostgreSQL schema version 2, src/queue/pg/schema.ts): the one copy of
// the files every node keeps on its disk. Each change is one statement that also sends
// NOTIFY sealpost_files (delivered at its commit), so the other nodes sync at once.
// Side effects: PostgreSQL statements only.
import type pg from 'pg';

export const FILES_CHANNEL = 'sealpost_files';

/** A row without its content: what a sync compares with the local copy. */
export interface SharedFileRow {
  path: string;
  mode: number;
  /** sha256 of the content, hex. */
  hash: string;
}

/**
 * Stores `content` at `path`. `exclusive`: only when no row holds `path` yet; 'exists' otherwise
 * (the first writer wins, as an O_EXCL create on one disk).
 */
export async function putSharedFile(
  pool: pg.Pool,
  file: { path: string; content: Buffer; mode: number; node: string; now: number },
  exclusive = false,
): Promise<'written' | 'exists'> {
  const conflict = exclusive
    ? 'DO NOTHING'
    : 'DO UPDATE SET content = excluded.content, mode = excluded.mode, updated_at = excluded.updated_at, updated_by = excluded.updated_by';
  const { rowCount } = await pool.query(
    `WITH w AS (
       INSERT INTO shared_files (path, content, mode, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (path) ${conflict} RETURNING path)
     SELECT pg_notify('${FILES_CHANNEL}', path) FROM w`,
    [file.path, file.content, file.mode, file.now, file.node],
  );
  return rowCount === 1 ? 'written' : 'exists';
}

export async function removeSharedFile(pool: pg.Pool, path: string): Promise<void> {
  await pool.query(`WITH d AS (DELETE FROM shared_files WHERE path = $1 RETURNING path) SELECT pg_notify('${FILES_CHANNEL}', path) FROM d`, [path]);
}

export async function listSharedFiles(pool: pg.Pool): Promise<SharedFileRow[]> {
  const { rows } = await pool.query<SharedFileRow>(`SELECT path, mode, encode(sha256(content), 'hex') AS hash FROM shared_files ORDER BY path`);
  return rows;
}

export async function readSharedFiles(pool: pg.Pool, paths: readonly string[]): Promise<{ path: string; content: Buffer; mode: number }[]> {
  if (paths.length === 0) return [];
  const { rows } = await pool.query<{ path: string; content: Buffer; mode: number }>('SELECT path, content, mode FROM shared_files WHERE path = ANY($1)', [
    paths,
  ]);
  return rows;
}
