// Small tmpfs mounts for tests of a full disk: netless gives the test root in a private mount
// namespace, so they are seen by this process and its children only. Unmounted when the scope ends.
import assert from 'node:assert/strict';
import { mkdir, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { SealpostDaemon } from './daemon.ts';
import { run, runOk } from './proc.ts';
import type { Scope } from './tmp.ts';

export interface Mounts {
  mount(dir: string, size: string): Promise<void>;
  /** Set once started: stopped before anything is unmounted. */
  daemon: SealpostDaemon | undefined;
}

/**
 * Call before starting the daemon: its after hook then runs first (node:test runs after hooks in
 * the order they were added), stopping the daemon, then unmounting, before any temp dir removal.
 */
export function tmpfsMounts(t: Scope): Mounts {
  const mounted: string[] = [];
  const mounts: Mounts = {
    daemon: undefined,
    async mount(dir, size) {
      await mkdir(dir, { recursive: true });
      await runOk('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
      mounted.push(dir);
    },
  };
  t.after(async () => {
    await mounts.daemon?.stop().catch(() => mounts.daemon?.kill9());
    for (const dir of mounted.reverse()) await runOk('umount', [dir]);
  });
  return mounts;
}

/** Writes zeros into `file` until the file system has not one block left. */
export async function fillUp(file: string): Promise<void> {
  // dd stops at ENOSPC (exit 1): that is the point.
  await run('dd', ['if=/dev/zero', `of=${file}`, 'bs=4k'], { timeoutMs: 20_000 });
  assert.equal((await statfs(path.dirname(file))).bavail, 0, `${path.dirname(file)} is full`);
}
