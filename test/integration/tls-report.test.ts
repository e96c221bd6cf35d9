// TLSRPT receiving end to end (RFC 8460 §5.3), as a new user would turn it on: `tlsrpt_rua` in a
// [[domain]] with MTA-STS "testing". Report mails built like a real sender's (multipart/report;
// report-type="tlsrpt" with an application/tlsrpt+gzip attachment, TLS-Report-Domain and
// TLS-Report-Submitter fields) arrive over SMTP with STARTTLS (swaks); each is delivered to the
// mailbox and its report stored once (a resent duplicate is not counted twice, a malformed one is
// kept as mail only). `sealpost tls-report`, `status` and `mta-sts show` then show them, the
// _smtp._tls record to publish (and whether the test DNS server has it), and the enforce advice
// per domain. Loopback only.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { StatusReport } from '../../src/cli/status.ts';
import type { ReportDay, ReportTotals } from '../../src/tlsrpt/summary.ts';
import { startSealpost } from '../helpers/daemon.ts';
import { startDnsServer } from '../helpers/dns-server.ts';
import { swaks } from '../helpers/swaks.ts';
import { waitFor } from '../helpers/wait.ts';

const DAY = 86_400_000;

interface Failure {
  type: string;
  ip: string;
  n: number;
}

/** An RFC 8460 §4.4 report for today (UTC) about `domain`. */
function reportJson(org: string, id: string, domain: string, successes: number, failures: Failure[]): Record<string, unknown> {
  const start = Math.floor(Date.now() / DAY) * DAY;
  return {
    'organization-name': org,
    'date-range': { 'start-datetime': new Date(start).toISOString(), 'end-datetime': new Date(start + DAY - 1000).toISOString() },
    'contact-info': 'smtp-tls-reporting@reporter.test',
    'report-id': id,
    policies: [
      {
        policy: {
          'policy-type': 'sts',
          'policy-string': ['version: STSv1', 'mode: testing', 'mx: mx.sealpost.test', 'max_age: 604800'],
          'policy-domain': domain,
          'mx-host': ['mx.sealpost.test'],
        },
        summary: { 'total-successful-session-count': successes, 'total-failure-session-count': failures.reduce((n, f) => n + f.n, 0) },
        'failure-details': failures.map((f) => ({
          'result-type': f.type,
          'sending-mta-ip': f.ip,
          'receiving-mx-hostname': 'mx.sealpost.test',
          'receiving-ip': '127.0.0.1',
          'failed-session-count': f.n,
        })),
      },
    ],
  };
}

/** The mail a reporter sends (RFC 8460 §5.3): multipart/report with the gzip'd JSON attached. */
function reportMail(submitter: string, domain: string, id: string, json: unknown): string {
  const start = Math.floor(Date.now() / DAY) * DAY;
  const filename = `${submitter}!${domain}!${start / 1000}!${(start + DAY) / 1000 - 1}!${id}.json.gz`;
  const gz = gzipSync(Buffer.from(JSON.stringify(json)))
    .toString('base64')
    .replace(/.{76}/g, '$&\r\n');
  return [
    `From: TLS Reporting <noreply-smtp-tls-reporting@${submitter}>`,
    `To: tlsrpt@${domain}`,
    `Subject: Report Domain: ${domain} Submitter: ${submitter} Report-ID: <${id}>`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${id}@${submitter}>`,
    `TLS-Report-Domain: ${domain}`,
    `TLS-Report-Submitter: ${submitter}`,
    'MIME-Version: 1.0',
    'Content-Type: multipart/report; report-type="tlsrpt"; boundary="=_tlsrpt_boundary"',
    '',
    'This is a multipart message in MIME format.',
    '',
    '--=_tlsrpt_boundary',
    'Content-Type: text/plain; charset="utf-8"',
    '',
    `This is an aggregate TLS report from ${submitter}.`,
    '',
    '--=_tlsrpt_boundary',
    'Content-Type: application/tlsrpt+gzip',
    `Content-Disposition: attachment; filename="${filename}"`,
    'Content-Transfer-Encoding: base64',
    '',
    gz,
    '',
    '--=_tlsrpt_boundary--',
    '',
  ].join('\r\n');
}

test('report mails to tlsrpt_rua: stored once, shown by tls-report, status and mta-sts show with the TXT record and enforce advice', {
  timeout: 120_000,
}, async (t) => {
  const dns = await startDnsServer();
  t.after(() => dns.close());
  const daemon = await startSealpost(t, {
    config: {
      dns: { servers: [dns.address], timeout_ms: 1000 },
      domain: [
        // tlsrpt is an alias: the report lands in alice's Maildir and is read as a report.
        {
          name: 'example.test',
          mailboxes: ['alice', 'bob'],
          aliases: { postmaster: 'alice', tlsrpt: 'alice' },
          mta_sts: 'testing',
          tlsrpt_rua: 'tlsrpt@example.test',
        },
        { name: 'other.test', mailboxes: ['tlsrpt'], mta_sts: 'testing', tlsrpt_rua: 'mailto:tlsrpt@other.test' },
      ],
    },
  });
  const send = async (from: string, to: string, mail: string): Promise<void> => {
    const file = path.join(daemon.dir, `mail-${Math.random().toString(36).slice(2)}.eml`);
    await writeFile(file, mail);
    const r = await swaks([
      '--server',
      `127.0.0.1:${daemon.smtpPort}`,
      '--tls',
      '--ehlo',
      'reporter.test',
      '--from',
      from,
      '--to',
      to,
      '--data',
      file,
      '--timeout',
      '15',
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  };

  const google = reportJson('Google Inc.', '2026-12-01T00:00:00Z_example.test', 'example.test', 12_340, [
    { type: 'certificate-host-mismatch', ip: '192.0.2.25', n: 3 },
    { type: 'starttls-not-supported', ip: '2001:db8::25', n: 2 },
  ]);
  const microsoft = reportJson('Microsoft Corporation', '133779168000000000+other.test', 'other.test', 5, []);
  await send('noreply-smtp-tls-reporting@google.test', 'tlsrpt@example.test', reportMail('google.test', 'example.test', 'g1', google));
  await send('tlsrpt-noreply@microsoft.test', 'tlsrpt@other.test', reportMail('microsoft.test', 'other.test', 'm1', microsoft));
  await daemon.waitForLog({ event: 'tls-report', state: 'stored', organization: 'Google Inc.' }, { timeoutMs: 20_000 });
  await daemon.waitForLog({ event: 'tls-report', state: 'stored', organization: 'Microsoft Corporation' }, { timeoutMs: 20_000 });
  // The same report again (a resend): delivered, not counted twice.
  await send('noreply-smtp-tls-reporting@google.test', 'tlsrpt@example.test', reportMail('google.test', 'example.test', 'g1', google));
  await daemon.waitForLog({ event: 'tls-report', state: 'duplicate', organization: 'Google Inc.' }, { timeoutMs: 20_000 });
  // A malformed report (a count as a string): logged, kept as mail, not stored.
  const broken = reportJson('Broken Reporter', 'b1', 'example.test', 1, []);
  ((broken.policies as Record<string, Record<string, unknown>>[])[0]?.summary as Record<string, unknown>)['total-successful-session-count'] = 'many';
  await send('reports@broken.test', 'tlsrpt@example.test', reportMail('broken.test', 'example.test', 'b1', broken));
  const malformed = await daemon.waitForLog({ event: 'tls-report', state: 'malformed' }, { timeoutMs: 20_000 });
  assert.deepEqual(malformed['problems'], ['policies[0].summary.total-successful-session-count: must be a whole number ≥ 0']);

  // Every report mail is in its mailbox, whatever it held.
  const alice = await waitFor(
    async () => {
      const m = await daemon.readMaildir('example.test', 'alice');
      return m.length === 3 ? m : undefined;
    },
    { timeoutMs: 20_000, what: 'three report mails in alice@example.test' },
  );
  assert.ok(alice.every((m) => m.header('TLS-Report-Domain') === 'example.test'));
  assert.equal((await daemon.readMaildir('other.test', 'tlsrpt')).length, 1);

  // sealpost tls-report: per organization and day.
  const json = await daemon.cli(['tls-report', '--json']);
  assert.equal(json.code, 0, json.stderr);
  const got = JSON.parse(json.stdout) as { days: number; totals: ReportTotals; byDay: ReportDay[]; records: { name: string; value: string }[] };
  const today = new Date().toISOString().slice(0, 10);
  assert.deepEqual(
    got.byDay.map((d) => [d.day, d.organization, d.reports, d.domains, d.successes, d.failures, d.failuresByType, d.sendingIps]),
    [
      [today, 'Google Inc.', 1, ['example.test'], 12_340, 5, { 'certificate-host-mismatch': 3, 'starttls-not-supported': 2 }, ['192.0.2.25', '2001:db8::25']],
      [today, 'Microsoft Corporation', 1, ['other.test'], 5, 0, {}, []],
    ],
  );
  assert.deepEqual(got.totals, { senders: 2, reports: 2, sessions: 12_350, failures: 5 });
  const text = await daemon.cli(['tls-report', '--days', '3']);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`^${today} {2}Google Inc\\. {2}\\(1 report about example\\.test\\)$`, 'm'));
  assert.match(text.stdout, /^ {2}sessions {2}12,345: 12,340 succeeded, 5 failed$/m);
  assert.match(text.stdout, /^ {2}failures {2}certificate-host-mismatch 3, starttls-not-supported 2$/m);
  assert.match(text.stdout, /^ {2}from {6}192\.0\.2\.25, 2001:db8::25$/m);
  assert.match(text.stdout, /^TLS reports: 2 senders, 12,350 sessions, 5 failures \(last 3 days\)$/m);
  assert.equal((await daemon.cli(['tls-report', '--days', 'seven'])).code, 2);

  // sealpost status: the one line, the records; --json has it all.
  const status = await daemon.cli(['status']);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^TLS reports: 2 senders, 12,350 sessions, 5 failures \(last 7 days\)/m);
  assert.match(status.stdout, /^ {2}publish _smtp\._tls\.example\.test\. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example\.test"$/m);
  assert.match(status.stdout, /^ {2}publish _smtp\._tls\.other\.test\. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@other\.test"$/m);
  const statusJson = JSON.parse((await daemon.cli(['status', '--json'])).stdout) as StatusReport;
  assert.deepEqual(statusJson.tlsReports.totals, got.totals);
  assert.equal(statusJson.tlsReports.byDay.length, 2);

  // sealpost mta-sts show: the TXT record (published for one domain, not yet for the other) and,
  // per domain, whether enforce is safe.
  dns.zone.set('_smtp._tls.example.test', { TXT: ['v=TLSRPTv1; rua=mailto:tlsrpt@example.test'] });
  const show = await daemon.cli(['mta-sts', 'show']);
  assert.match(show.stdout, /^ {2}ok {6}DNS has _smtp\._tls\.example\.test with this rua$/m);
  assert.match(show.stdout, /^ {2}WARNING _smtp\._tls\.other\.test: no such domain \(NXDOMAIN\): senders do not send TLS reports/m);
  assert.match(show.stdout, /^ {4}_smtp\._tls\.example\.test\. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example\.test"/m);
  assert.match(
    show.stdout,
    /^ {2}reports 5 of 12,345 sessions failed in the last 7 days \(certificate-host-mismatch 3, starttls-not-supported 2; from 192\.0\.2\.25, 2001:db8::25\): not safe to enforce yet/m,
  );
  assert.match(show.stdout, /^ {2}reports 1 TLS report in the last 7 days, 5 sessions, no failures: safe to switch to mta_sts = "enforce"$/m);
  const showJson = JSON.parse((await daemon.cli(['mta-sts', 'show', '--json'])).stdout) as {
    policies: { domain: string; tlsrpt: { value: string } | null; enforce: { kind: string } }[];
  };
  assert.deepEqual(
    showJson.policies.map((p) => [p.domain, p.tlsrpt?.value, p.enforce.kind]),
    [
      ['example.test', 'v=TLSRPTv1; rua=mailto:tlsrpt@example.test', 'failures'],
      ['other.test', 'v=TLSRPTv1; rua=mailto:tlsrpt@other.test', 'safe'],
    ],
  );
});
