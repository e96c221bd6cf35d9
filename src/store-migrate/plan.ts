// What `sealpost store migrate` copies from SQLite to PostgreSQL (pure): every table both databases
// have, except the node-local ones and the schema bookkeeping, with the columns both have, in an
// order where a row's foreign keys point at rows already copied; and each SQLite value converted to
// what its PostgreSQL column's type takes (0/1 → boolean, blob → bytea, integer → bigint). A table
// another part of Sealpost moves to PostgreSQL later (same table and column names as in SQLite) is
// copied without this file knowing it.

/** Counts of one node's own traffic: each node keeps its own (the status page of that node). */
export const NODE_LOCAL_TABLES: readonly string[] = [
  'session_stats', // inbound sessions per hour; DNSBL refusals are its dnsbl_refused column
  'rspamd_stats',
  'local_delivery_stats',
];

/** Schema bookkeeping of either database and PostgreSQL's own tables of live nodes and files. */
export const BOOKKEEPING_TABLES: readonly string[] = ['sealpost_schema', 'nodes', 'shared_files', 'sqlite_sequence'];

export interface PgColumn {
  name: string;
  /** information_schema.columns.data_type, e.g. "bigint", "boolean", "bytea", "text". */
  type: string;
  /** An identity column (GENERATED … AS IDENTITY): inserted with OVERRIDING SYSTEM VALUE. */
  identity: boolean;
  /** A generated (computed) column: never written. */
  generated: boolean;
}

export interface PgTable {
  name: string;
  columns: readonly PgColumn[];
  /** Tables this one's foreign keys reference. */
  references: readonly string[];
}

export interface SqliteTable {
  name: string;
  columns: readonly string[];
}

export interface TablePlan {
  table: string;
  /** The columns written: in both databases, PostgreSQL's order; each with its PostgreSQL type. */
  columns: readonly PgColumn[];
  /** Some column is an identity column: OVERRIDING SYSTEM VALUE, and its sequence set after. */
  identity: boolean;
  /** SQLite columns left behind (not in PostgreSQL). */
  dropped: readonly string[];
}

export interface Skipped {
  table: string;
  why: 'node-local' | 'bookkeeping' | 'not in PostgreSQL';
}

export interface CopyPlan {
  copy: readonly TablePlan[];
  skipped: readonly Skipped[];
}

export function planCopy(sqlite: readonly SqliteTable[], pg: readonly PgTable[]): CopyPlan {
  const pgByName = new Map(pg.map((t) => [t.name, t]));
  const copy: TablePlan[] = [];
  const skipped: Skipped[] = [];
  for (const s of [...sqlite].sort((a, b) => a.name.localeCompare(b.name))) {
    if (s.name.startsWith('sqlite_') || BOOKKEEPING_TABLES.includes(s.name)) {
      skipped.push({ table: s.name, why: 'bookkeeping' });
      continue;
    }
    if (NODE_LOCAL_TABLES.includes(s.name)) {
      skipped.push({ table: s.name, why: 'node-local' });
      continue;
    }
    const target = pgByName.get(s.name);
    if (!target) {
      skipped.push({ table: s.name, why: 'not in PostgreSQL' });
      continue;
    }
    const columns = target.columns.filter((c) => !c.generated && s.columns.includes(c.name));
    copy.push({
      table: s.name,
      columns,
      identity: columns.some((c) => c.identity),
      dropped: s.columns.filter((c) => !columns.some((p) => p.name === c)),
    });
  }
  return { copy: dependencyOrder(copy, pgByName), skipped };
}

/** Referenced tables first (a foreign key checks at once: PostgreSQL's are not deferrable by default). */
function dependencyOrder(tables: readonly TablePlan[], pg: ReadonlyMap<string, PgTable>): TablePlan[] {
  const names = new Set(tables.map((t) => t.table));
  const done = new Set<string>();
  const ordered: TablePlan[] = [];
  const visiting = new Set<string>();
  const visit = (t: TablePlan): void => {
    if (done.has(t.table) || visiting.has(t.table)) return; // a cycle: left in name order
    visiting.add(t.table);
    for (const ref of pg.get(t.table)?.references ?? []) {
      const dep = ref !== t.table && names.has(ref) ? tables.find((x) => x.table === ref) : undefined;
      if (dep) visit(dep);
    }
    visiting.delete(t.table);
    done.add(t.table);
    ordered.push(t);
  };
  for (const t of tables) visit(t);
  return ordered;
}

export class ConversionError extends Error {}

/** A value as better-sqlite3 reads it with safe integers on. */
export type SqliteValue = bigint | number | string | Buffer | null;

/** A value pg sends for the column's type. */
export type PgValue = boolean | string | number | Buffer | Date | null;

const INTEGER_TYPES = new Set(['bigint', 'integer', 'smallint']);
const FLOAT_TYPES = new Set(['double precision', 'real']);

/** `value` (from SQLite) as the PostgreSQL column `column` of `table` takes it; throws ConversionError. */
export function convertValue(value: SqliteValue, column: PgColumn, table: string): PgValue {
  if (value === null) return null;
  const bad = (what: string) => new ConversionError(`${table}.${column.name}: ${what} cannot go into a PostgreSQL ${column.type} column`);
  const t = column.type;
  if (t === 'boolean') {
    if (value === 0n || value === 0) return false;
    if (value === 1n || value === 1) return true;
    throw bad(`the value ${describe(value)} (a flag must be 0 or 1)`);
  }
  if (t === 'bytea') return Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'utf8');
  if (INTEGER_TYPES.has(t)) {
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'number' && Number.isInteger(value)) return String(value);
    throw bad(`the value ${describe(value)}`);
  }
  if (FLOAT_TYPES.has(t) || t === 'numeric') {
    if (typeof value === 'bigint' || typeof value === 'number') return t === 'numeric' ? String(value) : Number(value);
    throw bad(`the value ${describe(value)}`);
  }
  if (t.startsWith('timestamp')) {
    // Sealpost's SQLite times are unix ms.
    if (typeof value === 'bigint' || typeof value === 'number') return new Date(Number(value));
    throw bad(`the value ${describe(value)} (expected unix ms)`);
  }
  // text, character varying, json, jsonb and the rest: PostgreSQL parses the text form.
  if (Buffer.isBuffer(value)) {
    if (t === 'text' || t === 'character varying' || t === 'json' || t === 'jsonb') return value.toString('utf8');
    throw bad('a blob');
  }
  return typeof value === 'string' ? value : value.toString();
}

function describe(value: SqliteValue): string {
  if (Buffer.isBuffer(value)) return `a blob of ${value.length} bytes`;
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
