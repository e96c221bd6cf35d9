// The config keys of submission, AUTH, DKIM and inbound authentication results.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../../src/config/schema.ts';

const base = { hostname: 'mx.example.test', data_dir: 'data', domain: [{ name: 'example.test', mailboxes: ['alice'] }] };

test('defaults: submission off, listeners follow tls.min_version, guard on, no DKIM, results on', () => {
  const r = validateConfig({ ...base, tls: { min_version: 'TLSv1.3' } }, '/etc/sealpost');
  assert.ok(r.ok);
  assert.deepEqual(r.config.listen.submission, []);
  assert.deepEqual(r.config.listen.submissions, []);
  assert.equal(r.config.submission.minVersion, 'TLSv1.3');
  assert.equal(r.config.submissions.minVersion, 'TLSv1.3');
  assert.deepEqual(r.config.auth, { slowAfter: 3, delayMs: 1000, maxFailures: 10, lockoutSeconds: 900, maxConcurrent: 4 });
  assert.deepEqual(r.config.dkim, []);
  assert.equal(r.config.inbound.authenticationResults, true);
  assert.equal(r.config.inbound.dmarcReject, false);
});

test('explicit values: ports default to 587/465, per-listener min_version, selectors lowercased', () => {
  const r = validateConfig(
    {
      ...base,
      listen: { submission: ['127.0.0.1', '[::1]:5587'], submissions: ['0.0.0.0'] },
      submission: { min_version: 'TLSv1' },
      auth: { slow_after: 1, delay_ms: 50, max_failures: 2, lockout_s: 60, max_concurrent: 2 },
      domain: [{ name: 'Example.TEST', mailboxes: ['alice'], dkim_selectors: ['S2026', 'ed1'] }, { name: 'other.test' }],
      inbound: { dmarc_reject: true },
    },
    '/',
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  assert.deepEqual(r.config.listen.submission, [
    { host: '127.0.0.1', port: 587 },
    { host: '::1', port: 5587 },
  ]);
  assert.deepEqual(r.config.listen.submissions, [{ host: '0.0.0.0', port: 465 }]);
  assert.equal(r.config.submission.minVersion, 'TLSv1');
  assert.equal(r.config.submissions.minVersion, 'TLSv1.2');
  assert.deepEqual(r.config.auth, { slowAfter: 1, delayMs: 50, maxFailures: 2, lockoutSeconds: 60, maxConcurrent: 2 });
  assert.deepEqual(r.config.dkim, [{ domain: 'example.test', selectors: ['s2026', 'ed1'] }]);
  assert.equal(r.config.inbound.dmarcReject, true);
});

test('problems are named with their key paths', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['bad listener address', { listen: { submission: ['mail.example:587'] } }, /^listen\.submission\[0\]: /],
    ['bad listener TLS version', { submissions: { min_version: 'SSLv3' } }, /^submissions\.min_version: must be one of/],
    ['unknown key in [submission]', { submission: { min_versoin: 'TLSv1' } }, /^submission\.min_versoin: unknown key; did you mean "min_version"/],
    ['slow_after above max_failures', { auth: { slow_after: 5, max_failures: 3 } }, /^auth\.slow_after: /],
    ['zero max_failures', { auth: { max_failures: 0 } }, /^auth\.max_failures: must be a whole number from 1/],
    ['bad selector', { domain: [{ name: 'example.test', dkim_selectors: ['s_1'] }] }, /^domain\[0\]\.dkim_selectors\[0\]: "s_1" is not a selector/],
    ['path in a selector', { domain: [{ name: 'example.test', dkim_selectors: ['../../etc'] }] }, /^domain\[0\]\.dkim_selectors\[0\]: /],
    ['selector twice', { domain: [{ name: 'example.test', dkim_selectors: ['a', 'A'] }] }, /^domain\[0\]\.dkim_selectors: lists a selector twice/],
    [
      'dmarc_reject without results',
      { inbound: { authentication_results: false, dmarc_reject: true } },
      /^inbound\.dmarc_reject: needs inbound\.authentication_results/,
    ],
  ];
  for (const [what, raw, expected] of cases) {
    const r = validateConfig({ ...base, ...raw }, '/');
    assert.ok(!r.ok, what);
    assert.ok(
      r.problems.some((p) => expected.test(`${p.path}: ${p.message}`)),
      `${what}: ${JSON.stringify(r.problems)}`,
    );
  }
});
