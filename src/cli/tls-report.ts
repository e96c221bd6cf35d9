// `sealpost tls-report [--days N] [--json] --config FILE`: the TLS reports (RFC 8460) other
// domains sent about us, received at a [[domain]] tlsrpt_rua mailbox: per reporting organization
// and UTC day, the sessions that succeeded, the failures by result type, the sending MTAs'
// addresses. Reads the database read-only (never migrated). Exit 0; 2 on a usage error.
import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { formatProblems, loadConfig } from '../config/load.ts';
import type { Config } from '../config/types.ts';
import type { Db } from '../db/open.ts';
import { openSharedStores } from '../shared-state/stores.ts';
import { tlsRptRecords } from '../tlsrpt/record.ts';
import { readReports, type StoredPolicy } from '../tlsrpt/store.ts';
import { formatByType, type ReportDay, reportDays, reportTotals, sinceDays, totalsLine } from '../tlsrpt/summary.ts';
import type { Args } from './args.ts';

type Out = Pick<NodeJS.WriteStream, 'write'>;

export const DEFAULT_DAYS = 7;

export async function run(configFile: string, args: Args, out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  const days = parseDays(args.values.get('days'), DEFAULT_DAYS);
  if (typeof days === 'string') {
    err.write(`sealpost tls-report: ${days}\nusage: sealpost tls-report [--days N] [--json] --config FILE\n`);
    return 2;
  }
  const loaded = await loadConfig(configFile);
  if (!loaded.ok) {
    err.write(`${formatProblems(loaded.file, loaded.problems)}\n`);
    return 1;
  }
  const since = sinceDays(Date.now(), days);
  const policies = await receivedReports(loaded.config, since);
  const byDay = reportDays(policies ?? []);
  const totals = reportTotals(policies ?? []);
  const records = tlsRptRecords(loaded.config.domains);
  if (args.flags.has('json')) {
    out.write(`${JSON.stringify({ since: new Date(since).toISOString(), days, totals, byDay, records }, null, 2)}\n`);
    return 0;
  }
  const lines = [`TLS reports received (RFC 8460) since ${new Date(since).toISOString().slice(0, 10)} (the last ${days} days)`];
  if (records.length === 0) lines.push('  no [[domain]] has tlsrpt_rua: senders do not know where to report (see README "TLS reports")');
  for (const r of records) lines.push(`  publish: ${r.name}. IN TXT "${r.value}"${r.mailbox === '' ? '   (reports go elsewhere: not read here)' : ''}`);
  if (policies === undefined) lines.push('', 'no database yet: the daemon has not run with this data_dir');
  else if (byDay.length === 0) lines.push('', 'no reports yet');
  for (const d of byDay) lines.push('', ...renderDay(d));
  lines.push('', totalsLine(totals, days));
  out.write(`${lines.join('\n')}\n`);
  return 0;
}

export function renderDay(d: ReportDay): string[] {
  const n = (x: number): string => x.toLocaleString('en-US');
  return [
    `${d.day}  ${d.organization}  (${d.reports} report${d.reports === 1 ? '' : 's'} about ${d.domains.join(', ')})`,
    `  sessions  ${n(d.successes + d.failures)}: ${n(d.successes)} succeeded, ${n(d.failures)} failed`,
    ...(d.failures > 0 || Object.keys(d.failuresByType).length > 0 ? [`  failures  ${formatByType(d.failuresByType)}`] : []),
    ...(d.sendingIps.length > 0 ? [`  from      ${d.sendingIps.join(', ')}`] : []),
  ];
}

/** --days: a whole number of days from 1 to 3650. */
export function parseDays(text: string | undefined, fallback: number): number | string {
  if (text === undefined) return fallback;
  const n = Number(text);
  return /^\d+$/.test(text) && n >= 1 && n <= 3650 ? n : `--days must be a whole number of days from 1 to 3650, not "${text}"`;
}

/**
 * The stored reports from `since` on: in the PostgreSQL the nodes share with [store] kind =
 * "postgres", else in data_dir's database (undefined without one, [] before migration 010).
 */
export async function receivedReports(config: Config, since: number): Promise<StoredPolicy[] | undefined> {
  if (config.store.kind === 'postgres') {
    const shared = await openSharedStores(config, {});
    return shared.tlsReports.reports(since).finally(() => shared.close());
  }
  const file = path.join(config.dataDir, 'sealpost.db');
  if (!existsSync(file)) return undefined;
  const db: Db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const has = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'tls_reports'").get();
    return has?.n === 1 ? readReports(db, since) : [];
  } finally {
    db.close();
  }
}
