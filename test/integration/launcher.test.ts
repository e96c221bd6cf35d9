// scripts/sealpost, the launcher every command and the systemd unit run through: the node flags it
// gives the daemon (the young generation's bound), and SEALPOST_NODE_OPTIONS coming after them.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { run } from '../helpers/proc.ts';

const SEALPOST = path.join(import.meta.dirname, '..', '..', 'scripts', 'sealpost');
const MiB = 1024 * 1024;

/**
 * The young generation's maximum as the launched node sees it: V8's heap_size_limit is the old
 * space's maximum (fixed here at 512 MiB) plus three semi-spaces. `-p` prints and never runs main.
 */
async function youngGenerationMiB(extra = ''): Promise<number> {
  const options = `--max-old-space-size=512 ${extra} -p require('v8').getHeapStatistics().heap_size_limit`;
  const r = await run(SEALPOST, ['start'], { env: { ...process.env, SEALPOST_NODE_OPTIONS: options }, timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return Number(r.stdout.trim()) / MiB - 512;
}

test('the daemon runs with semi-spaces of 8 MiB (V8 grows them to 64 MiB here, and a burst left them committed)', { timeout: 60_000 }, async () => {
  assert.equal(await youngGenerationMiB(), 3 * 8);
});

test("SEALPOST_NODE_OPTIONS comes after the launcher's flags, so it can override them", { timeout: 60_000 }, async () => {
  assert.equal(await youngGenerationMiB('--max-semi-space-size=16'), 3 * 16);
});
