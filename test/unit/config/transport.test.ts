import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../../src/config/load.ts';
import { validateConfig } from '../../../src/config/schema.ts';
import { parseNextHop } from '../../../src/config/transport.ts';
import { tempDir } from '../../helpers/tmp.ts';

const cases: [string, ReturnType<typeof parseNextHop>][] = [
  ['smtp:[smtp.provider.example]:587', { protocol: 'smtp', host: 'smtp.provider.example', port: 587, mxLookup: false }],
  ['smtps:[smtp.provider.example]:465', { protocol: 'smtps', host: 'smtp.provider.example', port: 465, mxLookup: false }],
  ['smtps:[smtp.provider.example]', { protocol: 'smtps', host: 'smtp.provider.example', port: 465, mxLookup: false }],
  ['smtp:mx.partner.example', { protocol: 'smtp', host: 'mx.partner.example', port: 25, mxLookup: true }],
  ['smtp:Relay.Example:2525', { protocol: 'smtp', host: 'relay.example', port: 2525, mxLookup: true }],
  ['smtp:10.0.0.5:2525', { protocol: 'smtp', host: '10.0.0.5', port: 2525, mxLookup: false }],
  ['smtp:[127.0.0.1]:25', { protocol: 'smtp', host: '127.0.0.1', port: 25, mxLookup: false }],
  ['smtp:[ipv6:2001:db8::1]:25', { protocol: 'smtp', host: '2001:db8::1', port: 25, mxLookup: false }],
  [
    'lmtp:[127.0.0.1]:24',
    '"lmtp:[127.0.0.1]:24" is not a next hop; write "smtp:[smtp.provider.example]:587" (brackets: no MX lookup) or "smtps:[smtp.provider.example]:465"',
  ],
  [
    'smtp.provider.example:587',
    '"smtp.provider.example:587" is not a next hop; write "smtp:[smtp.provider.example]:587" (brackets: no MX lookup) or "smtps:[smtp.provider.example]:465"',
  ],
  ['smtp:[host]:99999', 'port 99999 is out of range (1-65535)'],
  ['smtp:[bad_name]:25', '"bad_name" is neither a host name nor an IP address'],
  ['smtp:[ipv6:nope]:25', '"ipv6:nope" is not an IPv6 address'],
];
for (const [text, want] of cases) {
  test(`parseNextHop ${text}`, () => assert.deepEqual(parseNextHop(text), want));
}

const base = { hostname: 'mx.example.test', data_dir: '/tmp/x', domain: [{ name: 'example.test', mailboxes: ['a'] }] };

test('[outbound] relay: TLS verify by default, credentials by file, transports by domain', () => {
  const r = validateConfig(
    {
      ...base,
      outbound: {
        relay: 'smtp:[smtp.provider.example]:587',
        relay_auth: { username: 'mailer', password_file: 'relay.password' },
        transport: {
          'Example.COM': 'smtp:[mx.partner.example]:25',
          '.internal.example': 'smtp:10.0.0.5:2525',
          'partner.example': { nexthop: 'smtps:[smtp.partner.example]', username: 'p', password_file: '/etc/p.pw' },
          'lan.example': { nexthop: 'smtp:[10.1.1.1]', tls: 'none' },
        },
      },
    },
    '/etc/sealpost',
  );
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  assert.deepEqual(r.config.outbound.relay, {
    protocol: 'smtp',
    host: 'smtp.provider.example',
    port: 587,
    mxLookup: false,
    tls: 'verify',
    auth: { username: 'mailer', passwordFile: '/etc/sealpost/relay.password' },
  });
  assert.deepEqual(r.config.outbound.transports, {
    'example.com': { protocol: 'smtp', host: 'mx.partner.example', port: 25, mxLookup: false },
    '.internal.example': { protocol: 'smtp', host: '10.0.0.5', port: 2525, mxLookup: false },
    'partner.example': {
      protocol: 'smtps',
      host: 'smtp.partner.example',
      port: 465,
      mxLookup: false,
      tls: 'verify',
      auth: { username: 'p', passwordFile: '/etc/p.pw' },
    },
    'lan.example': { protocol: 'smtp', host: '10.1.1.1', port: 25, mxLookup: false, tls: 'none' },
  });
});

test('[outbound] relay problems: each with its key path and the fix', () => {
  const r = validateConfig(
    {
      ...base,
      outbound: {
        relay: 'smtp.provider.example:587',
        relay_auth: { username: 'mailer', pasword_file: 'x' },
        transport: { 'a..b': 'smtp:[x]:25', 'ok.example': { nexthop: 'smtp:[x]', username: 'u', password_file: '/p', tls: 'may' }, 'n.example': 7 },
      },
    },
    '/etc',
  );
  assert.ok(!r.ok);
  const paths = r.problems.map((p) => p.path).sort();
  assert.deepEqual(paths, [
    'outbound.relay',
    'outbound.relay_auth.password_file',
    'outbound.relay_auth.pasword_file',
    'outbound.transport."a..b"',
    'outbound.transport."n.example"',
    'outbound.transport."ok.example".tls',
  ]);
  assert.match(r.problems.find((p) => p.path === 'outbound.transport."ok.example".tls')?.message ?? '', /only over TLS.*"encrypt" or "verify"/);
});

test('relay_auth without relay, and smtps with may, are problems', () => {
  const r = validateConfig(
    { ...base, outbound: { relay_auth: { username: 'u', password_file: '/p' }, transport: { 'x.example': { nexthop: 'smtps:[h]', tls: 'may' } } } },
    '/etc',
  );
  assert.ok(!r.ok);
  assert.deepEqual(r.problems.map((p) => p.path).sort(), ['outbound.relay_auth', 'outbound.transport."x.example".tls']);
});

test('config check: the password file must be mode 0600, and says the chmod', { timeout: 10_000 }, async (t) => {
  const dir = await tempDir(t);
  const pw = path.join(dir, 'relay.password');
  // A password no path contains ([srs] secret_file defaults to data_dir/srs/secret).
  await writeFile(pw, 'relay-pass-7Hq2\n', { mode: 0o644 });
  await chmod(pw, 0o644);
  const file = path.join(dir, 'sealpost.toml');
  await writeFile(
    file,
    `hostname = "mx.example.test"\ndata_dir = "${dir}/data"\n[[domain]]\nname = "example.test"\nmailboxes = ["a"]\n[outbound]\nrelay = "smtp:[smtp.provider.example]:587"\n[outbound.relay_auth]\nusername = "u"\npassword_file = "relay.password"\n`,
  );
  const open = await loadConfig(file);
  assert.ok(!open.ok);
  assert.deepEqual(open.problems, [
    { path: 'outbound.relay_auth.password_file', message: `${pw} is readable by others (mode 0644); it holds a password: run chmod 600 ${pw}` },
  ]);
  assert.ok(!JSON.stringify(open.problems).includes('relay-pass-7Hq2'));
  await chmod(pw, 0o600);
  const ok = await loadConfig(file);
  assert.ok(ok.ok, JSON.stringify(!ok.ok && ok.problems));
  assert.ok(!JSON.stringify(ok.config).includes('relay-pass-7Hq2'), 'the password is not in the config');
  const missing = await loadConfig(file.replace('sealpost.toml', 'x.toml')).catch(() => undefined);
  assert.ok(missing && !missing.ok);
});
