// `sealpost mta-sts show` in words: what DNS says about each hosted policy's id, and the warnings.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DnsAnswer } from '../../../src/dns/resolver.ts';
import { hostedPolicies } from '../../../src/mta-sts/policy.ts';
import { dnsState, hostState, type PolicyShow, renderShow } from '../../../src/mta-sts/report.ts';

const [policy] = hostedPolicies({
  hostname: 'mx.example.org',
  domains: [{ name: 'example.org', mailboxes: [], aliases: {}, catchAll: '', mtaSts: 'testing' }],
  mtaSts: { extraMx: [], maxAgeSeconds: 604_800 },
});
if (!policy) throw new Error('no policy');

describe('dnsState', () => {
  const cases: [string, DnsAnswer<string>, ReturnType<typeof dnsState>['kind']][] = [
    ['the current id', { kind: 'records', records: ['v=spf1 -all', `v=STSv1; id=${policy.id}`] }, 'current'],
    ['an old id', { kind: 'records', records: ['v=STSv1; id=20240101'] }, 'old'],
    ['two STS records', { kind: 'records', records: [`v=STSv1; id=${policy.id}`, 'v=STSv1; id=2'] }, 'missing'],
    ['no record', { kind: 'nxdomain' }, 'missing'],
    ['no TXT', { kind: 'nodata' }, 'missing'],
    ['a timeout', { kind: 'timeout', detail: 'no answer' }, 'unknown'],
  ];
  for (const [what, answer, kind] of cases) test(what, { timeout: 5000 }, () => assert.equal(dnsState(policy, answer).kind, kind));
});

const resolves: PolicyShow['host'] = { kind: 'resolves', addresses: ['192.0.2.7'] };

describe('hostState', () => {
  test('A or AAAA records resolve; neither is missing', { timeout: 5000 }, () => {
    assert.deepEqual(hostState(policy, { kind: 'nodata' }, { kind: 'records', records: ['2001:db8::7'] }), { kind: 'resolves', addresses: ['2001:db8::7'] });
    assert.equal(hostState(policy, { kind: 'nxdomain' }, { kind: 'nxdomain' }).kind, 'missing');
  });
});

describe('renderShow', () => {
  test('records to publish, the policy, the DNS verdict and the next step of testing', { timeout: 5000 }, () => {
    const { text, warnings } = renderShow([{ policy, dns: { kind: 'old', id: '20240101' }, host: resolves }], {
      hostname: 'mx.example.org',
      httpsListening: true,
    });
    assert.equal(warnings, 1);
    assert.match(text, new RegExp(`_mta-sts\\.example\\.org\\. IN TXT "v=STSv1; id=${policy.id}"`));
    assert.match(text, /mta-sts\.example\.org\. IN CNAME mx\.example\.org\./);
    assert.match(text, /^ {4}mode: testing$/m);
    assert.match(text, /WARNING DNS still has id=20240101/);
    assert.match(text, /switch to mta_sts = "enforce"/);
  });
  test('current id and a listener: no warning; no listener: one', { timeout: 5000 }, () => {
    assert.equal(
      renderShow([{ policy, dns: { kind: 'current', id: policy.id }, host: resolves }], { hostname: 'mx.example.org', httpsListening: true }).warnings,
      0,
    );
    const off = renderShow([{ policy, dns: { kind: 'current', id: policy.id }, host: resolves }], { hostname: 'mx.example.org', httpsListening: false });
    assert.equal(off.warnings, 1);
    assert.match(off.text, /listen\.https is empty/);
  });
  test('a policy host that does not resolve is a warning', { timeout: 5000 }, () => {
    const shown = renderShow(
      [{ policy, dns: { kind: 'current', id: policy.id }, host: { kind: 'missing', detail: 'mta-sts.example.org: no such domain (NXDOMAIN)' } }],
      {
        hostname: 'mx.example.org',
        httpsListening: true,
      },
    );
    assert.equal(shown.warnings, 1);
    assert.match(shown.text, /WARNING mta-sts\.example\.org: no such domain .*publish the CNAME/);
  });
  test('nothing hosted says how to start', { timeout: 5000 }, () => {
    assert.match(renderShow([], { hostname: 'mx.example.org', httpsListening: false }).text, /mta_sts = "testing"/);
  });
  test('the _smtp._tls record and what the TLS reports say about enforcing', { timeout: 5000 }, () => {
    const facts = { hostname: 'mx.example.org', httpsListening: true };
    const record = { domain: 'example.org', name: '_smtp._tls.example.org', value: 'v=TLSRPTv1; rua=mailto:tlsrpt@example.org', mailbox: 'tlsrpt@example.org' };
    const tlsrpt = { ...record, dns: { kind: 'current' } as const };
    const current = { kind: 'current', id: policy.id } as const;
    const safe = renderShow([{ policy, dns: current, host: resolves, tlsrpt, advice: { kind: 'safe', days: 7, reports: 2, sessions: 40 } }], facts);
    assert.equal(safe.warnings, 0);
    assert.match(safe.text, /^ {4}_smtp\._tls\.example\.org\. IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@example\.org"/m);
    assert.match(safe.text, /^ {2}reports 2 TLS reports in the last 7 days, 40 sessions, no failures: safe to switch to mta_sts = "enforce"$/m);
    const failing = renderShow(
      [
        {
          policy,
          dns: current,
          host: resolves,
          tlsrpt,
          advice: { kind: 'failures', days: 7, reports: 1, sessions: 10, failures: 2, byType: { 'certificate-host-mismatch': 2 }, sendingIps: ['203.0.113.9'] },
        },
      ],
      facts,
    );
    assert.match(failing.text, /2 of 10 sessions failed in the last 7 days \(certificate-host-mismatch 2; from 203\.0\.113\.9\): not safe to enforce yet/);
    assert.match(safe.text, /^ {2}ok {6}DNS has _smtp\._tls\.example\.org with this rua$/m);
    const unpublished = renderShow(
      [{ policy, dns: current, host: resolves, tlsrpt: { ...record, dns: { kind: 'missing', detail: '_smtp._tls.example.org: no such domain (NXDOMAIN)' } } }],
      facts,
    );
    assert.equal(unpublished.warnings, 1);
    assert.match(
      unpublished.text,
      /WARNING _smtp\._tls\.example\.org: no such domain \(NXDOMAIN\): senders do not send TLS reports; publish the TXT record above/,
    );
    const elsewhere = renderShow(
      [{ policy, dns: current, host: resolves, tlsrpt: { ...record, dns: { kind: 'other', value: 'v=TLSRPTv1; rua=mailto:old@example.org' } } }],
      facts,
    );
    assert.equal(elsewhere.warnings, 1);
    assert.match(elsewhere.text, /WARNING DNS has _smtp\._tls\.example\.org "v=TLSRPTv1; rua=mailto:old@example\.org": reports go there/);
    const none = renderShow([{ policy, dns: current, host: resolves, advice: { kind: 'no-reports', days: 7 } }], facts);
    assert.match(none.text, /no _smtp\._tls record: set tlsrpt_rua = "tlsrpt@example\.org"/);
    assert.match(none.text, /no TLS reports about this domain in the last 7 days/);
  });
});
