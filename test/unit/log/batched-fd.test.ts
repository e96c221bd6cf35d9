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

test('atomicLines: two processes writing big batches to one pipe never split a line', { timeout: 30_000 }, () => {
  const module = path.resolve(import.meta.dirname, '../../../src/log/batched-fd.ts');
  // Each writer: 10 turns of 2000 records of ~300 bytes: batches of ~600 KiB, far more than a pipe holds.
  const writer = `import { BatchedFd } from ${JSON.stringify(module)};
    const out = new BatchedFd(1, { atomicLines: true, maxBytes: 4 * 2 ** 20 });
    const pad = 'y'.repeat(280);
    for (let turn = 0; turn < 10; turn++) {
      for (let i = 0; i < 2000; i++) out.write(JSON.stringify({ w: process.argv[1], turn, i, pad }) + '\\n');
      await new Promise((resolve) => setImmediate(resolve));
    }`;
  const parent = `import { spawn } from 'node:child_process';
    const run = (name) => new Promise((resolve) => spawn(process.execPath, ['--input-type=module', '-e', ${JSON.stringify(writer)}, name], { stdio: ['ignore', 'inherit', 'inherit'] }).on('exit', resolve));
    await Promise.all([run('a'), run('b')]);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', parent], { encoding: 'utf8', timeout: 25_000, maxBuffer: 64 * 2 ** 20 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  let broken = 0;
  const counts = new Map<string, number>();
  for (const line of lines) {
    try {
      const w = (JSON.parse(line) as { w: string }).w;
      counts.set(w, (counts.get(w) ?? 0) + 1);
    } catch {
      broken++;
    }
  }
  assert.equal(broken, 0, `${broken} lines were split by the other writer`);
  assert.deepEqual(Object.fromEntries(counts), { a: 20000, b: 20000 });
});
