import assert from 'node:assert/strict';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { loadSrsSecrets } from '../../../src/srs/secret.ts';
import { tempDir } from '../../helpers/tmp.ts';

test('the SRS secret file: made 0600 when absent, read back the same; several lines rotate; others may not read it', { timeout: 10_000 }, async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'srs', 'secret');
  const made = await loadSrsSecrets(file);
  assert.ok(made.ok && made.created);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await stat(path.dirname(file))).mode & 0o777, 0o700);
  assert.equal(made.secrets.length, 1);
  assert.ok((made.secrets[0]?.length ?? 0) >= 40, 'a long random secret');
  const again = await loadSrsSecrets(file);
  assert.deepEqual(again, { ok: true, secrets: made.secrets, created: false });

  await writeFile(file, '# new first, the old one kept for addresses still out there\nnew-secret\n\n  old-secret  \n');
  assert.deepEqual(await loadSrsSecrets(file), { ok: true, secrets: ['new-secret', 'old-secret'], created: false });

  await chmod(file, 0o644);
  const open = await loadSrsSecrets(file);
  assert.ok(!open.ok);
  assert.match(open.problem, /readable by others \(mode 0644\).*chmod 600/);
  assert.ok(!open.problem.includes('new-secret'), 'the secret is never in a message');

  await chmod(file, 0o600);
  await writeFile(file, '\n# nothing\n');
  const empty = await loadSrsSecrets(file);
  assert.ok(!empty.ok && /holds no secret/.test(empty.problem));
  assert.equal(await readFile(file, 'utf8'), '\n# nothing\n', 'an existing file is never replaced');
});
