// Keeps the attempts table to [queue] attempts_retention: once at start and then every hour, the
// rows older than that are deleted in batches (the event loop is let go between them) and the
// freed pages are given back to the file system (db/vacuum.ts), so the file shrinks (SQLite; on
// PostgreSQL autovacuum does that). One log record per round that deleted anything. A full disk
// (or a database away) is retried at the next round.
import type { Db } from '../db/open.ts';
import type { StorageHealth } from '../db/storage-fault.ts';
import { vacuumSome } from '../db/vacuum.ts';
import type { Logger } from '../log/log.ts';
import type { AttemptsContract } from './attempts-store.ts';

export interface AttemptsPruneDeps {
  /** The SQLite database the attempts are in, whose freed pages are given back; absent on PostgreSQL. */
  db?: Db;
  attempts: Pick<AttemptsContract, 'pruneSome'>;
  retentionMs: number;
  now: () => number;
  log: Logger;
  storage?: StorageHealth;
  /** Between rounds, ms (default one hour). */
  everyMs?: number;
  /** Rows per DELETE, pages per incremental_vacuum step. */
  batchRows?: number;
  batchPages?: number;
  /** True once the daemon stops: a round in progress ends between batches. */
  stopped?: () => boolean;
}

export interface PruneRound {
  deleted: number;
  /** Pages given back to the file system. */
  pages: number;
}

/** One round: deletes what is older than the retention and shrinks the file. Throws what SQLite throws. */
export async function pruneAttempts(deps: AttemptsPruneDeps): Promise<PruneRound> {
  const { db, attempts } = deps;
  const before = deps.now() - deps.retentionMs;
  const rows = deps.batchRows ?? 2000;
  const pages = deps.batchPages ?? 1000;
  let deleted = 0;
  for (;;) {
    const n = await attempts.pruneSome(before, rows);
    deleted += n;
    if (n < rows) break;
    await yieldLoop();
    if (deps.stopped?.()) return { deleted, pages: 0 };
  }
  let given = 0;
  if (deleted > 0 && db) {
    let free = db.pragma('freelist_count', { simple: true }) as number;
    while (free > 0) {
      const left = vacuumSome(db, pages);
      // Not INCREMENTAL (converted at the next start): the pages stay free inside the file.
      if (left >= free) break;
      given += free - left;
      free = left;
      await yieldLoop();
      if (deps.stopped?.()) return { deleted, pages: given };
    }
    // The truncation reaches the file when the WAL is checkpointed; PASSIVE never waits for readers.
    db.pragma('wal_checkpoint(PASSIVE)');
  }
  return { deleted, pages: given };
}

/** Prunes now and every `everyMs`; returns a stop. Never throws: a failed round is logged. */
export function startAttemptsPruning(deps: AttemptsPruneDeps): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const round = async (): Promise<void> => {
    try {
      const done = await pruneAttempts({ ...deps, stopped: () => stopped });
      if (done.deleted > 0)
        deps.log.info(
          { event: 'daemon', state: 'pruned', table: 'attempts', deleted: done.deleted, pagesFreed: done.pages, retentionMs: deps.retentionMs },
          'old delivery attempt records deleted',
        );
    } catch (err) {
      if (!deps.storage?.fault('attempts prune', err)) deps.log.error({ err, event: 'daemon' }, 'could not prune delivery attempt records');
    }
    if (stopped) return;
    timer = setTimeout(() => void round(), deps.everyMs ?? 3_600_000);
    timer.unref();
  };
  void round();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

function yieldLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
