// The SQLite side of `sealpost store migrate`: data_dir/sealpost.db opened with an exclusive lock
// (so it is refused while the daemon, or another sealpost command, has it open, and no daemon can
// start on it until the copy ends), its tables and columns, and its rows in batches with the two
// facts of the SQLite queue PostgreSQL has no column for: a spooled body is read back whole from
// data_dir/spool (queue/spool.ts), and a recipient left 'active' by the stopped daemon is queued
// again (its claim died with the daemon, as QueueStore.recover() does at start). Reads only,
// except that closing the database checkpoints its WAL, as any close does.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { spoolDirOf } from '../queue/spool.ts';
import type { SqliteTable, SqliteValue } from './plan.ts';

export type SourceRow = Record<string, SqliteValue>;

/** SQLite columns whose content the copy folds into others (so their absence in PostgreSQL loses nothing). */
export const FOLDED_COLUMNS: Readonly<Record<string, readonly string[]>> = { messages: ['spool', 'spool_offset'] };

/** A row's data outside the database (a spool file) is missing or unreadable. */
export class SourceUnreadable extends Error {}

export type OpenedSource = { kind: 'open'; source: SqliteSource } | { kind: 'missing'; file: string } | { kind: 'in-use'; file: string };

/** Values per batch (one INSERT): well under the 65,535 parameters PostgreSQL takes in one statement. */
const MAX_PARAMETERS = 30_000;
/** Bytes of values per batch (a larger row is a batch of its own). */
const MAX_BATCH_BYTES = 8 * 1024 * 1024;

/** data_dir/sealpost.db, locked for this process alone, or why not. */
export function openSource(dataDir: string): OpenedSource {
  const file = path.join(dataDir, 'sealpost.db');
  if (!existsSync(file)) return { kind: 'missing', file };
  const db = new Database(file, { fileMustExist: true, timeout: 0 });
  try {
    // In WAL mode every open connection holds a shared lock on the database file for its whole
    // life; EXCLUSIVE locking mode takes the exclusive lock at the first read and keeps it until
    // close (https://sqlite.org/pragma.html#pragma_locking_mode, https://sqlite.org/wal.html §8).
    db.pragma('locking_mode = EXCLUSIVE');
    db.prepare('SELECT count(*) FROM sqlite_schema').get();
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return { kind: 'in-use', file };
    throw err;
  }
  return { kind: 'open', source: new SqliteSource(db, spoolDirOf(dataDir)) };
}

export class SqliteSource {
  private readonly db: Database.Database;
  private readonly spoolDir: string;

  constructor(db: Database.Database, spoolDir: string) {
    this.db = db;
    this.spoolDir = spoolDir;
  }

  /** The schema version (PRAGMA user_version: the last migrations/NNN applied). */
  version(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  tables(): SqliteTable[] {
    const names = this.db.prepare<[], string>(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`).pluck().all();
    return names.map((name) => ({
      name,
      columns: this.db
        .prepare<[], { name: string }>(`PRAGMA table_info(${quote(name)})`)
        .all()
        .map((c) => c.name),
    }));
  }

  count(table: string): number {
    return (
      this.db
        .prepare<[], number>(`SELECT count(*) FROM ${quote(table)}`)
        .pluck()
        .get() ?? 0
    );
  }

  /** Recipients a stopped daemon left claimed ('active'): the copy queues them again. */
  activeRecipients(): number {
    return this.db.prepare<[], number>(`SELECT count(*) FROM recipients WHERE state = 'active'`).pluck().get() ?? 0;
  }

  /** The rows of `table` in batches, in rowid order, fixed up for PostgreSQL (see the file's header). */
  async *rows(table: string, columnCount: number): AsyncGenerator<SourceRow[]> {
    const maxRows = Math.max(1, Math.floor(MAX_PARAMETERS / Math.max(1, columnCount)));
    const withoutRowid = this.db.prepare<[string], number>(`SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?`).pluck().get(table) === 1;
    if (withoutRowid) {
      // No rowid to page by: such tables are small lookup tables; read them whole.
      const all = this.db
        .prepare<[], SourceRow>(`SELECT * FROM ${quote(table)}`)
        .safeIntegers(true)
        .all();
      for (let i = 0; i < all.length; i += maxRows) yield await Promise.all(all.slice(i, i + maxRows).map((r) => this.fixUp(table, r)));
      return;
    }
    const page = this.db
      .prepare<[bigint], SourceRow & { __sealpost_rowid: bigint }>(`SELECT rowid AS __sealpost_rowid, * FROM ${quote(table)} WHERE rowid > ? ORDER BY rowid`)
      .safeIntegers(true);
    let after = -(2n ** 63n);
    for (;;) {
      // One row at a time until the batch is full (rows, or bytes: large bodies), then the
      // statement ends (break) and the next batch starts after the last rowid.
      const batch: SourceRow[] = [];
      let bytes = 0;
      for (const { __sealpost_rowid: rowid, ...row } of page.iterate(after)) {
        after = rowid;
        const fixed = await this.fixUp(table, row);
        batch.push(fixed);
        bytes += sizeOf(fixed);
        if (batch.length >= maxRows || bytes >= MAX_BATCH_BYTES) break;
      }
      if (batch.length === 0) return;
      yield batch;
    }
  }

  close(): void {
    this.db.close();
  }

  private async fixUp(table: string, row: SourceRow): Promise<SourceRow> {
    if (table === 'messages' && typeof row['spool'] === 'string') {
      // migrations/006_spool.sql: body holds the trace fields and header block; the rest is the file from spool_offset on.
      const file = path.join(this.spoolDir, row['spool']);
      const rest = await readFile(file).catch((err: NodeJS.ErrnoException) => {
        throw new SourceUnreadable(`message ${String(row['id'])}: its spool file ${file} cannot be read (${err.code ?? err.message})`);
      });
      const head = Buffer.isBuffer(row['body']) ? row['body'] : Buffer.alloc(0);
      return { ...row, body: Buffer.concat([head, rest.subarray(Number(row['spool_offset'] ?? 0))]), spool: null, spool_offset: 0n };
    }
    if (table === 'recipients' && row['state'] === 'active') return { ...row, state: 'queued' };
    return row;
  }
}

function sizeOf(row: SourceRow): number {
  let n = 0;
  for (const v of Object.values(row)) n += Buffer.isBuffer(v) ? v.length : typeof v === 'string' ? v.length : 8;
  return n;
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
