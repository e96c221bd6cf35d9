// Opens the SQLite database with the pragmas durability depends on, and applies migrations.
// RFC-free zone: the rules here are SQLite's (https://sqlite.org/pragma.html#pragma_synchronous).
import path from 'node:path';
import Database from 'better-sqlite3';
import { makeDirectory } from '../core/make-dir.ts';
import { migrate } from './migrate.ts';

export type Db = Database.Database;

/** migrations/ of this installation. */
export const MIGRATIONS_DIR = path.join(import.meta.dirname, '..', '..', 'migrations');

/** The connection's page cache, KiB (PRAGMA cache_size takes a negative figure as KiB). */
export const PAGE_CACHE_KIB = 2000;

/** Opens (creating if needed) `dataDir/sealpost.db`: WAL, synchronous=FULL, foreign keys, busy timeout, a 2 MiB page cache. */
export function openDb(dataDir: string, migrationsDir: string): Db {
  makeDirectory(dataDir, 0o700);
  const db = new Database(path.join(dataDir, 'sealpost.db'));
  try {
    // A new database gives freed pages back to the file system on request (see vacuum.ts); it
    // must be set before the first table is made. An older one is converted by enableIncrementalVacuum.
    if (db.pragma('page_count', { simple: true }) === 0) db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    // FULL: a commit is on disk (WAL fsynced) before it returns; we answer 250 only after that.
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    // The page cache at SQLite's own default, 2 MiB (better-sqlite3 builds with 16 MiB): the queue's
    // hot pages are its indexes; bodies are written once and read once, and a drain left 16 MiB of
    // their pages in the process (malloc'd, never given back). The OS page cache still holds them.
    db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    migrate(db, migrationsDir);
  } catch (err) {
    // Not left open behind the error (a full disk: the caller may free room and open again).
    db.close();
    throw err;
  }
  return db;
}

/**
 * Wraps write transactions that need not wait for the disk: they run with synchronous=NORMAL,
 * which in WAL mode keeps the database consistent but may lose the last commits on power loss
 * (https://sqlite.org/pragma.html#pragma_synchronous). For writes whose loss is harmless: a claim
 * (recover() re-queues it), an outcome (the delivery is repeated: at least once), an attempt row.
 * The connection's own level (FULL) is restored after each call.
 */
export function relaxedSync(db: Db): <T>(fn: () => T) => T {
  const level = db.pragma('synchronous', { simple: true }) as number;
  const wal = !db.memory && db.pragma('journal_mode', { simple: true }) === 'wal';
  const relax = db.prepare('PRAGMA synchronous = NORMAL');
  const restore = db.prepare(`PRAGMA synchronous = ${level}`);
  return (fn) => {
    if (!wal) return fn();
    relax.run();
    try {
      return fn();
    } finally {
      restore.run();
    }
  };
}
