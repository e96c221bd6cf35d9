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

/** The policies of the reports whose date-range starts at `since` or later, oldest first. */
export function readReports(db: Db, since: number): StoredPolicy[] {
  const policies = db
    .prepare<
      [number],
      {
        id: number;
        organization: string;
        report_id: string;
        start_at: number;
        end_at: number;
        policy_type: ReportPolicyType;
        policy_domain: string;
        successes: number;
        failures: number;
      }
    >(
      `SELECT p.id, r.organization, r.report_id, r.start_at, r.end_at, p.policy_type, p.policy_domain, p.successes, p.failures
       FROM tls_report_policies p JOIN tls_reports r ON r.id = p.report WHERE r.start_at >= ? ORDER BY r.start_at, r.id, p.id`,
    )
    .all(since);
  const details = new Map<number, ReportFailure[]>();
  for (const f of db
    .prepare<
      [number],
      {
        policy: number;
        result_type: string;
        sending_mta_ip: string;
        receiving_mx: string;
        receiving_ip: string;
        sessions: number;
        reason_code: string;
      }
    >(
      `SELECT f.* FROM tls_report_failures f JOIN tls_report_policies p ON p.id = f.policy JOIN tls_reports r ON r.id = p.report
       WHERE r.start_at >= ? ORDER BY f.rowid`,
    )
    .all(since)) {
    const list = details.get(f.policy) ?? [];
    list.push({
      resultType: f.result_type,
      sendingMtaIp: f.sending_mta_ip,
      receivingMx: f.receiving_mx,
      receivingIp: f.receiving_ip,
      sessions: f.sessions,
      reasonCode: f.reason_code,
    });
    details.set(f.policy, list);
  }
  return policies.map((p) => ({
    organization: p.organization,
    reportId: p.report_id,
    start: p.start_at,
    end: p.end_at,
    type: p.policy_type,
    domain: p.policy_domain,
    successes: p.successes,
    failures: p.failures,
    details: details.get(p.id) ?? [],
  }));
}
