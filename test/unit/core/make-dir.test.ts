// makeDirectory (src/core/make-dir.ts): creates missing parents; fails at once, with the errno,
// where Node's recursive mkdir would spin forever (procfs answers ENOENT under /proc).
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { makeDirectory } from '../../../src/core/make-dir.ts';
import { tempDir } from '../../helpers/tmp.ts';

test('creates missing parents with the mode; an existing directory is fine', { timeout: 5_000 }, async (t) => {
  const dir = await tempDir(t);
  const deep = path.join(dir, 'a', 'b', 'c');
  makeDirectory(deep, 0o700);
  assert.ok(statSync(deep).isDirectory());
  assert.equal(statSync(path.join(dir, 'a')).mode & 0o777, 0o700);
  makeDirectory(deep, 0o700);
});

test('under a file: ENOTDIR; under /proc: the ENOENT of mkdir(2), not a hang', { timeout: 5_000 }, async (t) => {
  const dir = await tempDir(t);
  writeFileSync(path.join(dir, 'file'), '');
  assert.throws(() => makeDirectory(path.join(dir, 'file', 'data')), { code: 'ENOTDIR' });
  assert.throws(() => makeDirectory('/proc/sealpost-test-data/x'), { code: 'ENOENT' });
});
