import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { readPassword, targetOf } from '../../../../src/queue/pg/connect.ts';
import { pgpassLookup } from '../../../../src/queue/pg/pgpass.ts';

const target = { host: 'db.example.org', port: 5432, database: 'sealpost', user: 'sealpost' };

test('pgpass: the first matching line wins, "*" matches anything, "\\:" and "\\\\" are escapes', { timeout: 5000 }, () => {
  const cases: [string, string | undefined][] = [
    ['db.example.org:5432:sealpost:sealpost:s3cret', 's3cret'],
    ['# comment\n\nother:5432:*:*:no\n*:*:*:sealpost:yes\n*:*:*:*:later', 'yes'],
    ['db.example.org:5433:sealpost:sealpost:wrong-port', undefined],
    ['db.example.org:*:sealpost:sealpost:a\\:b\\\\c:d', 'a:b\\c:d'],
    ['db.example.org:5432:sealpost', undefined],
  ];
  for (const [text, want] of cases) assert.equal(pgpassLookup(text, target), want, text);
});

test('the password: password_file first line, else PGPASSFILE; the URL gives host, port, database and user', { timeout: 5000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-pgpass-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const url = 'postgres://sealpost@db.example.org/sealpost';
  assert.deepEqual(targetOf(url), target);
  assert.deepEqual(targetOf('postgresql://u%40x@[::1]:6543/q'), { host: '::1', port: 6543, database: 'q', user: 'u@x' });
  writeFileSync(path.join(dir, 'pw'), 'from-file\nsecond line\n');
  writeFileSync(path.join(dir, 'pgpass'), '*:*:sealpost:sealpost:from-pgpass\n');
  assert.equal(await readPassword({ url, passwordFile: path.join(dir, 'pw') }, { PGPASSFILE: path.join(dir, 'pgpass') }), 'from-file');
  assert.equal(await readPassword({ url }, { PGPASSFILE: path.join(dir, 'pgpass') }), 'from-pgpass');
  assert.equal(await readPassword({ url }, {}), '');
});
