// Keeps this node's copy of the shared files (paths.ts) in step with the shared_files table, and
// writes this node's changes to both ([store] kind = "postgres"). The code that reads them (the
// ACME cache, the DKIM keys) keeps reading its local files.
//   syncOnce: each row whose local file differs (content or mode) is written atomically, every
//     meta.json last (the ACME cache's commit point); a path this node took from the table and
//     that has left it is removed. Returns the paths changed.
//   sharedWriter: the FileWriter of this mode: the row first (the commit every node follows),
//     then the local file.
//   startSharedFiles: a sync at start (before the certificates and DKIM keys load), then one on
//     each NOTIFY sealpost_files (LISTEN on its own connection, made again after a break) and
//     every pollMs as a fallback; onChange hears of the paths changed.
// Side effects: files under data_dir, PostgreSQL statements, one LISTEN connection, one timer.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { type FileWriter, localFiles, writeFileAtomic } from '../core/durable-fs.ts';
import type { Logger } from '../log/log.ts';
import { type Listener, listen } from '../queue/pg/listen.ts';
import { sharedPathOf, sharedPathProblem, writeOrder } from './paths.ts';
import { FILES_CHANNEL, listSharedFiles, putSharedFile, readSharedFiles, removeSharedFile } from './table.ts';

export interface SyncState {
  /** The paths this node took from the table at its last look (a path that leaves it is removed here too). */
  known: Set<string>;
}

export interface SyncResult {
  changed: string[];
  /** Rows refused (a path outside the shared set): never written. */
  refused: string[];
}

/** One look at the table; see the head of the file. */
export async function syncOnce(pool: pg.Pool, dataDir: string, state: SyncState): Promise<SyncResult> {
  const rows = await listSharedFiles(pool);
  const refused: string[] = [];
  const wanted: string[] = [];
  const present = new Set<string>();
  for (const row of rows) {
    if (sharedPathProblem(row.path) !== undefined) {
      refused.push(row.path);
      continue;
    }
    present.add(row.path);
    if (!(await sameLocal(path.join(dataDir, row.path), row.hash, row.mode))) wanted.push(row.path);
  }
  const changed: string[] = [];
  const fetched = new Map((await readSharedFiles(pool, wanted)).map((r) => [r.path, r]));
  for (const rel of writeOrder(wanted)) {
    const row = fetched.get(rel);
    if (!row) continue; // removed since the list: the next look removes it here
    const file = path.join(dataDir, rel);
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, row.content, row.mode & 0o777);
    changed.push(rel);
  }
  for (const rel of state.known) {
    if (present.has(rel) || sharedPathProblem(rel) !== undefined) continue;
    await localFiles.remove(path.join(dataDir, rel));
    changed.push(rel);
  }
  state.known = present;
  return { changed, refused };
}

async function sameLocal(file: string, hash: string, mode: number): Promise<boolean> {
  try {
    const [content, info] = await Promise.all([readFile(file), stat(file)]);
    return (info.mode & 0o777) === (mode & 0o777) && createHash('sha256').update(content).digest('hex') === hash;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** The FileWriter of postgres mode; a file outside the shared set is written locally only. */
export function sharedWriter(deps: { pool: pg.Pool; dataDir: string; node: string; now: () => number }): FileWriter {
  const { pool, dataDir, node, now } = deps;
  return {
    async write(file, data, mode, options = {}) {
      const rel = sharedPathOf(dataDir, file);
      if (rel === undefined) return localFiles.write(file, data, mode, options);
      if (options.exclusive) {
        // A local file not (yet) in the table, e.g. before `sealpost store migrate`, is not replaced either.
        const exists = await access(file, constants.F_OK).then(
          () => true,
          () => false,
        );
        if (exists) throw existsError(file);
      }
      const content = Buffer.from(data);
      const put = await putSharedFile(pool, { path: rel, content, mode, node, now: now() }, options.exclusive === true);
      if (put === 'exists') {
        // Another node was first: its copy is the one, here too.
        const [row] = await readSharedFiles(pool, [rel]);
        if (row) {
          await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
          await writeFileAtomic(file, row.content, row.mode & 0o777);
        }
        throw existsError(file);
      }
      await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
      await writeFileAtomic(file, content, mode);
    },
    async remove(file) {
      const rel = sharedPathOf(dataDir, file);
      if (rel !== undefined) await removeSharedFile(pool, rel);
      await localFiles.remove(file);
    },
  };
}

function existsError(file: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`EEXIST: file already exists, ${file}`), { code: 'EEXIST', path: file });
}

export interface SharedFiles {
  /** What the ACME cache and DKIM key writers take in this mode. */
  readonly files: FileWriter;
  /** A look now (also what NOTIFY and the poll do); the paths changed. */
  sync(): Promise<string[]>;
  close(): Promise<void>;
}

export interface SharedFilesDeps {
  pool: pg.Pool;
  /** A new client for the LISTEN connection (queue/pg/connect.ts clientConfig). */
  makeClient: () => pg.Client;
  dataDir: string;
  node: string;
  log: Logger;
  now: () => number;
  /** Told of the paths a look changed (not of this node's own writes); a rejection is logged. */
  onChange: (paths: string[]) => unknown;
  /** The fallback look when no NOTIFY comes (a missed one, a LISTEN connection being made again). */
  pollMs?: number;
}

export const SYNC_POLL_MS = 30_000;

/** The first look runs before this resolves and throws if it fails: a node must not start on files it cannot check. */
export async function startSharedFiles(deps: SharedFilesDeps): Promise<SharedFiles> {
  const { pool, dataDir, log } = deps;
  const state: SyncState = { known: new Set() };
  let running: Promise<string[]> | undefined;
  let again = false;
  let closed = false;
  let failing = false;

  const look = async (): Promise<string[]> => {
    const result = await syncOnce(pool, dataDir, state);
    if (result.refused.length > 0)
      log.error(
        { event: 'shared-files', action: 'refused', paths: result.refused },
        'shared_files rows outside certs/acme/**, dkim/** and srs/** are never written',
      );
    if (result.changed.length > 0) log.info({ event: 'shared-files', action: 'synced', paths: result.changed }, 'shared files synced from PostgreSQL');
    return result.changed;
  };
  /** One look at a time; a NOTIFY during a look makes one more after it. */
  const sync = (): Promise<string[]> => {
    if (running) {
      again = true;
      return running;
    }
    const job = (async () => {
      const changed: string[] = [];
      do {
        again = false;
        changed.push(...(await look()));
      } while (again && !closed);
      return changed;
    })();
    running = job.finally(() => {
      running = undefined;
    });
    return running;
  };
  const background = (): void => {
    if (closed) return;
    sync().then(
      async (changed) => {
        if (failing) log.info({ event: 'shared-files', action: 'recovered' }, 'shared files sync works again');
        failing = false;
        if (changed.length > 0) await deps.onChange(changed);
      },
      (err: unknown) => {
        if (!failing) log.error({ event: 'shared-files', action: 'failing', error: (err as Error).message }, 'shared files sync failed; tried again');
        failing = true;
      },
    );
  };

  await sync();
  let listener: Listener | undefined;
  try {
    listener = await listen(deps.makeClient, FILES_CHANNEL, background);
  } catch (err) {
    // The poll still finds every change; LISTEN is only the fast path.
    log.error({ event: 'shared-files', action: 'listen-failed', error: (err as Error).message }, 'cannot LISTEN for shared file changes; polling only');
  }
  const timer = setInterval(background, deps.pollMs ?? SYNC_POLL_MS);
  timer.unref();
  return {
    files: sharedWriter(deps),
    sync,
    async close() {
      closed = true;
      clearInterval(timer);
      await listener?.close();
      await running?.catch(() => undefined);
    },
  };
}
