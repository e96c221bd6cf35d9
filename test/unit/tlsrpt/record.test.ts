// What DNS publishes for our _smtp._tls record (src/tlsrpt/record.ts, RFC 8460 §3): ours, another
// rua, none (no record, no TLSRPTv1 record, two of them), or no answer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DnsAnswer } from '../../../src/dns/resolver.ts';
import { publishedState, type TlsRptDnsState } from '../../../src/tlsrpt/record.ts';

const record = { domain: 'example.org', name: '_smtp._tls.example.org', value: 'v=TLSRPTv1; rua=mailto:tlsrpt@example.org', mailbox: 'tlsrpt@example.org' };

test('publishedState', () => {
  const table: [string, DnsAnswer<string>, TlsRptDnsState['kind']][] = [
    ['ours', { kind: 'records', records: ['v=TLSRPTv1; rua=mailto:tlsrpt@example.org'] }, 'current'],
    [
      'ours among other TXT, spaced, case, a second rua',
      { kind: 'records', records: ['v=spf1 -all', 'v=TLSRPTv1;rua=https://r.example/x, MAILTO:TLSRPT@example.org'] },
      'current',
    ],
    ['another rua', { kind: 'records', records: ['v=TLSRPTv1; rua=mailto:old@example.org'] }, 'other'],
    ['two TLSRPT records', { kind: 'records', records: [record.value, 'v=TLSRPTv1; rua=mailto:b@example.org'] }, 'missing'],
    ['no TLSRPTv1 record', { kind: 'records', records: ['v=TLSRPTv2; rua=mailto:tlsrpt@example.org'] }, 'missing'],
    ['NXDOMAIN', { kind: 'nxdomain' }, 'missing'],
    ['no TXT', { kind: 'nodata' }, 'missing'],
    ['SERVFAIL', { kind: 'servfail', detail: 'x' }, 'unknown'],
  ];
  for (const [what, answer, kind] of table) assert.equal(publishedState(record, answer).kind, kind, what);
});
