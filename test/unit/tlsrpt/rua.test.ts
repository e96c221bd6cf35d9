// The _smtp._tls TXT record (RFC 8460 §3), table-tested.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTlsrptRecord } from '../../../src/tlsrpt/rua.ts';

test('_smtp._tls records → report destinations, table', () => {
  const cases: [string, string[], string[] | string][] = [
    ['mailto', ['v=TLSRPTv1; rua=mailto:tlsrpt@example.org'], ['mailto tlsrpt@example.org']],
    ['https', ['v=TLSRPTv1;rua=https://reports.example.org/v1'], ['https https://reports.example.org/v1']],
    [
      'both, spaces, percent-encoded',
      ['v=TLSRPTv1; rua=mailto:tls%2Drpt@example.org, https://r.example.org/x ;'],
      ['mailto tls-rpt@example.org', 'https https://r.example.org/x'],
    ],
    ['other TXT records ignored', ['v=spf1 -all', 'v=TLSRPTv1; rua=mailto:a@example.org'], ['mailto a@example.org']],
    ['none', ['v=spf1 -all'], 'no v=TLSRPTv1 record'],
    ['two records: none (§3)', ['v=TLSRPTv1; rua=mailto:a@example.org', 'v=TLSRPTv1; rua=mailto:b@example.org'], 'more than one'],
    ['no rua', ['v=TLSRPTv1;'], 'no rua='],
    ['only unknown schemes', ['v=TLSRPTv1; rua=http://example.org/'], 'no usable rua URI'],
    ['a bad address', ['v=TLSRPTv1; rua=mailto:nobody'], 'no usable rua URI'],
    ['not at the start', ['rua=mailto:a@example.org; v=TLSRPTv1'], 'no v=TLSRPTv1 record'],
  ];
  for (const [name, records, want] of cases) {
    const got = parseTlsrptRecord(records);
    if (typeof want === 'string') {
      assert.ok(!got.ok && got.error.includes(want), `${name}: ${JSON.stringify(got)}`);
      continue;
    }
    assert.ok(got.ok, name);
    assert.deepEqual(
      got.destinations.map((d) => (d.kind === 'mailto' ? `mailto ${d.address}` : `https ${d.url.href}`)),
      want,
      name,
    );
  }
});
