// The aggregate report of a domain's day (tlsrpt/aggregate.ts) and its mail form (tlsrpt/mail.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { AttemptRecord } from '../../../src/outbound/attempts-store.ts';
import { buildReport, utcDay } from '../../../src/tlsrpt/aggregate.ts';
import { packReport } from '../../../src/tlsrpt/deliver.ts';
import { reportMail } from '../../../src/tlsrpt/mail.ts';

const DAY = Date.parse('2026-12-01T00:00:00Z');
const sts = { id: 'p1', mode: 'testing', mx: ['*.dest.test'], maxAge: 604800 };
const attempt = (fields: Partial<AttemptRecord>): AttemptRecord => ({
  queueId: 'Q',
  at: DAY + 1000,
  domain: 'dest.test',
  rcpts: ['a@dest.test'],
  mx: 'mx1.dest.test',
  ip: '192.0.2.1',
  port: 25,
  policy: 'may',
  policySource: 'default',
  result: 'delivered',
  reply: { code: 250, text: 'ok' },
  ms: 5,
  source: '198.51.100.7',
  stsPolicy: sts,
  tls: { version: 'TLSv1.3', cipher: 'c', verified: true },
  ...fields,
});
const mismatch = { version: 'TLSv1.3', cipher: 'c', verified: false, error: 'certificate is valid for other.test, not mx2.dest.test' };

test('utcDay: the UTC day around an instant', () => {
  assert.deepEqual(utcDay(DAY + 86_399_999), { day: '2026-12-01', start: DAY, end: DAY + 86_400_000 });
  assert.deepEqual(utcDay(DAY + 86_400_000).day, '2026-12-02');
});

test('a day of attempts → one report: per policy, counts, failures grouped by type and host', () => {
  const report = buildReport({
    domain: 'dest.test',
    start: DAY,
    end: DAY + 86_400_000,
    organization: 'Org',
    contact: 'postmaster@org.test',
    reportId: 'r1',
    attempts: [
      attempt({}),
      attempt({}),
      attempt({ mx: 'mx2.dest.test', ip: '192.0.2.2', tls: mismatch }),
      attempt({ mx: 'mx2.dest.test', ip: '192.0.2.2', tls: mismatch }),
      // Before the policy was known: no policy found.
      attempt({ stsPolicy: undefined, tls: undefined, downgrade: 'STARTTLS refused (454 no); continued in plaintext' }),
      // Not a session: the connection was refused.
      attempt({ tls: undefined, result: 'transient', error: 'connect ECONNREFUSED', reply: undefined }),
    ].map((a) => Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as unknown as AttemptRecord),
  });
  assert.deepEqual(report, {
    'organization-name': 'Org',
    'date-range': { 'start-datetime': '2026-12-01T00:00:00Z', 'end-datetime': '2026-12-02T00:00:00Z' },
    'contact-info': 'postmaster@org.test',
    'report-id': 'r1',
    policies: [
      {
        policy: {
          'policy-type': 'sts',
          'policy-string': ['version: STSv1', 'mode: testing', 'mx: *.dest.test', 'max_age: 604800'],
          'policy-domain': 'dest.test',
          'mx-host': ['*.dest.test'],
        },
        summary: { 'total-successful-session-count': 2, 'total-failure-session-count': 2 },
        'failure-details': [
          {
            'result-type': 'certificate-host-mismatch',
            'sending-mta-ip': '198.51.100.7',
            'receiving-mx-hostname': 'mx2.dest.test',
            'receiving-ip': '192.0.2.2',
            'failed-session-count': 2,
            'failure-reason-code': 'certificate is valid for other.test, not mx2.dest.test',
          },
        ],
      },
      {
        policy: { 'policy-type': 'no-policy-found', 'policy-domain': 'dest.test' },
        summary: { 'total-successful-session-count': 0, 'total-failure-session-count': 1 },
        'failure-details': [
          {
            'result-type': 'starttls-not-supported',
            'sending-mta-ip': '198.51.100.7',
            'receiving-mx-hostname': 'mx1.dest.test',
            'receiving-ip': '192.0.2.1',
            'failed-session-count': 1,
          },
        ],
      },
    ],
  });
});

test('DANE hops → a tlsa policy per MX host with its TLSA records as policy-string (RFC 8460 §4.3)', () => {
  const ee = '3 1 1 aabbcc';
  const dane = (fields: Partial<NonNullable<AttemptRecord['dane']>>) => ({ tlsa: 1, usable: 1, matched: null, error: null, records: [ee], ...fields });
  const rotated = 'the TLSA record 3 1 1 aabbcc… matches no certificate the server sent';
  const report = buildReport({
    domain: 'dest.test',
    start: DAY,
    end: DAY + 86_400_000,
    organization: 'Org',
    contact: 'postmaster@org.test',
    reportId: 'r1',
    attempts: [
      attempt({ policy: 'dane', policySource: 'dane', dane: dane({ matched: '3 1 1' }) }),
      attempt({ policy: 'dane', policySource: 'dane', dane: dane({ matched: '3 1 1' }) }),
      attempt({ policy: 'dane', policySource: 'dane', result: 'transient', tls: { ...mismatch, error: rotated }, dane: dane({ error: rotated }) }),
      // The other MX host's TLSA answer was bogus: no connection, deferred.
      attempt({
        mx: 'mx2.dest.test',
        ip: '',
        policy: 'dane',
        result: 'transient',
        reply: undefined,
        tls: undefined,
        dane: { tlsa: 0, usable: 0, matched: null, error: 'TLSA lookup failed: SERVFAIL' },
      }),
    ].map((a) => Object.fromEntries(Object.entries(a).filter(([, v]) => v !== undefined)) as unknown as AttemptRecord),
  });
  assert.deepEqual(report?.policies, [
    {
      policy: { 'policy-type': 'tlsa', 'policy-string': [ee], 'policy-domain': 'dest.test', 'mx-host': ['mx1.dest.test'] },
      summary: { 'total-successful-session-count': 2, 'total-failure-session-count': 1 },
      'failure-details': [
        {
          'result-type': 'tlsa-invalid',
          'sending-mta-ip': '198.51.100.7',
          'receiving-mx-hostname': 'mx1.dest.test',
          'receiving-ip': '192.0.2.1',
          'failed-session-count': 1,
          'failure-reason-code': rotated,
        },
      ],
    },
    {
      policy: { 'policy-type': 'tlsa', 'policy-domain': 'dest.test', 'mx-host': ['mx2.dest.test'] },
      summary: { 'total-successful-session-count': 0, 'total-failure-session-count': 1 },
      'failure-details': [
        {
          'result-type': 'dnssec-invalid',
          'sending-mta-ip': '198.51.100.7',
          'receiving-mx-hostname': 'mx2.dest.test',
          'failed-session-count': 1,
          'failure-reason-code': 'TLSA lookup failed: SERVFAIL',
        },
      ],
    },
  ]);
});

test('no TLS session that day: no report', () => {
  const none = buildReport({
    domain: 'dest.test',
    start: DAY,
    end: DAY + 86_400_000,
    organization: 'O',
    contact: 'c',
    reportId: 'r',
    attempts: [attempt({ mx: '', ip: '', tls: undefined, result: 'transient', error: 'DNS timeout' })],
  });
  assert.equal(none, undefined);
});

test('RFC 8460 §5.1/§5.3: the file name, the fields and the attachment of the report mail', () => {
  const report = {
    'organization-name': 'O',
    'date-range': { 'start-datetime': 's', 'end-datetime': 'e' },
    'contact-info': 'c',
    'report-id': 'r',
    policies: [],
  };
  const packed = packReport(report, 'mx.org.test', 'dest.test', DAY, DAY + 86_400_000);
  assert.equal(packed.fileName, 'mx.org.test!dest.test!1796083200!1796169600.json.gz');
  assert.deepEqual(JSON.parse(gunzipSync(packed.gzip).toString()), report);
  const mail = reportMail({
    from: 'tlsrpt-noreply@org.test',
    to: 'rua@dest.test',
    policyDomain: 'dest.test',
    submitter: 'mx.org.test',
    reportId: 'r',
    fileName: packed.fileName,
    gzip: packed.gzip,
    now: DAY,
    messageId: 'm@mx.org.test',
    boundary: 'b1',
  }).toString();
  const [head = '', body = ''] =
    mail.split('\r\n\r\n', 2).length === 2 ? [mail.slice(0, mail.indexOf('\r\n\r\n')), mail.slice(mail.indexOf('\r\n\r\n') + 4)] : [];
  assert.match(head, /^Subject: Report Domain: dest\.test\r\n Submitter: mx\.org\.test\r\n Report-ID: <r>$/m);
  assert.match(head, /^TLS-Report-Domain: dest\.test$/m);
  assert.match(head, /^TLS-Report-Submitter: mx\.org\.test$/m);
  assert.match(head, /^TLS-Required: No$/m, 'RFC 8460 §3: delivered despite TLS failures');
  assert.match(head, /^Content-Type: multipart\/report; report-type="tlsrpt";\r\n boundary="b1"$/m);
  assert.ok(!/\n(?!\s)[^\r\n]{999}/.test(mail), 'no line over 998 characters');
  const part = body.split('--b1\r\n')[2] ?? '';
  assert.match(part, /^Content-Type: application\/tlsrpt\+gzip\r\nContent-Transfer-Encoding: base64\r\n/);
  assert.match(part, /filename="mx\.org\.test!dest\.test!1796083200!1796169600\.json\.gz"/);
  const b64 = (part.split('\r\n\r\n')[1] ?? '').split('\r\n--b1--')[0] ?? '';
  assert.deepEqual(JSON.parse(gunzipSync(Buffer.from(b64.replace(/\r\n/g, ''), 'base64')).toString()), report);
  assert.ok(mail.endsWith('--b1--\r\n'));
});
