// The TLS reports received, on PostgreSQL ([store] kind = "postgres"): tables tls_reports,
// tls_report_policies, tls_report_failures shared by the nodes (a report mail delivered by any node
// is stored once), the ReceivedReports contract of store.ts. The only writer of those tables there.
// Side effects: queries and transactions on the pool.
import type pg from 'pg';
import type { ReportFailure, ReportPolicyType, TlsReport } from './parse.ts';
import type { ReceivedReports, StoredPolicy } from './store.ts';

export class PgTlsReportStore implements ReceivedReports {
  private readonly pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  async add(report: TlsReport, meta: { receivedAt: number; queueId: string }): Promise<'stored' | 'duplicate'> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const inserted = await client.query<{ id: string }>(
        `INSERT INTO tls_reports (organization, report_id, contact, start_at, end_at, received_at, queue_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (organization, report_id) DO NOTHING RETURNING id`,
        [report.organization, report.reportId, report.contact, report.start, report.end, meta.receivedAt, meta.queueId],
      );
      const reportRow = inserted.rows[0];
      if (!reportRow) {
        await client.query('ROLLBACK');
        return 'duplicate';
      }
      for (const p of report.policies) {
        const policy = await client.query<{ id: string }>(
          'INSERT INTO tls_report_policies (report, policy_type, policy_domain, mx_hosts, successes, failures) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id',
          [reportRow.id, p.type, p.domain, JSON.stringify(p.mxHosts), p.successes, p.failures],
        );
        for (const f of p.details)
          await client.query(
            `INSERT INTO tls_report_failures (policy, result_type, sending_mta_ip, receiving_mx, receiving_ip, sessions, reason_code)
             VALUES ($1, $2, $3, $4, $5, $6, $7)`,
            [policy.rows[0]?.id, f.resultType, f.sendingMtaIp, f.receivingMx, f.receivingIp, f.sessions, f.reasonCode],
          );
      }
      await client.query('COMMIT');
      return 'stored';
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async reports(since: number): Promise<StoredPolicy[]> {
    const policies = await this.pool.query<{
      id: string;
      organization: string;
      report_id: string;
      start_at: string;
      end_at: string;
      policy_type: ReportPolicyType;
      policy_domain: string;
      successes: string;
      failures: string;
    }>(
      `SELECT p.id, r.organization, r.report_id, r.start_at, r.end_at, p.policy_type, p.policy_domain, p.successes, p.failures
       FROM tls_report_policies p JOIN tls_reports r ON r.id = p.report WHERE r.start_at >= $1 ORDER BY r.start_at, r.id, p.id`,
      [since],
    );
    const failures = await this.pool.query<{
      policy: string;
      result_type: string;
      sending_mta_ip: string;
      receiving_mx: string;
      receiving_ip: string;
      sessions: string;
      reason_code: string;
    }>(
      `SELECT f.* FROM tls_report_failures f JOIN tls_report_policies p ON p.id = f.policy JOIN tls_reports r ON r.id = p.report
       WHERE r.start_at >= $1 ORDER BY f.id`,
      [since],
    );
    const details = new Map<string, ReportFailure[]>();
    for (const f of failures.rows) {
      const list = details.get(f.policy) ?? [];
      list.push({
        resultType: f.result_type,
        sendingMtaIp: f.sending_mta_ip,
        receivingMx: f.receiving_mx,
        receivingIp: f.receiving_ip,
        sessions: Number(f.sessions),
        reasonCode: f.reason_code,
      });
      details.set(f.policy, list);
    }
    return policies.rows.map((p) => ({
      organization: p.organization,
      reportId: p.report_id,
      start: Number(p.start_at),
      end: Number(p.end_at),
      type: p.policy_type,
      domain: p.policy_domain,
      successes: Number(p.successes),
      failures: Number(p.failures),
      details: details.get(p.id) ?? [],
    }));
  }
}
