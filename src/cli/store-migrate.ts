// `sealpost store migrate --to postgres://USER@HOST:PORT/DATABASE --config FILE [--json]`: the
// stopped SQLite queue of data_dir (messages with their bodies, spooled ones too, recipients,
// and every other table PostgreSQL has, plus the ACME and DKIM files) copied into an empty
// PostgreSQL database in one transaction, the counts checked after COMMIT, then the [store]
// lines that switch the node. Refused while the daemon has the database open and into a target
// that holds rows. The password comes from [store] password_file or PGPASSFILE, never printed.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { Reader } from '../config/fields.ts';
import { formatProblems, loadConfig } from '../config/load.ts';
import { readStore } from '../config/store.ts';
import { MIGRATIONS_DIR } from '../db/open.ts';
import { openPool, targetOf } from '../queue/pg/connect.ts';
import { migrate, SchemaTooNew } from '../queue/pg/schema.ts';
import { SHARED_ROOTS } from '../shared-files/paths.ts';
import { copyAll, TargetNotEmpty, targetTables, type Verified, verify } from '../store-migrate/copy.ts';
import { sharedFilesOf } from '../store-migrate/files.ts';
import { ConversionError, type CopyPlan, planCopy, type Skipped } from '../store-migrate/plan.ts';
import { FOLDED_COLUMNS, openSource, SourceUnreadable } from '../store-migrate/source.ts';
import type { Args } from './args.ts';

export async function runMigrate(configFile: string, args: Args, out: NodeJS.WritableStream, err: NodeJS.WritableStream, now = Date.now): Promise<number> {
  const to = args.values.get('to');
  if (to === undefined) {
    err.write('sealpost store migrate: --to postgres://USER@HOST:PORT/DATABASE is required (the empty database to copy the queue into)\n');
    return 2;
  }
  const loaded = await loadConfig(configFile, { acceptPostgres: true });
  if (!loaded.ok) {
    err.write(`${formatProblems(loaded.file, loaded.problems)}\n`);
    return 1;
  }
  // The same rules as [store] url (no password in it, a user and a database), said of --to.
  const r = new Reader();
  readStore(r, { kind: 'postgres', url: to }, path.dirname(loaded.file), true);
  if (r.problems.length > 0) {
    err.write(`${r.problems.map((p) => `sealpost store migrate: --to ${p.message}`).join('\n')}\n`);
    return 2;
  }
  const config = loaded.config;
  const passwordFile = config.store.kind === 'postgres' ? config.store.passwordFile : undefined;
  const t = targetOf(to);
  const where = `postgres://${t.user}@${t.host}:${t.port}/${t.database}`;

  const opened = openSource(config.dataDir);
  if (opened.kind === 'missing') {
    err.write(`sealpost store migrate: there is no SQLite queue at ${opened.file} (data_dir = ${config.dataDir}); check data_dir in ${loaded.file}\n`);
    return 1;
  }
  if (opened.kind === 'in-use') {
    err.write(
      `sealpost store migrate: ${opened.file} is in use: the daemon runs on data_dir ${config.dataDir} (or another sealpost command has the database open); stop it first (systemctl stop sealpost), then run this again. Nothing was copied\n`,
    );
    return 1;
  }
  const source = opened.source;
  const known = await knownSqliteSchema();
  const version = source.version();
  if (version > known) {
    source.close();
    err.write(
      `sealpost store migrate: ${path.join(config.dataDir, 'sealpost.db')} is at schema ${version}, newer than this Sealpost knows (${known}): run the migrate with the release that wrote it. Nothing was copied\n`,
    );
    return 1;
  }
  const pool = openPool({ url: to, ...(passwordFile ? { passwordFile } : {}) }, 2);
  try {
    const applied = await migrate(pool);
    const plan = planCopy(source.tables(), await targetTables(pool));
    const files = await sharedFilesOf(config.dataDir);
    const requeued = plan.copy.some((p) => p.table === 'recipients') ? source.activeRecipients() : 0;
    await copyAll(pool, source, plan, files, now());
    const verified = await verify(pool, source, plan, files);
    const store = { kind: 'postgres', url: where, ...(passwordFile ? { password_file: passwordFile } : {}) };
    if (args.flags.has('json')) {
      out.write(
        `${JSON.stringify({ source: { file: path.join(config.dataDir, 'sealpost.db'), version: source.version() }, target: { url: where, applied }, ...verified, requeued, skipped: plan.skipped, columnsLeft: columnsLeft(plan), store })}\n`,
      );
    } else {
      out.write(report(where, applied, verified, requeued, plan, passwordFile));
    }
    if (!verified.ok) {
      err.write(
        `sealpost store migrate: the counts in ${where} differ from the SQLite queue (above); do not switch: drop that database, create an empty one and migrate again\n`,
      );
      return 1;
    }
    return 0;
  } catch (e) {
    err.write(`sealpost store migrate: ${failure(e, where, t.user, t.database)}\n`);
    return 1;
  } finally {
    source.close();
    await pool.end().catch(() => undefined);
  }
}

/** What went wrong and what to do, for an error from the copy (the transaction was rolled back). */
function failure(e: unknown, where: string, user: string, database: string): string {
  const message = e instanceof Error ? e.message : String(e);
  if (e instanceof TargetNotEmpty)
    return `${where}: ${message}; migrate only into an empty database: create one (createdb -O ${user} ${database}_new) and give its URL to --to. Nothing was copied`;
  if (e instanceof SchemaTooNew) return message;
  if (e instanceof ConversionError)
    return `${message}; nothing was copied: correct that row in data_dir/sealpost.db (or the column in PostgreSQL), then run this again`;
  if (e instanceof SourceUnreadable)
    return `${message}; nothing was copied: restore the file, or delete the message (sealpost queue delete ID), then run this again`;
  const code = (e as { code?: unknown }).code;
  // Connection refused, host unknown, authentication failed (28xxx), no such database (3D000).
  const connecting = typeof code === 'string' && (/^E[A-Z]+$/.test(code) || code.startsWith('28') || code === '3D000');
  if (connecting || /timeout/i.test(message))
    return `${where}: ${message}; nothing was copied. Check --to, the password (store.password_file or PGPASSFILE), and that PostgreSQL accepts this host (listen_addresses, pg_hba.conf)`;
  return `${where}: ${message}; nothing was copied`;
}

/** SQLite columns of copied tables that PostgreSQL has no column for (besides those folded into others, e.g. the spool's). */
function columnsLeft(plan: CopyPlan): Record<string, string[]> {
  const left: Record<string, string[]> = {};
  for (const t of plan.copy) {
    const lost = t.dropped.filter((c) => !FOLDED_COLUMNS[t.table]?.includes(c));
    if (lost.length > 0) left[t.table] = lost;
  }
  return left;
}

/** The newest SQLite schema this program's migrations make. */
async function knownSqliteSchema(): Promise<number> {
  const numbers = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d+_.+\.sql$/.test(f)).map((f) => Number.parseInt(f, 10));
  return Math.max(0, ...numbers);
}

function report(where: string, applied: readonly number[], v: Verified, requeued: number, plan: CopyPlan, passwordFile: string | undefined): string {
  const skipped = plan.skipped;
  const width = Math.max(12, ...v.tables.map((t) => t.table.length));
  const line = (name: string, source: number, target: number, extra = '') =>
    `  ${name.padEnd(width)} ${String(source).padStart(7)} → ${String(target).padEnd(7)}${source === target ? ' ok' : ' MISMATCH'}${extra}`;
  const by = (why: Skipped['why']) =>
    skipped
      .filter((s) => s.why === why)
      .map((s) => s.table)
      .join(', ');
  const lines = [
    `${where}: schema at version ${applied.length > 0 ? `${applied[applied.length - 1]} (applied ${applied.join(', ')})` : 'current (nothing to apply)'}`,
    'copied, counted again after COMMIT (SQLite → PostgreSQL):',
    ...v.tables.map((t) => line(t.table, t.source, t.target)),
    line(
      'shared_files',
      v.files.source,
      v.files.target,
      ` (${SHARED_ROOTS.join(', ')}: ${v.files.sourceBytes} → ${v.files.targetBytes} bytes${v.files.sourceBytes === v.files.targetBytes ? '' : ' MISMATCH'})`,
    ),
  ];
  if (v.shortBodies > 0) lines.push(`  MISMATCH: ${v.shortBodies} message bodies are not as long as their size says`);
  if (requeued > 0) lines.push(`${requeued} recipient${requeued === 1 ? ' was' : 's were'} being delivered when the daemon stopped: queued again`);
  if (by('not in PostgreSQL')) lines.push(`not copied, no such table in PostgreSQL in this version: ${by('not in PostgreSQL')}`);
  if (by('node-local')) lines.push(`not copied, each node counts its own: ${by('node-local')}`);
  const left = Object.entries(columnsLeft(plan)).flatMap(([table, columns]) => columns.map((c) => `${table}.${c}`));
  if (left.length > 0) lines.push(`not copied, no such column in PostgreSQL: ${left.join(', ')}`);
  if (v.ok) {
    lines.push(
      'every count matches. To switch this node to PostgreSQL, put in its config:',
      '  [store]',
      '  kind = "postgres"',
      `  url = "${where}"`,
      passwordFile
        ? `  password_file = "${passwordFile}"`
        : '  password_file = "/etc/sealpost/pg-password"   # the password alone, mode 0600; or set PGPASSFILE',
      'then start it. data_dir/sealpost.db is left as it was: never start Sealpost on it again (its queue would go out twice).',
    );
  }
  return `${lines.join('\n')}\n`;
}
