// The TLS reports we received: stored once per (organization, report-id) (src/tlsrpt/store.ts),
// summed up per organization and day, in one line, and as enforce advice (summary.ts); mail to a
// report mailbox read after its delivery, never changing the outcome (receive.ts).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { Courier, DeliveryJob, Outcome } from '../../../src/core/delivery.ts';
import { type Db, openDb } from '../../../src/db/open.ts';
import { parseReport, type TlsReport } from '../../../src/tlsrpt/parse.ts';
import { withTlsReports } from '../../../src/tlsrpt/receive.ts';
import { readReports, TlsReportStore } from '../../../src/tlsrpt/store.ts';
import { DAY_MS, describeAdvice, enforceAdvice, reportDays, reportTotals, sinceDays, totalsLine } from '../../../src/tlsrpt/summary.ts';
import { captureLog } from '../../helpers/log.ts';
import { RFC_EXAMPLE } from './rfc-example.ts';

const migrations = path.resolve(import.meta.dirname, '../../../migrations');
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function freshDb(): Promise<Db> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sealpost-tlsrpt-'));
  dirs.push(dir);
  return openDb(dir, migrations);
}

const DEC1 = Date.UTC(2026, 11, 1);

/** A report about example.org from `org` for the UTC day starting at `day`. */
function report(org: string, id: string, day: number, successes: number, failures: { type: string; ip: string; n: number }[] = []): TlsReport {
  const json = {
    'organization-name': org,
    'date-range': { 'start-datetime': new Date(day).toISOString(), 'end-datetime': new Date(day + DAY_MS - 1000).toISOString() },
    'contact-info': `tlsrpt@${org.toLowerCase()}.example`,
    'report-id': id,
    policies: [
      {
        policy: { 'policy-type': 'sts', 'policy-domain': 'example.org', 'mx-host': ['mx.example.org'] },
        summary: { 'total-successful-session-count': successes, 'total-failure-session-count': failures.reduce((n, f) => n + f.n, 0) },
        'failure-details': failures.map((f) => ({ 'result-type': f.type, 'sending-mta-ip': f.ip, 'failed-session-count': f.n })),
      },
    ],
  };
  const r = parseReport(json);
  assert.ok(r.ok);
  return r.report;
}

describe('TlsReportStore', () => {
  test('stores a report with its policies and failures; the same organization and report-id again is a duplicate', { timeout: 10_000 }, async () => {
    const db = await freshDb();
    try {
      const store = new TlsReportStore(db);
      const rfc = parseReport(RFC_EXAMPLE);
      assert.ok(rfc.ok);
      assert.equal(await store.add(rfc.report, { receivedAt: 1, queueId: 'Q1' }), 'stored');
      assert.equal(await store.add(rfc.report, { receivedAt: 2, queueId: 'Q2' }), 'duplicate');
      // Another organization may reuse an id format (Google's is "<date>_<domain>"): a report of its own.
      assert.equal(await store.add({ ...rfc.report, organization: 'Company-Z' }, { receivedAt: 3, queueId: 'Q3' }), 'stored');
      const rows = readReports(db, 0);
      assert.equal(rows.length, 2);
      assert.deepEqual(
        rows.map((p) => [p.organization, p.domain, p.successes, p.failures, p.details.length]),
        [
          ['Company-X', 'company-y.example', 5326, 303, 3],
          ['Company-Z', 'company-y.example', 5326, 303, 3],
        ],
      );
      assert.deepEqual(rows[0]?.details[2], {
        resultType: 'validation-failure',
        sendingMtaIp: '198.51.100.62',
        receivingMx: 'mx-backup.mail.company-y.example',
        receivingIp: '203.0.113.58',
        sessions: 3,
        reasonCode: 'X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED',
      });
      assert.deepEqual(readReports(db, Date.UTC(2016, 3, 2)), [], 'reports that start before `since` are left out');
    } finally {
      db.close();
    }
  });
});

describe('summary', () => {
  const policies = (reports: TlsReport[]) =>
    reports.flatMap((r) =>
      r.policies.map((p) => ({ organization: r.organization, reportId: r.reportId, start: r.start, end: r.end, ...p, details: p.details })),
    );
  const rows = policies([
    report('Google Inc.', 'g1', DEC1, 1000),
    report('Google Inc.', 'g2', DEC1 + DAY_MS, 12_000, [{ type: 'certificate-host-mismatch', ip: '203.0.113.9', n: 3 }]),
    report('Microsoft Corporation', 'm1', DEC1 + DAY_MS, 300, [
      { type: 'starttls-not-supported', ip: '2001:db8::25', n: 1 },
      { type: 'certificate-host-mismatch', ip: '203.0.113.10', n: 2 },
    ]),
  ]);

  test('per organization and UTC day: sessions, failures by type, the sending MTAs', () => {
    assert.deepEqual(
      reportDays(rows).map((d) => [d.day, d.organization, d.reports, d.successes, d.failures, d.failuresByType, d.sendingIps]),
      [
        ['2026-12-01', 'Google Inc.', 1, 1000, 0, {}, []],
        ['2026-12-02', 'Google Inc.', 1, 12_000, 3, { 'certificate-host-mismatch': 3 }, ['203.0.113.9']],
        ['2026-12-02', 'Microsoft Corporation', 1, 300, 3, { 'starttls-not-supported': 1, 'certificate-host-mismatch': 2 }, ['2001:db8::25', '203.0.113.10']],
      ],
    );
  });

  test('the status line', () => {
    assert.equal(totalsLine(reportTotals(rows), 7), 'TLS reports: 2 senders, 13,306 sessions, 6 failures (last 7 days)');
    assert.equal(totalsLine(reportTotals(rows.slice(0, 1)), 7), 'TLS reports: 1 sender, 1,000 sessions, 0 failures (last 7 days)');
    assert.equal(totalsLine(reportTotals([]), 7), 'TLS reports: none in the last 7 days');
  });

  test('sinceDays: the start of the UTC day days-1 before today', () => {
    assert.equal(sinceDays(DEC1 + 5 * 3600_000, 1), DEC1);
    assert.equal(sinceDays(DEC1 + 5 * 3600_000, 7), DEC1 - 6 * DAY_MS);
  });

  test('enforce advice: no reports, no failures (safe), failures (what failed, from where)', () => {
    assert.equal(enforceAdvice('other.example', rows, 7).kind, 'no-reports');
    const safe = enforceAdvice('example.org', rows.slice(0, 1), 7);
    assert.deepEqual(safe, { kind: 'safe', days: 7, reports: 1, sessions: 1000 });
    assert.match(describeAdvice(safe, 'testing'), /no failures: safe to switch to mta_sts = "enforce"$/);
    const failing = enforceAdvice('example.org', rows, 7);
    assert.equal(failing.kind, 'failures');
    assert.equal(
      describeAdvice(failing, 'testing'),
      '6 of 13,306 sessions failed in the last 7 days (certificate-host-mismatch 5, starttls-not-supported 1; from 203.0.113.9, 2001:db8::25, 203.0.113.10): not safe to enforce yet; fix these first (sealpost tls-report)',
    );
  });
});

describe('withTlsReports', () => {
  const reportMail = (part: Buffer, type = 'application/tlsrpt+gzip'): Buffer =>
    Buffer.from(
      [
        'From: noreply-smtp-tls-reporting@google.example',
        'To: tlsrpt@example.org',
        'Subject: Report Domain: example.org Submitter: google.example Report-ID: <g1>',
        'TLS-Report-Domain: example.org',
        'TLS-Report-Submitter: google.example',
        'MIME-Version: 1.0',
        'Content-Type: multipart/report; report-type="tlsrpt"; boundary="b1"',
        '',
        '--b1',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'This is an aggregate TLS report from google.example',
        '--b1',
        `Content-Type: ${type}`,
        'Content-Transfer-Encoding: base64',
        'Content-Disposition: attachment; filename="google.example!example.org!1764547200!1764633599!001.json.gz"',
        '',
        part.toString('base64').replace(/.{76}/g, '$&\r\n'),
        '--b1--',
        '',
      ].join('\r\n'),
    );
  const job = (body: Buffer, rcpt = 'TLSRPT@example.org', address = 'admin@example.org'): DeliveryJob => ({
    queueId: 'Q1',
    sender: 'noreply@google.example',
    receivedAt: DEC1,
    size: body.length,
    body,
    smtputf8: false,
    eightBit: false,
    recipients: [{ id: 1, rcpt, address, attempts: 0 }],
  });
  const courier = (outcome: Outcome): Courier => ({ deliver: async (j) => new Map(j.recipients.map((r) => [r.id, outcome])) });
  const delivered: Outcome = { kind: 'delivered', detail: 'maildir' };

  test('a delivered report mail is stored once; a second delivery of it is a duplicate; the outcome is the courier’s', { timeout: 10_000 }, async () => {
    const db = await freshDb();
    try {
      const { log, records } = captureLog();
      const deps = { store: new TlsReportStore(db), mailboxes: () => new Set(['tlsrpt@example.org']), log, now: () => DEC1 };
      const wrapped = withTlsReports(courier(delivered), deps);
      const mail = reportMail(gzipSync(JSON.stringify(RFC_EXAMPLE)));
      assert.deepEqual([...(await wrapped.deliver(job(mail)))], [[1, delivered]]);
      await wrapped.deliver(job(mail));
      assert.deepEqual(
        records.filter((r) => r['event'] === 'tls-report').map((r) => [r['state'], r['organization'], r['sessions'], r['failures'], r['rcpt']]),
        [
          ['stored', 'Company-X', 5629, 303, 'tlsrpt@example.org'],
          ['duplicate', 'Company-X', 5629, 303, 'tlsrpt@example.org'],
        ],
      );
      assert.equal(readReports(db, 0).length, 1);
    } finally {
      db.close();
    }
  });

  test('malformed, no report part, not delivered, not a report mailbox: logged or ignored, outcome unchanged, nothing stored', {
    timeout: 10_000,
  }, async () => {
    const db = await freshDb();
    try {
      const { log, records } = captureLog();
      const deps = { store: new TlsReportStore(db), mailboxes: () => new Set(['tlsrpt@example.org']), log, now: () => DEC1 };
      const broken = structuredClone(RFC_EXAMPLE) as Record<string, unknown>;
      delete broken['report-id'];
      const cases: [Buffer, Outcome, string, unknown][] = [
        [reportMail(gzipSync(JSON.stringify(broken))), delivered, 'tlsrpt@example.org', 'malformed'],
        [reportMail(Buffer.from('not gzip, not json')), delivered, 'tlsrpt@example.org', 'malformed'],
        [Buffer.from('Subject: hello\r\n\r\njust mail\r\n'), delivered, 'tlsrpt@example.org', 'none'],
        [reportMail(gzipSync(JSON.stringify(RFC_EXAMPLE))), { kind: 'transient', reason: 'disk full' }, 'tlsrpt@example.org', undefined],
        [reportMail(gzipSync(JSON.stringify(RFC_EXAMPLE))), delivered, 'alice@example.org', undefined],
      ];
      for (const [body, outcome, rcpt, state] of cases) {
        const since = records.length;
        const got = await withTlsReports(courier(outcome), deps).deliver(job(body, rcpt, rcpt));
        assert.deepEqual(got.get(1), outcome);
        assert.deepEqual(
          records.slice(since).find((r) => r['event'] === 'tls-report')?.['state'],
          state,
          `${rcpt} ${outcome.kind} ${body.subarray(0, 40).toString()}`,
        );
      }
      assert.equal(readReports(db, 0).length, 0);
      const malformed = records.find((r) => r['state'] === 'malformed');
      assert.deepEqual(malformed?.['problems'], ['report-id: required, a non-empty string']);
    } finally {
      db.close();
    }
  });

  test('a store that throws (a full disk) is logged; the delivery stands', { timeout: 10_000 }, async () => {
    const { log, records } = captureLog();
    const store = {
      add: async (): Promise<'stored'> => {
        throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      },
    };
    const wrapped = withTlsReports(courier(delivered), { store, mailboxes: () => new Set(['tlsrpt@example.org']), log, now: () => DEC1 });
    const got = await wrapped.deliver(job(reportMail(Buffer.from(JSON.stringify(RFC_EXAMPLE)), 'application/tlsrpt+json')));
    assert.deepEqual(got.get(1), delivered);
    assert.equal(records.find((r) => r['event'] === 'tls-report')?.['state'], 'error');
  });
});
