// The TLS report parser (src/tlsrpt/parse.ts): RFC 8460 Appendix B's example, gzip and plain
// JSON, and a table of reports with missing fields and wrong types, each problem by key path.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { decodeReport, isReportPart, MAX_REPORT_BYTES, parseReport } from '../../../src/tlsrpt/parse.ts';
import { RFC_EXAMPLE } from './rfc-example.ts';

const clone = (): Record<string, unknown> => structuredClone(RFC_EXAMPLE) as Record<string, unknown>;

describe('parseReport', () => {
  test("RFC 8460's example: every field read", () => {
    const r = parseReport(RFC_EXAMPLE);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    assert.equal(r.report.organization, 'Company-X');
    assert.equal(r.report.reportId, '5065427c-23d3-47ca-b6e0-946ea0e8c4be');
    assert.equal(r.report.contact, 'sts-reporting@company-x.example');
    assert.equal(r.report.start, Date.UTC(2016, 3, 1));
    assert.equal(r.report.end, Date.UTC(2016, 3, 1, 23, 59, 59));
    const [p] = r.report.policies;
    assert.ok(p);
    assert.deepEqual([p.type, p.domain, p.mxHosts, p.successes, p.failures], ['sts', 'company-y.example', ['*.mail.company-y.example'], 5326, 303]);
    assert.deepEqual(
      p.details.map((d) => [d.resultType, d.sendingMtaIp, d.receivingMx, d.receivingIp, d.sessions, d.reasonCode]),
      [
        ['certificate-expired', '2001:db8:abcd:0012::1', 'mx1.mail.company-y.example', '', 100, ''],
        ['starttls-not-supported', '2001:db8:abcd:0013::1', 'mx2.mail.company-y.example', '203.0.113.56', 200, ''],
        ['validation-failure', '198.51.100.62', 'mx-backup.mail.company-y.example', '203.0.113.58', 3, 'X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED'],
      ],
    );
  });

  test('a no-policy-found report without failure details, "mx-host" as one string', () => {
    const r = parseReport({
      ...clone(),
      policies: [
        {
          policy: { 'policy-type': 'no-policy-found', 'policy-domain': 'Example.ORG', 'mx-host': 'mx.example.org' },
          summary: { 'total-successful-session-count': 12, 'total-failure-session-count': 0 },
        },
      ],
    });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    assert.deepEqual(r.report.policies[0], {
      type: 'no-policy-found',
      domain: 'example.org',
      mxHosts: ['mx.example.org'],
      successes: 12,
      failures: 0,
      details: [],
    });
  });

  const broken: [string, (j: Record<string, unknown>) => void, string[]][] = [
    ['organization-name missing', (j) => delete j['organization-name'], ['organization-name: required, a non-empty string']],
    ['report-id a number', (j) => (j['report-id'] = 42), ['report-id: must be a non-empty string']],
    ['contact-info missing', (j) => delete j['contact-info'], ['contact-info: required, a non-empty string']],
    ['date-range missing', (j) => delete j['date-range'], ['date-range: required, an object with start-datetime and end-datetime']],
    [
      'start-datetime not RFC 3339',
      (j) => ((j['date-range'] as Record<string, unknown>)['start-datetime'] = '01/04/2016'),
      ['date-range.start-datetime: must be an RFC 3339 date-time such as "2026-12-01T00:00:00Z"'],
    ],
    [
      'end before start',
      (j) => ((j['date-range'] as Record<string, unknown>)['end-datetime'] = '2016-03-31T00:00:00Z'),
      ['date-range: end-datetime is before start-datetime'],
    ],
    ['policies not an array', (j) => (j.policies = {}), ['policies: required, an array']],
    ['policy-type unknown', (j) => (policy(j)['policy-type'] = 'dane'), ['policies[0].policy.policy-type: "dane" is not one of sts, tlsa, no-policy-found']],
    ['policy-domain missing', (j) => delete policy(j)['policy-domain'], ['policies[0].policy.policy-domain: required, a non-empty string']],
    ['policy-string not strings', (j) => (policy(j)['policy-string'] = [1, 2]), ['policies[0].policy.policy-string: must be an array of strings']],
    [
      'a count as a string',
      (j) => (summary(j)['total-successful-session-count'] = '5326'),
      ['policies[0].summary.total-successful-session-count: must be a whole number ≥ 0'],
    ],
    [
      'a negative count, a fraction',
      (j) => {
        summary(j)['total-failure-session-count'] = -1;
        details(j)[0]['failed-session-count'] = 1.5;
      },
      [
        'policies[0].summary.total-failure-session-count: must be a whole number ≥ 0',
        'policies[0].failure-details[0].failed-session-count: must be a whole number ≥ 0',
      ],
    ],
    ['summary missing', (j) => delete first(j).summary, ['policies[0].summary: required, an object with the session counts']],
    ['result-type missing', (j) => delete details(j)[1]['result-type'], ['policies[0].failure-details[1].result-type: required, a non-empty string']],
    ['receiving-ip a number', (j) => (details(j)[1]['receiving-ip'] = 203), ['policies[0].failure-details[1].receiving-ip: must be a string']],
    ['failure-details an object', (j) => (first(j)['failure-details'] = {}), ['policies[0].failure-details: must be an array']],
  ];
  for (const [name, breakIt, problems] of broken)
    test(`invalid: ${name}`, () => {
      const j = clone();
      breakIt(j);
      const r = parseReport(j);
      assert.equal(r.ok, false);
      assert.deepEqual(!r.ok && r.problems, problems);
    });

  test('not an object at all', () => {
    for (const j of [null, [], 'report', 3]) assert.deepEqual(parseReport(j), { ok: false, problems: ['the report is not a JSON object'] });
  });
});

describe('decodeReport', () => {
  const json = Buffer.from(JSON.stringify(RFC_EXAMPLE));
  test('gzip (application/tlsrpt+gzip) and plain JSON (application/tlsrpt+json) give the same report', () => {
    const plain = decodeReport(json);
    const gzipped = decodeReport(gzipSync(json));
    assert.ok(plain.ok && gzipped.ok);
    assert.deepEqual(gzipped.report, plain.report);
  });
  test('broken gzip, not JSON, a zip bomb: problems, not exceptions', () => {
    const truncated = gzipSync(json).subarray(0, 20);
    assert.match((decodeReport(truncated) as { problems: string[] }).problems[0] ?? '', /^not valid gzip/);
    assert.match((decodeReport(Buffer.from('{"organization-name": ')) as { problems: string[] }).problems[0] ?? '', /^not JSON/);
    const bomb = gzipSync(Buffer.alloc(MAX_REPORT_BYTES + 1, 0x20));
    assert.deepEqual(decodeReport(bomb), { ok: false, problems: [`inflates to more than ${MAX_REPORT_BYTES} bytes`] });
  });
});

test('isReportPart: the RFC 8460 §5.3 media types, or a generic type with a .json(.gz) file name', () => {
  const table: [string, string | undefined, boolean][] = [
    ['application/tlsrpt+gzip', undefined, true],
    ['Application/TLSRPT+JSON; charset=utf-8', undefined, true],
    ['application/gzip', 'google.com!example.org!1733011200!1733097599!001.json.gz', true],
    ['application/octet-stream', 'report.json', true],
    ['application/gzip', 'report.tar.gz', false],
    ['text/plain', 'report.json', false],
    ['application/pdf', undefined, false],
  ];
  for (const [type, name, expected] of table) assert.equal(isReportPart(type, name), expected, `${type} ${name}`);
});

type Obj = Record<string, unknown>;
function first(j: Obj): Obj {
  return (j.policies as Obj[])[0] as Obj;
}
function policy(j: Obj): Obj {
  return first(j).policy as Obj;
}
function summary(j: Obj): Obj {
  return first(j).summary as Obj;
}
function details(j: Obj): Obj[] & { 0: Obj; 1: Obj } {
  return first(j)['failure-details'] as Obj[] & { 0: Obj; 1: Obj };
}
