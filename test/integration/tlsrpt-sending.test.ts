// TLSRPT sending end to end (RFC 8460), as a new user gets it: a sending Sealpost with a DKIM key
// delivers for a day (its clock shifted by SEALPOST_TEST_CLOCK_FILE) to a.test (MTA-STS enforce,
// verified TLS), b.test (MTA-STS testing, an MX name the certificate does not cover: a forced
// certificate-host-mismatch), c.test (a policy host whose certificate does not name it:
// sts-webpki-invalid) and d.test (no TLSRPT record), all served by a receiving Sealpost. Then its
// clock crosses the UTC day boundary: a.test's report arrives as DKIM-signed multipart/report mail
// in the receiving instance's Maildir (and its `tls-report` shows it), b.test's and c.test's by
// HTTPS POST to a test endpoint; each JSON document passes an RFC 8460 §4.4 schema check and counts
// the sessions made. A restart sends nothing again; the next day reports nothing on the delivery
// of the reports themselves. Loopback only.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { createCa, issueCert } from '../helpers/certs.ts';
import { startSealpost } from '../helpers/daemon.ts';
import { startDnsServer } from '../helpers/dns-server.ts';
import { freePort } from '../helpers/ports.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';
import { dkimpyVerify, prepareWithCli } from './submission-setup.ts';

const RECEIVER_IP = '127.0.0.141';
const HTTPS_IP = '127.0.0.142';
const DAY_MS = 86_400_000;

/** RFC 8460 §4.4's schema, checked field by field: required members and their JSON types. Returns the problems. */
function schemaProblems(doc: unknown): string[] {
  const problems: string[] = [];
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const need = (o: Record<string, unknown>, key: string, type: 'string' | 'integer' | 'object' | 'array', where: string, required = true): unknown => {
    const v = o[key];
    if (v === undefined) {
      if (required) problems.push(`${where}.${key} is required`);
      return undefined;
    }
    const ok =
      type === 'string'
        ? typeof v === 'string'
        : type === 'integer'
          ? Number.isInteger(v) && (v as number) >= 0
          : type === 'array'
            ? Array.isArray(v)
            : isObject(v);
    if (!ok) problems.push(`${where}.${key} must be ${type === 'integer' ? 'a non-negative integer' : `a JSON ${type}`}`);
    return ok ? v : undefined;
  };
  const dateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
  if (!isObject(doc)) return ['the report is not a JSON object'];
  need(doc, 'organization-name', 'string', 'report');
  need(doc, 'contact-info', 'string', 'report');
  need(doc, 'report-id', 'string', 'report');
  const range = need(doc, 'date-range', 'object', 'report') as Record<string, unknown> | undefined;
  if (range) {
    for (const k of ['start-datetime', 'end-datetime']) {
      const v = need(range, k, 'string', 'date-range');
      if (typeof v === 'string' && !dateTime.test(v)) problems.push(`date-range.${k} "${v}" is not an RFC 3339 date-time`);
    }
  }
  const policies = need(doc, 'policies', 'array', 'report') as unknown[] | undefined;
  for (const [i, p] of (policies ?? []).entries()) {
    const where = `policies[${i}]`;
    if (!isObject(p)) {
      problems.push(`${where} is not an object`);
      continue;
    }
    const policy = need(p, 'policy', 'object', where) as Record<string, unknown> | undefined;
    if (policy) {
      const type = need(policy, 'policy-type', 'string', `${where}.policy`);
      if (typeof type === 'string' && !['tlsa', 'sts', 'no-policy-found'].includes(type))
        problems.push(`${where}.policy.policy-type "${type}" is not tlsa, sts or no-policy-found`);
      need(policy, 'policy-domain', 'string', `${where}.policy`);
      for (const k of ['policy-string', 'mx-host']) {
        const list = need(policy, k, 'array', `${where}.policy`, false) as unknown[] | undefined;
        if (list?.some((s) => typeof s !== 'string')) problems.push(`${where}.policy.${k} must hold strings`);
      }
    }
    const summary = need(p, 'summary', 'object', where) as Record<string, unknown> | undefined;
    if (summary) {
      need(summary, 'total-successful-session-count', 'integer', `${where}.summary`);
      need(summary, 'total-failure-session-count', 'integer', `${where}.summary`);
    }
    const details = need(p, 'failure-details', 'array', where, false) as unknown[] | undefined;
    for (const [j, d] of (details ?? []).entries()) {
      const at = `${where}.failure-details[${j}]`;
      if (!isObject(d)) {
        problems.push(`${at} is not an object`);
        continue;
      }
      const type = need(d, 'result-type', 'string', at);
      const types = [
        'starttls-not-supported',
        'certificate-host-mismatch',
        'certificate-expired',
        'certificate-not-trusted',
        'validation-failure',
        'tlsa-invalid',
        'dnssec-invalid',
        'dane-required',
        'sts-policy-fetch-error',
        'sts-policy-invalid',
        'sts-webpki-invalid',
      ];
      if (typeof type === 'string' && !types.includes(type)) problems.push(`${at}.result-type "${type}" is not an RFC 8460 result type`);
      need(d, 'failed-session-count', 'integer', at);
      for (const k of ['sending-mta-ip', 'receiving-ip']) {
        const ip = need(d, k, 'string', at, false);
        if (typeof ip === 'string' && net.isIP(ip) === 0) problems.push(`${at}.${k} "${ip}" is not an IP address`);
      }
      for (const k of ['receiving-mx-hostname', 'receiving-mx-helo', 'additional-information', 'failure-reason-code']) need(d, k, 'string', at, false);
    }
  }
  return problems;
}

interface Post {
  type: string;
  path: string;
  body: Buffer;
}

/** The attachment of a multipart/report: the base64 body part after its Content-Type header. */
function reportAttachment(raw: string): { fileName: string; gzip: Buffer } {
  const m =
    /Content-Type: application\/tlsrpt\+gzip\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment;\r\n filename="([^"]+)"\r\n\r\n([A-Za-z0-9+/=\r\n]+?)\r\n--/.exec(
      raw,
    );
  assert.ok(m?.[1] && m[2], `no application/tlsrpt+gzip attachment in:\n${raw}`);
  return { fileName: m[1], gzip: Buffer.from(m[2].replace(/\r\n/g, ''), 'base64') };
}

test('TLS reports: a day of deliveries → one report per domain by mail (DKIM-signed) and by HTTPS POST, schema-valid, counted; never twice, never about themselves', {
  timeout: 240_000,
}, async (t) => {
  const dir = await tempDir(t);
  const ca = await createCa('TLSRPT test CA');
  const caFile = path.join(dir, 'ca.pem');
  await writeFile(caFile, ca.certPem);
  const mxCert = await issueCert(ca, { names: ['mx.rcv.test'] });
  await writeFile(path.join(dir, 'mx.pem'), mxCert.chainPem);
  await writeFile(path.join(dir, 'mx.key'), mxCert.keyPem);

  // The test endpoint on 443: the MTA-STS policies of a.test and b.test, and b.test's report URL.
  const webCert = await issueCert(ca, { names: ['mta-sts.a.test', 'mta-sts.b.test', 'mta-sts.rcv.test', 'reports.b.test'] });
  const policies: Record<string, string> = {
    'mta-sts.a.test': 'version: STSv1\r\nmode: enforce\r\nmx: mx.rcv.test\r\nmax_age: 86400\r\n',
    'mta-sts.b.test': 'version: STSv1\r\nmode: testing\r\nmx: mx.b.test\r\nmax_age: 86400\r\n',
    // Names no MX host of rcv.test: only a report sent despite TLS policies gets there (RFC 8460 §3).
    'mta-sts.rcv.test': 'version: STSv1\r\nmode: enforce\r\nmx: mx.elsewhere.test\r\nmax_age: 86400\r\n',
  };
  const posts: Post[] = [];
  const web = https.createServer({ cert: webCert.chainPem, key: webCert.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const host = (req.headers.host ?? '').replace(/:\d+$/, '');
      const policy = policies[host];
      if (req.method === 'GET' && req.url === '/.well-known/mta-sts.txt' && policy) {
        res.writeHead(200, { 'content-type': 'text/plain' }).end(policy);
      } else if (req.method === 'POST' && host === 'reports.b.test') {
        posts.push({ type: String(req.headers['content-type']), path: req.url ?? '', body: Buffer.concat(chunks) });
        res.writeHead(201).end();
      } else res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => web.listen(443, HTTPS_IP, resolve));
  t.after(() => new Promise<void>((resolve) => web.close(() => resolve())));

  const dns = await startDnsServer();
  t.after(() => dns.close());
  const smtpPort = await freePort(RECEIVER_IP);
  const zone: [string, Parameters<typeof dns.zone.set>[1]][] = [
    ['a.test', { MX: [{ preference: 10, exchange: 'mx.rcv.test' }] }],
    ['b.test', { MX: [{ preference: 10, exchange: 'mx.b.test' }] }],
    ['rcv.test', { MX: [{ preference: 10, exchange: 'mx.rcv.test' }] }],
    ['mx.rcv.test', { A: [RECEIVER_IP] }],
    ['mx.b.test', { A: [RECEIVER_IP] }],
    ['_mta-sts.a.test', { TXT: ['v=STSv1; id=a1'] }],
    ['_mta-sts.b.test', { TXT: ['v=STSv1; id=b1'] }],
    ['mta-sts.a.test', { A: [HTTPS_IP] }],
    ['mta-sts.b.test', { A: [HTTPS_IP] }],
    ['reports.b.test', { A: [HTTPS_IP] }],
    ['_smtp._tls.a.test', { TXT: ['v=TLSRPTv1; rua=mailto:tlsrpt@rcv.test'] }],
    ['_smtp._tls.b.test', { TXT: ['v=TLSRPTv1;rua=https://reports.b.test/v1/tlsrpt'] }],
    // c.test publishes MTA-STS, but its policy host's certificate does not name it: sts-webpki-invalid.
    ['c.test', { MX: [{ preference: 10, exchange: 'mx.rcv.test' }] }],
    ['_mta-sts.c.test', { TXT: ['v=STSv1; id=c1'] }],
    ['mta-sts.c.test', { A: [HTTPS_IP] }],
    ['_smtp._tls.c.test', { TXT: ['v=TLSRPTv1; rua=https://reports.b.test/v1/c'] }],
    // d.test asks for no reports: it gets none.
    ['d.test', { MX: [{ preference: 10, exchange: 'mx.rcv.test' }] }],
    ['_mta-sts.rcv.test', { TXT: ['v=STSv1; id=r1'] }],
    ['mta-sts.rcv.test', { A: [HTTPS_IP] }],
    // Asks for reports too: it must get none about the delivery of the reports themselves.
    ['_smtp._tls.rcv.test', { TXT: ['v=TLSRPTv1; rua=mailto:tlsrpt@rcv.test'] }],
  ];
  for (const [name, entry] of zone) dns.zone.set(name, entry);

  const receiver = await startSealpost(t, {
    config: {
      hostname: 'mx.rcv.test',
      listen: { smtp: [`${RECEIVER_IP}:${smtpPort}`] },
      tls: { cert_file: path.join(dir, 'mx.pem'), key_file: path.join(dir, 'mx.key') },
      domain: [
        { name: 'rcv.test', mailboxes: ['tlsrpt'] },
        // The receiving side reads the reports about a.test mailed to tlsrpt@rcv.test (tlsrpt/receive.ts).
        { name: 'a.test', mailboxes: ['alice'], tlsrpt_rua: 'tlsrpt@rcv.test' },
        { name: 'b.test', mailboxes: ['bob'] },
        { name: 'c.test', mailboxes: ['carol'] },
        { name: 'd.test', mailboxes: ['dave'] },
      ],
      dns: { servers: [dns.address] },
    },
  });

  // The sender: a DKIM key made as a user would, published in DNS; its clock on "tomorrow", noon.
  const senderDir = path.join(dir, 'sender');
  const senderConfig = {
    hostname: 'mx.sender.test',
    data_dir: path.join(senderDir, 'data'),
    domain: [{ name: 'sender.test', mailboxes: ['bob'], dkim_selectors: ['s1'] }],
    dns: { servers: [dns.address] },
    outbound: { port: smtpPort, ca_file: caFile, tls_default: 'may' as const },
    tlsrpt: { organization: 'Sender Org' },
  };
  const { records } = await prepareWithCli(senderDir, senderConfig, { keys: [{ domain: 'sender.test', selector: 's1', type: 'ed25519' }] });
  for (const [name, value] of records) dns.zone.set(name, { TXT: [value] });
  const day = Math.floor(Date.now() / DAY_MS) * DAY_MS + DAY_MS;
  const dayName = new Date(day).toISOString().slice(0, 10);
  const clockFile = path.join(dir, 'clock');
  const setClock = (at: number) => writeFile(clockFile, String(at - Date.now()));
  await setClock(day + DAY_MS / 2);
  const sender = await startSealpost(t, { config: senderConfig, env: { SEALPOST_TEST_CLOCK_FILE: clockFile } });
  // At start, the day before (no traffic) is looked at: nothing to report.
  const first = await sender.waitForLog({ event: 'tlsrpt', state: 'run' }, { timeoutMs: 20_000 });
  assert.equal(first['reports'], 0);

  // The day's traffic: two messages to a.test (enforce, verified), one to b.test (testing, wrong name).
  for (const [rcpt, subject] of [
    ['alice@a.test', 'one'],
    ['alice@a.test', 'two'],
    ['bob@b.test', 'three'],
    ['carol@c.test', 'four'],
    ['dave@d.test', 'five'],
  ] as const) {
    const sent = await sender.cli(['send', '-f', 'bob@sender.test', rcpt], `Subject: ${subject}\r\n\r\nhello\r\n`);
    assert.equal(sent.code, 0, sent.stderr);
  }
  await receiver.waitForMail(2, { domain: 'a.test', mailbox: 'alice', timeoutMs: 30_000 });
  await receiver.waitForMail(1, { domain: 'b.test', mailbox: 'bob', timeoutMs: 30_000 });
  await receiver.waitForMail(1, { domain: 'c.test', mailbox: 'carol', timeoutMs: 30_000 });
  await receiver.waitForMail(1, { domain: 'd.test', mailbox: 'dave', timeoutMs: 30_000 });
  const hops = sender.findLogs({ event: 'hop' });
  assert.deepEqual(
    hops.map((h) => [h['domain'], h['result'], (h['tls'] as { verified?: boolean } | null)?.verified, h['policySource']]).sort(),
    [
      ['a.test', 'delivered', true, 'mta-sts'],
      ['a.test', 'delivered', true, 'mta-sts'],
      ['b.test', 'delivered', false, 'default'],
      ['c.test', 'delivered', true, 'default'],
      ['d.test', 'delivered', true, 'default'],
    ],
    JSON.stringify(hops),
  );

  // Midnight UTC: the run for the day sends one report per domain.
  const since = sender.logs().length;
  await setClock(day + DAY_MS + 5_000);
  const run = await sender.waitForLog({ event: 'tlsrpt', state: 'run', day: dayName }, { since, timeoutMs: 30_000 });
  assert.equal(run['domains'], 4, 'a, b, c and d had traffic');
  assert.equal(run['reports'], 3, JSON.stringify(sender.findLogs({ event: 'tlsrpt' })));

  // b.test: by HTTPS POST, gzip JSON.
  await waitFor(() => posts.length >= 2, { timeoutMs: 10_000, what: 'the POSTs to reports.b.test' });
  assert.equal(posts.length, 2);
  const post = posts.find((p) => p.path === '/v1/tlsrpt') as Post;
  assert.equal(post.type, 'application/tlsrpt+gzip');
  assert.equal(post.path, '/v1/tlsrpt');
  const b = JSON.parse(gunzipSync(post.body).toString('utf8')) as Record<string, unknown>;
  assert.deepEqual(schemaProblems(b), []);
  const startIso = `${dayName}T00:00:00Z`;
  const endIso = `${new Date(day + DAY_MS).toISOString().slice(0, 10)}T00:00:00Z`;
  assert.deepEqual(b['date-range'], { 'start-datetime': startIso, 'end-datetime': endIso });
  assert.equal(b['organization-name'], 'Sender Org');
  assert.equal(b['contact-info'], 'postmaster@sender.test');
  const [bPolicy] = b['policies'] as { policy: unknown; summary: unknown; 'failure-details': Record<string, unknown>[] }[];
  assert.ok(bPolicy);
  assert.deepEqual(bPolicy.policy, {
    'policy-type': 'sts',
    'policy-string': ['version: STSv1', 'mode: testing', 'mx: mx.b.test', 'max_age: 86400'],
    'policy-domain': 'b.test',
    'mx-host': ['mx.b.test'],
  });
  assert.deepEqual(bPolicy.summary, { 'total-successful-session-count': 0, 'total-failure-session-count': 1 });
  const [detail] = bPolicy['failure-details'];
  assert.ok(detail);
  assert.equal(detail['result-type'], 'certificate-host-mismatch');
  assert.equal(detail['receiving-mx-hostname'], 'mx.b.test');
  assert.equal(detail['receiving-ip'], RECEIVER_IP);
  assert.equal(detail['failed-session-count'], 1);
  assert.ok(net.isIP(String(detail['sending-mta-ip'])) !== 0, JSON.stringify(detail));

  // c.test: its policy could not be fetched over verified HTTPS, so every session went without it.
  const cPost = posts.find((p) => p.path === '/v1/c') as Post;
  assert.equal(cPost.type, 'application/tlsrpt+gzip');
  const c = JSON.parse(gunzipSync(cPost.body).toString('utf8')) as {
    policies: { policy: unknown; summary: unknown; 'failure-details': Record<string, unknown>[] }[];
  };
  assert.deepEqual(schemaProblems(c), []);
  assert.equal(c.policies.length, 1);
  assert.deepEqual(c.policies[0]?.policy, { 'policy-type': 'sts', 'policy-domain': 'c.test' });
  assert.deepEqual(c.policies[0]?.summary, { 'total-successful-session-count': 0, 'total-failure-session-count': 1 });
  assert.equal(c.policies[0]?.['failure-details'][0]?.['result-type'], 'sts-webpki-invalid');
  assert.match(String(c.policies[0]?.['failure-details'][0]?.['failure-reason-code']), /mta-sts\.c\.test/);

  // a.test: by mail to tlsrpt@rcv.test, through the sender's queue, DKIM-signed, delivered although
  // rcv.test's MTA-STS policy names none of its MX hosts (TLS-Required: No, RFC 8460 §3, RFC 8689 §5).
  const [mail] = await receiver.waitForMail(1, { domain: 'rcv.test', mailbox: 'tlsrpt', timeoutMs: 30_000 });
  assert.ok(mail);
  const a = reportAttachment(mail.raw);
  const reportId = `${dayName}.a.test@mx.sender.test`;
  assert.equal(a.fileName, `mx.sender.test!a.test!${day / 1000}!${(day + DAY_MS) / 1000}.json.gz`);
  assert.equal(mail.header('Subject'), `Report Domain: a.test Submitter: mx.sender.test Report-ID: <${reportId}>`);
  // RFC 8460 §5.3's ABNF: the Report-ID is a msg-id (dot-atom-text "@" dot-atom-text).
  assert.match(reportId, /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/);
  assert.equal(mail.header('TLS-Report-Domain'), 'a.test');
  assert.equal(mail.header('TLS-Report-Submitter'), 'mx.sender.test');
  assert.equal(mail.header('TLS-Required'), 'No');
  assert.match(mail.header('Content-Type') ?? '', /^multipart\/report; report-type="tlsrpt";/);
  assert.match(mail.header('From') ?? '', /@sender\.test>$/);
  // Its DKIM signature, checked by an independent verifier (dkimpy) against the published key.
  assert.match(mail.header('DKIM-Signature') ?? '', /d=sender\.test;/);
  assert.deepEqual(await dkimpyVerify(mail.raw, records), [true]);
  const report = JSON.parse(gunzipSync(a.gzip).toString('utf8')) as Record<string, unknown>;
  assert.deepEqual(schemaProblems(report), []);
  assert.equal(report['report-id'], reportId);
  assert.deepEqual(report['policies'], [
    {
      policy: {
        'policy-type': 'sts',
        'policy-string': ['version: STSv1', 'mode: enforce', 'mx: mx.rcv.test', 'max_age: 86400'],
        'policy-domain': 'a.test',
        'mx-host': ['mx.rcv.test'],
      },
      summary: { 'total-successful-session-count': 2, 'total-failure-session-count': 0 },
    },
  ]);
  await sender.waitForLog({ event: 'delivered', rcpt: 'tlsrpt@rcv.test' }, { timeoutMs: 10_000 });
  // …and the receiving instance read it: `sealpost tls-report` shows it.
  await receiver.waitForLog({ event: 'tls-report', state: 'stored', organization: 'Sender Org' }, { timeoutMs: 10_000 });
  const shown = await receiver.cli(['tls-report', '--json']);
  assert.equal(shown.code, 0, shown.stderr);
  const byDay = (
    JSON.parse(shown.stdout) as { byDay: { day: string; organization: string; reports: number; domains: string[]; successes: number; failures: number }[] }
  ).byDay;
  assert.deepEqual(
    byDay.map((d) => [d.day, d.organization, d.reports, d.domains, d.successes, d.failures]),
    [[dayName, 'Sender Org', 1, ['a.test'], 2, 0]],
  );

  // sealpost status says which reports went out for the day.
  const status = await sender.cli(['status']);
  assert.match(status.stdout, new RegExp(`^TLS reports sent: ${dayName}: 3 domains \\(a\\.test, b\\.test, c\\.test\\), 0 failed$`, 'm'), status.stdout);
  const statusJson = JSON.parse((await sender.cli(['status', '--json'])).stdout) as { tlsReportsSent: unknown };
  assert.deepEqual(statusJson.tlsReportsSent, { enabled: true, last: { day: dayName, sent: ['a.test', 'b.test', 'c.test'], failed: [] } });

  // A restart on the same day looks at the day again and sends nothing twice.
  const beforeRestart = sender.logs().length;
  await sender.restart();
  const again = await sender.waitForLog({ event: 'tlsrpt', state: 'run', day: dayName }, { since: beforeRestart, timeoutMs: 20_000 });
  assert.equal(again['reports'], 0);
  assert.equal(again['domains'], 1, 'a, b and c are recorded as done; d.test (no record) is looked up again');
  assert.equal(posts.length, 2);
  assert.equal((await receiver.readMaildir('rcv.test', 'tlsrpt')).length, 1);

  // The next day: the only traffic was the report mail to rcv.test, which is never reported on.
  const nextSince = sender.logs().length;
  await setClock(day + 2 * DAY_MS + 5_000);
  const next = await sender.waitForLog(
    { event: 'tlsrpt', state: 'run', day: new Date(day + DAY_MS).toISOString().slice(0, 10) },
    { since: nextSince, timeoutMs: 30_000 },
  );
  assert.equal(next['domains'], 0, JSON.stringify(next));
  assert.equal(next['reports'], 0);
  assert.equal((await receiver.readMaildir('rcv.test', 'tlsrpt')).length, 1);
});
