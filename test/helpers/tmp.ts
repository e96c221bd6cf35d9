// Temporary directories for tests: one per caller, removed when the test ends.
// Side effects: creates a directory under the OS temp dir; removes it in the test's after hook.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** What a test or suite offers for cleanup: node:test's TestContext, or `{ after }` from node:test. */
export interface Scope {
  after(fn: () => unknown): void;
}

/** Set SEALPOST_TEST_KEEP=1 to keep temp dirs (and the peers' logs in them) for a post-mortem. */
export function keepTempDirs(): boolean {
  return process.env['SEALPOST_TEST_KEEP'] === '1';
}

/**
 * Makes a fresh directory (mode 0700) and returns its absolute path; it is removed after `scope`.
 * node:test runs after-hooks in the order they were added, so this dir goes before peers started
 * later are stopped: keep only files there that peers read at start (certificates, keys).
 */
export async function tempDir(scope: Scope, prefix = 'sealpost-test-'): Promise<string> {
  const dir = await makeTempDir(prefix);
  scope.after(() => removeTempDir(dir));
  return dir;
}

/** A fresh directory the caller removes with removeTempDir (for helpers that own their dir). */
export function makeTempDir(prefix = 'sealpost-test-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function removeTempDir(dir: string): Promise<void> {
  if (keepTempDirs()) {
    process.stderr.write(`# kept ${dir} (SEALPOST_TEST_KEEP=1)\n`);
    return;
  }
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
}
