import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../../src/config/schema.ts';
import { isLoopbackHost } from '../../../src/config/status-http.ts';

const base = { hostname: 'mx.example.org', data_dir: 'data', domain: [{ name: 'example.org', mailboxes: ['alice'] }] };

test('status page: off by default, no password file', () => {
  const r = validateConfig(base, '/etc/sealpost');
  assert.ok(r.ok);
  assert.deepEqual(r.config.listen.statusHttp, []);
  assert.deepEqual(r.config.statusHttp, { passwordFile: '' });
});

test('status page on loopback needs no password; port 8025 by default; password_file resolved against the config folder', () => {
  const r = validateConfig({ ...base, listen: { status_http: ['127.0.0.1', '[::1]:9000'] }, status_http: { password_file: 'status.passwd' } }, '/etc/sealpost');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  assert.deepEqual(r.config.listen.statusHttp, [
    { host: '127.0.0.1', port: 8025 },
    { host: '::1', port: 9000 },
  ]);
  assert.equal(r.config.statusHttp.passwordFile, '/etc/sealpost/status.passwd');
});

test('status page off loopback without a password file is refused, each address with its key path and the fix', () => {
  const r = validateConfig({ ...base, listen: { status_http: ['127.0.0.1:8025', '0.0.0.0:8025', '[2001:db8::1]:8025'] } }, '/etc/sealpost');
  assert.ok(!r.ok);
  assert.deepEqual(
    r.problems.map((p) => p.path),
    ['listen.status_http[1]', 'listen.status_http[2]'],
  );
  assert.match(r.problems[0]?.message ?? '', /not a loopback address.*password_file = ".*".*or listen on "127\.0\.0\.1:8025"/);
  const ok = validateConfig({ ...base, listen: { status_http: ['0.0.0.0:8025'] }, status_http: { password_file: '/etc/sealpost/s' } }, '/');
  assert.ok(ok.ok);
});

test('[status_http] unknown keys and a bad address are problems', () => {
  const r = validateConfig({ ...base, listen: { status_http: ['localhost:8025'] }, status_http: { password: 'x' } }, '/etc/sealpost');
  assert.ok(!r.ok);
  assert.deepEqual(r.problems.map((p) => p.path).sort(), ['listen.status_http[0]', 'status_http.password']);
});

test('isLoopbackHost: 127/8, ::1 and v4-mapped 127/8; wildcards and others are not', () => {
  const table: [string, boolean][] = [
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.1', false],
    ['::ffff:10.0.0.1', false],
    ['2001:db8::1', false],
  ];
  for (const [host, want] of table) assert.equal(isLoopbackHost(host), want, host);
});
