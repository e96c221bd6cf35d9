// The PostgreSQL side of `sealpost store migrate`: the target's tables and columns
// (information_schema, pg_constraint), the copy of every planned table and the shared files in one
// transaction (refused when the target already holds rows; identity columns written with
// OVERRIDING SYSTEM VALUE and their sequences moved past the copied ids), and the check after
// COMMIT that every table and the files have as many rows as the source. Writes only the target.
import type pg from 'pg';
import type { SharedFile } from './files.ts';
import { type CopyPlan, convertValue, type PgColumn, type PgTable, type TablePlan } from './plan.ts';
import type { SqliteSource } from './source.ts';

/** pg_advisory_xact_lock key of a migrate ("SPMIGRAT"): two at once into one database wait for each other. */
export const COPY_LOCK = 0x5350_4d49_4752_4154n;

/** The target already holds rows: the copy would mix two queues. */
export class TargetNotEmpty extends Error {
  readonly tables: readonly string[];
  constructor(tables: readonly string[]) {
    super(`it already holds rows in ${tables.join(', ')}`);
    this.tables = tables;
  }
}

/** The base tables of the current schema, their columns in order and the tables their foreign keys reference. */
export async function targetTables(db: pg.Pool | pg.PoolClient): Promise<PgTable[]> {
  const { rows } = await db.query<{ table_name: string; column_name: string; data_type: string; is_identity: string; is_generated: string }>(
    `SELECT c.table_name, c.column_name, c.data_type, c.is_identity, c.is_generated
       FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
      ORDER BY c.table_name, c.ordinal_position`,
  );
  const fks = await db.query<{ child: string; parent: string }>(
    `SELECT c.relname AS child, p.relname AS parent
       FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid
      WHERE k.contype = 'f' AND c.relnamespace = current_schema()::regnamespace`,
  );
  const tables = new Map<string, { columns: PgColumn[]; references: string[] }>();
  for (const r of rows) {
    const t = tables.get(r.table_name) ?? { columns: [], references: [] };
    t.columns.push({ name: r.column_name, type: r.data_type, identity: r.is_identity === 'YES', generated: r.is_generated === 'ALWAYS' });
    tables.set(r.table_name, t);
  }
  for (const fk of fks.rows) tables.get(fk.child)?.references.push(fk.parent);
  return [...tables].map(([name, t]) => ({ name, ...t }));
}

export interface Copied {
  /** Rows written per table, in copy order. */
  rows: { table: string; rows: number }[];
  files: number;
}

/**
 * Copies `plan` and `files` in one transaction; nothing is committed when anything fails (a
 * conversion, a constraint, a spool file that cannot be read, a target that is not empty).
 */
export async function copyAll(pool: pg.Pool, source: SqliteSource, plan: CopyPlan, files: readonly SharedFile[], now: number): Promise<Copied> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [COPY_LOCK.toString()]);
    const written = [...plan.copy.map((t) => t.table), 'shared_files'];
    // Nodes that start meanwhile read, but write nothing until this commits.
    await client.query(`LOCK TABLE ${written.map(ident).join(', ')} IN EXCLUSIVE MODE`);
    const occupied: string[] = [];
    for (const table of written) {
      const { rows } = await client.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${ident(table)}) AS any`);
      if (rows[0]?.any) occupied.push(table);
    }
    if (occupied.length > 0) throw new TargetNotEmpty(occupied);
    const copied: Copied = { rows: [], files: 0 };
    for (const table of plan.copy) copied.rows.push({ table: table.table, rows: await copyTable(client, source, table) });
    for (const table of plan.copy) await moveSequences(client, table);
    for (const f of files) {
      await client.query('INSERT INTO shared_files (path, content, mode, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)', [
        f.path,
        f.content,
        f.mode,
        now,
        'migrate',
      ]);
      copied.files++;
    }
    await client.query('COMMIT');
    return copied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

async function copyTable(client: pg.PoolClient, source: SqliteSource, plan: TablePlan): Promise<number> {
  if (plan.columns.length === 0) return 0;
  const columns = plan.columns.map((c) => ident(c.name)).join(', ');
  const overriding = plan.identity ? ' OVERRIDING SYSTEM VALUE' : '';
  let rows = 0;
  for await (const batch of source.rows(plan.table, plan.columns.length)) {
    const values: unknown[] = [];
    const tuples = batch.map((row) => {
      const start = values.length;
      for (const c of plan.columns) values.push(convertValue(row[c.name] ?? null, c, plan.table));
      return `(${plan.columns.map((_, i) => `$${start + i + 1}`).join(', ')})`;
    });
    await client.query(`INSERT INTO ${ident(plan.table)} (${columns})${overriding} VALUES ${tuples.join(', ')}`, values);
    rows += batch.length;
  }
  return rows;
}

/** Identity and serial columns: their sequence continues after the largest copied value. */
async function moveSequences(client: pg.PoolClient, plan: TablePlan): Promise<void> {
  for (const c of plan.columns) {
    const { rows } = await client.query<{ seq: string | null }>('SELECT pg_get_serial_sequence($1, $2) AS seq', [ident(plan.table), c.name]);
    const seq = rows[0]?.seq;
    if (!seq) continue;
    await client.query(`SELECT setval($1::regclass, m) FROM (SELECT max(${ident(c.name)}) AS m FROM ${ident(plan.table)}) x WHERE m IS NOT NULL`, [seq]);
  }
}

export interface TableCheck {
  table: string;
  source: number;
  target: number;
}

export interface Verified {
  tables: TableCheck[];
  files: { source: number; target: number; sourceBytes: number; targetBytes: number };
  /** Messages whose body length differs from their size column (0 when all bodies arrived whole). */
  shortBodies: number;
  ok: boolean;
}

/** Counts per table and of the files in both databases, read after COMMIT. */
export async function verify(pool: pg.Pool, source: SqliteSource, plan: CopyPlan, files: readonly SharedFile[]): Promise<Verified> {
  const tables: TableCheck[] = [];
  for (const t of plan.copy) {
    const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${ident(t.table)}`);
    tables.push({ table: t.table, source: source.count(t.table), target: Number(rows[0]?.n ?? -1) });
  }
  const f = await pool.query<{ n: string; bytes: string | null }>('SELECT count(*) AS n, sum(length(content)) AS bytes FROM shared_files');
  const filesCheck = {
    source: files.length,
    target: Number(f.rows[0]?.n ?? -1),
    sourceBytes: files.reduce((n, x) => n + x.content.length, 0),
    targetBytes: Number(f.rows[0]?.bytes ?? 0),
  };
  const messages = plan.copy.find((t) => t.table === 'messages');
  let shortBodies = 0;
  if (messages?.columns.some((c) => c.name === 'body') && messages.columns.some((c) => c.name === 'size')) {
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM messages WHERE length(body) <> size');
    shortBodies = Number(rows[0]?.n ?? 0);
  }
  const ok =
    tables.every((t) => t.source === t.target) &&
    filesCheck.source === filesCheck.target &&
    filesCheck.sourceBytes === filesCheck.targetBytes &&
    shortBodies === 0;
  return { tables, files: filesCheck, shortBodies, ok };
}

function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
