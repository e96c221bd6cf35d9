// The TLS reports we received (tables tls_reports, tls_report_policies, tls_report_failures,
// migration 010): stores a parsed report once per (organization, report-id), in one transaction,
// and reads them back for the summaries. The only writer of those tables in SQLite (store-pg.ts on
// PostgreSQL, the same ReceivedReports contract).
import type { Db } from '../db/open.ts';
import type { ReportFailure, ReportPolicyType, TlsReport } from './parse.ts';

/** One "policies" entry of a stored report, with its report's facts beside it. */
export interface StoredPolicy {
  organization: string;
  reportId: string;
  /** Unix ms of the report's date-range. */
  start: number;
  end: number;
  type: ReportPolicyType;
  domain: string;
  successes: number;
  failures: number;
  details: ReportFailure[];
}

/** The TLS reports received, wherever they are kept (SQLite here, the nodes' PostgreSQL in store-pg.ts). */
export interface ReceivedReports {
  /** Stores `report`, or nothing when one with its organization and report-id is there already. */
  add(report: TlsReport, meta: { receivedAt: number; queueId: string }): Promise<'stored' | 'duplicate'>;
  /** The policies of the reports whose date-range starts at `since` or later, oldest first. */
  reports(since: number): Promise<StoredPolicy[]>;
}

export class TlsReportStore implements ReceivedReports {
  private readonly db: Db;

  constructor(db: Db) {
    this.db = db;
  }

  /** Stores `report`, or nothing when one with its organization and report-id is there already. */
  async add(report: TlsReport, meta: { receivedAt: number; queueId: string }): Promise<'stored' | 'duplicate'> {
    return this.db.transaction((): 'stored' | 'duplicate' => {
      const inserted = this.db
        .prepare(
          `INSERT INTO tls_reports (organization, report_id, contact, start_at, end_at, received_at, queue_id)
           VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (organization, report_id) DO NOTHING`,
        )
        .run(report.organization, report.reportId, report.contact, report.start, report.end, meta.receivedAt, meta.queueId);
      if (inserted.changes === 0) return 'duplicate';
      const addPolicy = this.db.prepare(
        'INSERT INTO tls_report_policies (report, policy_type, policy_domain, mx_hosts, successes, failures) VALUES (?, ?, ?, ?, ?, ?)',
      );
      const addFailure = this.db.prepare(
        `INSERT INTO tls_report_failures (policy, result_type, sending_mta_ip, receiving_mx, receiving_ip, sessions, reason_code)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const p of report.policies) {
        const policy = addPolicy.run(inserted.lastInsertRowid, p.type, p.domain, JSON.stringify(p.mxHosts), p.successes, p.failures);
        for (const f of p.details) addFailure.run(policy.lastInsertRowid, f.resultType, f.sendingMtaIp, f.receivingMx, f.receivingIp, f.sessions, f.reasonCode);
      }
      return 'stored';
    })();
  }

  async reports(since: number): Promise<StoredPolicy[]> {
    return readReports(this.db, since);
  }
}

/** The SQL of the report policies read back, oldest first (`?` is since; PostgreSQL numbers it). */
export const POLICIES_SQL = `SELECT p.id, r.organization, r.report_id, r.start_at, r.end_at, p.policy_type, p.policy_domain, p.successes, p.failures
  FROM tls_report_policies p JOIN tls_reports r ON r.id = p.report WHERE r.start_at >= ? ORDER BY r.start_at, r.id, p.id`;
/** Their failure details, in the order they came in (SQLite's rowid, PostgreSQL's id column). */
export const failuresSql = (orderColumn: 'rowid' | 'id'): string =>
  `SELECT f.* FROM tls_report_failures f JOIN tls_report_policies p ON p.id = f.policy JOIN tls_reports r ON r.id = p.report
   WHERE r.start_at >= ? ORDER BY f.${orderColumn}`;

/** A policy row of POLICIES_SQL; integers come as numbers from SQLite, as strings (bigint) from PostgreSQL. */
export interface PolicyRow {
  id: number | string;
  organization: string;
  report_id: string;
  start_at: number | string;
  end_at: number | string;
  policy_type: ReportPolicyType;
  policy_domain: string;
  successes: number | string;
  failures: number | string;
}

export interface FailureRow {
  policy: number | string;
  result_type: string;
  sending_mta_ip: string;
  receiving_mx: string;
  receiving_ip: string;
  sessions: number | string;
  reason_code: string;
}

/** The stored policies of both stores, each with its failure details (pure). */
export function storedPolicies(policies: readonly PolicyRow[], failures: readonly FailureRow[]): StoredPolicy[] {
  const details = new Map<string, ReportFailure[]>();
  for (const f of failures) {
    const list = details.get(String(f.policy)) ?? [];
    list.push({
      resultType: f.result_type,
      sendingMtaIp: f.sending_mta_ip,
      receivingMx: f.receiving_mx,
      receivingIp: f.receiving_ip,
      sessions: Number(f.sessions),
      reasonCode: f.reason_code,
    });
    details.set(String(f.policy), list);
  }
  return policies.map((p) => ({
    organization: p.organization,
    reportId: p.report_id,
    start: Number(p.start_at),
    end: Number(p.end_at),
    type: p.policy_type,
    domain: p.policy_domain,
    successes: Number(p.successes),
    failures: Number(p.failures),
    details: details.get(String(p.id)) ?? [],
  }));
}

/** The policies of the reports whose date-range starts at `since` or later, oldest first. */
export function readReports(db: Db, since: number): StoredPolicy[] {
  return storedPolicies(db.prepare<[number], PolicyRow>(POLICIES_SQL).all(since), db.prepare<[number], FailureRow>(failuresSql('rowid')).all(since));
}
