// [[domain]] tlsrpt_rua (src/config/tlsrpt.ts): a mailbox of ours (read as reports), an address
// elsewhere only as "mailto:", an https URL; every wrong value with its key path and the fix.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../../src/config/schema.ts';
import { reportMailboxes, tlsRptRecords } from '../../../src/tlsrpt/record.ts';

const base = (rua: unknown, second: Record<string, unknown> = { name: 'example.net', mailboxes: ['ops'] }) => ({
  hostname: 'mx.example.org',
  data_dir: 'data',
  domain: [{ name: 'example.org', mailboxes: ['admin'], aliases: { tlsrpt: 'admin', fwd: 'someone@elsewhere.example' }, tlsrpt_rua: rua }, second],
});

test('tlsrpt_rua: accepted forms, the record and the mailbox read', () => {
  const table: [unknown, string, string][] = [
    ['admin@example.org', 'mailto:admin@example.org', 'admin@example.org'],
    ['TLSRPT@Example.ORG', 'mailto:tlsrpt@example.org', 'tlsrpt@example.org'],
    ['mailto:tlsrpt@example.org', 'mailto:tlsrpt@example.org', 'tlsrpt@example.org'],
    ['ops@example.net', 'mailto:ops@example.net', 'ops@example.net'],
    ['mailto:reports@tlsrpt.example', 'mailto:reports@tlsrpt.example', ''],
    ['https://reports.example/tlsrpt', 'https://reports.example/tlsrpt', ''],
  ];
  for (const [rua, uri, mailbox] of table) {
    const r = validateConfig(base(rua), '/etc/sealpost');
    assert.ok(r.ok, `${rua}: ${JSON.stringify(!r.ok && r.problems)}`);
    assert.deepEqual(r.config.domains[0]?.tlsrptRua, { uri, mailbox }, String(rua));
    assert.deepEqual(tlsRptRecords(r.config.domains), [{ domain: 'example.org', name: '_smtp._tls.example.org', value: `v=TLSRPTv1; rua=${uri}`, mailbox }]);
    assert.deepEqual([...reportMailboxes(r.config.domains)], mailbox === '' ? [] : [mailbox]);
  }
  const none = validateConfig(base(undefined), '/etc/sealpost');
  assert.ok(none.ok);
  assert.equal(none.config.domains[0]?.tlsrptRua, undefined);
  assert.deepEqual(tlsRptRecords(none.config.domains), []);
});

test('tlsrpt_rua: every wrong value named with its key path and the fix', () => {
  const table: [unknown, RegExp][] = [
    ['nobody@example.org', /not one of our mailboxes \(nor an alias of one\): add "nobody" to the mailboxes or aliases of domain "example.org"/],
    ['fwd@example.org', /not one of our mailboxes/],
    ['reports@elsewhere.example', /not at one of our \[\[domain\]\]s.*write "mailto:reports@elsewhere.example"/],
    ['a@example.org,b@example.org', /one address or URI without ","/],
    ['not an address', /one address or URI/],
    ['tlsrpt', /is not a mail address/],
    ['ftp://x.example/', /"mailto:" address or an "https:" URL/],
    ['https://', /is not an https URL/],
    [5, /must be a string/],
  ];
  for (const [rua, message] of table) {
    const r = validateConfig(base(rua), '/etc/sealpost');
    assert.equal(r.ok, false, String(rua));
    const problems = !r.ok ? r.problems : [];
    assert.deepEqual(
      problems.map((p) => p.path),
      ['domain[0].tlsrpt_rua'],
      `${rua}: ${JSON.stringify(problems)}`,
    );
    assert.match(problems[0]?.message ?? '', message, String(rua));
  }
  // With a catch-all, any local part of the domain is delivered here.
  const r = validateConfig(base('anything@example.net', { name: 'example.net', mailboxes: ['ops'], catch_all: 'ops' }), '/etc/sealpost');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
});
