// The TLSRPT tables on PostgreSQL ([store] kind = "postgres"): tlsrpt_sent and tlsrpt_messages
// shared by the nodes, the TlsrptSent contract of sent-store.ts. Every node runs the daily report
// (tlsrpt/service.ts) over the shared attempts; the claim is an INSERT … ON CONFLICT DO NOTHING on
// the (domain, day) primary key, so of nodes claiming at once exactly one gets the row (the others
// wait on its index entry, then find it there) and only that one sends the domain's report. The
// only writer of both tables there. Side effects: queries on the pool.
import type pg from 'pg';
import { type SentDay, type SentDestination, type SentReport, type SentRow, sentDay, sentFrom, type TlsrptSent } from './sent-store.ts';

export class PgTlsrptSentStore implements TlsrptSent {
  private readonly pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  async doneFor(day: string): Promise<Set<string>> {
    const { rows } = await this.pool.query<{ domain: string }>('SELECT domain FROM tlsrpt_sent WHERE day = $1', [day]);
    return new Set(rows.map((r) => r.domain));
  }

  async claim(report: Omit<SentReport, 'state' | 'destinations'>): Promise<boolean> {
    const r = await this.pool.query(
      `INSERT INTO tlsrpt_sent (domain, day, report_id, state, at, sessions, failures, destinations)
       VALUES ($1, $2, $3, 'failed', $4, $5, $6, '[]') ON CONFLICT (domain, day) DO NOTHING`,
      [report.domain, report.day, report.reportId, report.at, report.sessions, report.failures],
    );
    return r.rowCount === 1;
  }

  async finish(domain: string, day: string, destinations: readonly SentDestination[]): Promise<SentReport['state']> {
    const state = destinations.some((d) => d.result !== 'failed') ? 'sent' : 'failed';
    await this.pool.query('UPDATE tlsrpt_sent SET state = $1, destinations = $2 WHERE domain = $3 AND day = $4', [
      state,
      JSON.stringify(destinations),
      domain,
      day,
    ]);
    return state;
  }

  async markMessage(queueId: string, at: number): Promise<void> {
    await this.pool.query('INSERT INTO tlsrpt_messages (queue_id, at) VALUES ($1, $2) ON CONFLICT (queue_id) DO NOTHING', [queueId, at]);
  }

  async reportMessages(since: number): Promise<Set<string>> {
    const { rows } = await this.pool.query<{ queue_id: string }>('SELECT queue_id FROM tlsrpt_messages WHERE at >= $1', [since]);
    return new Set(rows.map((r) => r.queue_id));
  }

  async list(limit = 100): Promise<SentReport[]> {
    const { rows } = await this.pool.query<Omit<SentRow, 'at' | 'sessions' | 'failures'> & { at: string; sessions: string; failures: string }>(
      'SELECT * FROM tlsrpt_sent ORDER BY at DESC, domain COLLATE "C" LIMIT $1',
      [limit],
    );
    return rows.map(sentFrom);
  }

  async lastDay(): Promise<SentDay | null> {
    const { rows } = await this.pool.query<{ day: string; domain: string; state: SentReport['state'] }>(
      'SELECT day, domain, state FROM tlsrpt_sent WHERE day = (SELECT max(day) FROM tlsrpt_sent) ORDER BY domain COLLATE "C"',
    );
    return sentDay(rows);
  }

  async pruneBefore(before: number): Promise<void> {
    await this.pool.query('DELETE FROM tlsrpt_messages WHERE at < $1', [before]);
    await this.pool.query('DELETE FROM tlsrpt_sent WHERE at < $1', [before]);
  }
}
