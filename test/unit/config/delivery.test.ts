import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deliveryName, parseDelivery } from '../../../src/config/delivery.ts';
import { validateConfig } from '../../../src/config/schema.ts';

test('[[domain]] delivery: maildir, LMTP on a unix socket or TCP (port 24 by default), or the sentence that says what to write', () => {
  const table: [string, ReturnType<typeof parseDelivery> | RegExp][] = [
    ['maildir', { kind: 'maildir' }],
    ['lmtp:unix:/run/dovecot/lmtp', { kind: 'lmtp', socket: '/run/dovecot/lmtp' }],
    ['lmtp:unix:/run//dovecot/./lmtp', { kind: 'lmtp', socket: '/run/dovecot/lmtp' }],
    ['lmtp:[127.0.0.1]:24', { kind: 'lmtp', host: '127.0.0.1', port: 24 }],
    ['lmtp:127.0.0.1:2424', { kind: 'lmtp', host: '127.0.0.1', port: 2424 }],
    ['lmtp:inet:127.0.0.1:2424', { kind: 'lmtp', host: '127.0.0.1', port: 2424 }],
    ['lmtp:[::1]', { kind: 'lmtp', host: '::1', port: 24 }],
    ['lmtp:127.0.0.1', { kind: 'lmtp', host: '127.0.0.1', port: 24 }],
    ['lmtp:unix:run/dovecot/lmtp', /absolute path/],
    ['lmtp:[dovecot.example]:24', /is not an address/],
    ['lmtp:127.0.0.1:99999', /out of range/],
    ['Maildir', /not a delivery; write "maildir", "lmtp:unix:\/run\/dovecot\/lmtp" or "lmtp:\[127\.0\.0\.1\]:24"/],
    ['smtp:[127.0.0.1]:25', /not a delivery/],
  ];
  for (const [text, expected] of table) {
    const got = parseDelivery(text);
    if (expected instanceof RegExp) assert.match(String(got), expected, text);
    else assert.deepEqual(got, expected, text);
  }
});

test('deliveryName: how logs and queue show name the destination', () => {
  assert.equal(deliveryName({ kind: 'maildir' }), 'maildir');
  assert.equal(deliveryName({ kind: 'lmtp', socket: '/run/dovecot/lmtp' }), 'unix:/run/dovecot/lmtp');
  assert.equal(deliveryName({ kind: 'lmtp', host: '127.0.0.1', port: 24 }), '127.0.0.1:24');
  assert.equal(deliveryName({ kind: 'lmtp', host: '::1', port: 24 }), '[::1]:24');
});

test('[[domain]] delivery in a config: default maildir, a bad value reported with its key path', () => {
  const domain = (delivery?: string) => ({ name: 'example.org', mailboxes: ['alice'], ...(delivery === undefined ? {} : { delivery }) });
  const ok = validateConfig(
    {
      hostname: 'mx.example.org',
      data_dir: 'data',
      domain: [domain(), domain('lmtp:unix:/run/dovecot/lmtp')].map((d, i) => ({ ...d, name: `d${i}.example.org` })),
    },
    '/etc/sealpost',
  );
  assert.ok(ok.ok);
  assert.deepEqual(
    ok.config.domains.map((d) => d.delivery),
    [{ kind: 'maildir' }, { kind: 'lmtp', socket: '/run/dovecot/lmtp' }],
  );
  const bad = validateConfig({ hostname: 'mx.example.org', data_dir: 'data', domain: [domain('lmtp:dovecot')] }, '/etc/sealpost');
  assert.ok(!bad.ok);
  assert.deepEqual(
    bad.problems.map((p) => p.path),
    ['domain[0].delivery'],
  );
  assert.match(bad.problems[0]?.message ?? '', /not an IP address/);
});

test('[local] lmtp_concurrency: default 10, a number from 1 to 1000, unknown keys refused', () => {
  const base = { hostname: 'mx.example.test', data_dir: '/tmp/x', domain: [{ name: 'example.test', mailboxes: ['a'] }] };
  const d = validateConfig(base, '/etc');
  assert.ok(d.ok && d.config.local.lmtpConcurrency === 10);
  const set = validateConfig({ ...base, local: { lmtp_concurrency: 3 } }, '/etc');
  assert.ok(set.ok && set.config.local.lmtpConcurrency === 3);
  const bad = validateConfig({ ...base, local: { lmtp_concurrency: 0, lmtp_idle: 5 } }, '/etc');
  assert.ok(!bad.ok);
  assert.deepEqual(bad.problems.map((p) => p.path).sort(), ['local.lmtp_concurrency', 'local.lmtp_idle']);
});

test('[local] maildir_threads: default "auto", "auto" or a whole number from 1 to 64, anything else named with the fix', () => {
  const base = { hostname: 'mx.example.test', data_dir: '/tmp/x', domain: [{ name: 'example.test', mailboxes: ['a'] }] };
  const d = validateConfig(base, '/etc');
  assert.ok(d.ok && d.config.local.maildirThreads === 'auto');
  for (const value of ['auto', 1, 64] as const) {
    const set = validateConfig({ ...base, local: { maildir_threads: value } }, '/etc');
    assert.ok(set.ok && set.config.local.maildirThreads === value, String(value));
  }
  for (const value of [0, 65, 2.5, 'four', '4', true]) {
    const bad = validateConfig({ ...base, local: { maildir_threads: value } }, '/etc');
    assert.ok(!bad.ok, String(value));
    assert.deepEqual(
      bad.problems.map((p) => p.path),
      ['local.maildir_threads'],
    );
    assert.match(bad.problems[0]?.message ?? '', /write "auto" \(half the CPUs, 1 to 8\) or a whole number from 1 to 64/);
  }
});
