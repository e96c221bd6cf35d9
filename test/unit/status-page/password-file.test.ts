import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { checkBasicAuth, loadPasswordFile, parsePasswordFile } from '../../../src/status-page/password-file.ts';
import { makeTempDir, removeTempDir } from '../../helpers/tmp.ts';

test('parsePasswordFile: user:password lines, comments and blank lines skipped, colons allowed in the password', () => {
  assert.deepEqual(parsePasswordFile('# who may look\n\nops:s3cret\nali:a:b:c\r\n'), {
    ok: true,
    entries: [
      { user: 'ops', password: 's3cret' },
      { user: 'ali', password: 'a:b:c' },
    ],
  });
  const table: [string, RegExp][] = [
    ['', /no "user:password" line/],
    ['# only\n', /no "user:password" line/],
    ['ops:ok\nnocolon\n', /line 2 is not "user:password"/],
    [':pw\n', /line 1/],
    ['user:\n', /line 1/],
  ];
  for (const [text, want] of table) {
    const r = parsePasswordFile(text);
    assert.ok(!r.ok, text);
    assert.match(r.problem, want, text);
  }
});

test('checkBasicAuth: RFC 7617 credentials of an entry, anything else refused', () => {
  const entries = [
    { user: 'ops', password: 's3cret' },
    { user: 'ali', password: 'a:b' },
  ];
  const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
  assert.equal(checkBasicAuth(basic('ops:s3cret'), entries), true);
  assert.equal(checkBasicAuth(basic('ali:a:b'), entries), true);
  assert.equal(checkBasicAuth(`basic ${Buffer.from('ops:s3cret').toString('base64')}`, entries), true);
  for (const header of [undefined, '', basic('ops:wrong'), basic('ops:s3cret2'), basic('ali:a'), basic('ops'), 'Bearer abc', `Basic ${'!'.repeat(8)}`])
    assert.equal(checkBasicAuth(header, entries), false, String(header));
});

test('loadPasswordFile: mode 0600 or stricter only; missing, group- or world-readable refused with the fix', { timeout: 10_000 }, async (t) => {
  const dir = await makeTempDir('sealpost-passwd-');
  t.after(() => removeTempDir(dir));
  const file = path.join(dir, 'status.passwd');
  const missing = await loadPasswordFile(file);
  assert.ok(!missing.ok);
  assert.match(missing.problem, /cannot read .*ENOENT.*chmod 600/);
  await writeFile(file, 'ops:s3cret\n');
  await chmod(file, 0o644);
  const open = await loadPasswordFile(file);
  assert.ok(!open.ok);
  assert.match(open.problem, /mode 0644: others may read the passwords; chmod 600/);
  await chmod(file, 0o640);
  assert.ok(!(await loadPasswordFile(file)).ok);
  await chmod(file, 0o600);
  assert.deepEqual(await loadPasswordFile(file), { ok: true, entries: [{ user: 'ops', password: 's3cret' }] });
  await chmod(file, 0o400);
  assert.ok((await loadPasswordFile(file)).ok);
  await writeFile(file, 'garbage\n');
  const bad = await loadPasswordFile(file);
  assert.ok(!bad.ok);
  assert.match(bad.problem, /status\.passwd line 1 is not "user:password"/);
});
