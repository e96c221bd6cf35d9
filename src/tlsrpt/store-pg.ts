// The TLS reports received, on PostgreSQL ([store] kind = "postgres"): tables tls_reports,
// tls_report_policies, tls_report_failures shared by the nodes (a report mail delivered by any node
// is stored once), the ReceivedReports contract of store.ts. The only writer of those tables there.
// Side effects: queries and transactions on the pool.
import type pg from 'pg';
import type { TlsReport } from './parse.ts';
import { type FailureRow, failuresSql, POLICIES_SQL, type PolicyRow, type ReceivedReports, type StoredPolicy, storedPolicies } from './store.ts';

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
    const numbered = (sql: string) => sql.replace('?', '$1');
    const policies = await this.pool.query<PolicyRow>(numbered(POLICIES_SQL), [since]);
    const failures = await this.pool.query<FailureRow>(numbered(failuresSql('id')), [since]);
    return storedPolicies(policies.rows, failures.rows);
  }
}
