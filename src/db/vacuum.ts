// Giving the database's free pages back to the file system: auto_vacuum = INCREMENTAL, switched on
// for an existing database by one VACUUM (https://sqlite.org/pragma.html#pragma_auto_vacuum), then
// incremental_vacuum after deletes, in steps so the event loop is never held for long.
import type { Db } from './open.ts';

/** 2 is INCREMENTAL (0 NONE, 1 FULL). */
const INCREMENTAL = 2;

/**
 * Switches an older database (auto_vacuum NONE) to INCREMENTAL: the setting only takes on an
 * existing file through a VACUUM, which rewrites it (needs about its size free; runs once).
 * Throws what VACUUM throws (SQLITE_FULL on a full disk: the caller tries at the next start).
 */
export function enableIncrementalVacuum(db: Db): 'already' | 'converted' {
  if (db.pragma('auto_vacuum', { simple: true }) === INCREMENTAL) return 'already';
  db.pragma('auto_vacuum = INCREMENTAL');
  db.exec('VACUUM');
  return 'converted';
}

/**
 * Gives up to `pages` free pages back to the file system (truncating the file); returns how
 * many are still free. A no-op on a database that is not INCREMENTAL.
 */
export function vacuumSome(db: Db, pages: number): number {
  db.pragma(`incremental_vacuum(${Math.max(1, Math.floor(pages))})`);
  return db.pragma('freelist_count', { simple: true }) as number;
}
