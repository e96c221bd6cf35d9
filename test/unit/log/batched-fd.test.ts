import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { BatchedFd } from '../../../src/log/batched-fd.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-batched-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('the lines of one turn of the event loop go out together at its end; a full batch goes at once', { timeout: 10_000 }, async () => {
  const file = path.join(dir, 'a.log');
  const fd = openSync(file, 'w');
  try {
    const out = new BatchedFd(fd, { maxBytes: 100 });
    out.write('{"n":1}\n');
    out.write('{"n":2}\n');
    assert.equal(readFileSync(file, 'utf8'), '', 'nothing written during the turn');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(readFileSync(file, 'utf8'), '{"n":1}\n{"n":2}\n', 'both, once the turn is over');
    out.write(`${'x'.repeat(120)}\n`);
    assert.equal(readFileSync(file, 'utf8').length, 16 + 121, 'past maxBytes: written at once');
  } finally {
    closeSync(fd);
  }
});

test('what waits is written when the process exits', { timeout: 10_000 }, () => {
  const module = path.resolve(import.meta.dirname, '../../../src/log/batched-fd.ts');
  const script = `import { BatchedFd } from ${JSON.stringify(module)}; const out = new BatchedFd(1); out.write('last words\\n'); process.exit(3);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 8000 });
  assert.equal(r.status, 3);
  assert.equal(r.stdout, 'last words\n');
});
