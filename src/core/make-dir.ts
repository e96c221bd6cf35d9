// Creates a directory and its missing parents, synchronously. Writes directories; nothing else.
//
// Written by hand instead of mkdirSync(dir, { recursive: true }): Node's recursive mkdir retries
// forever, on the main thread, when mkdir(2) answers ENOENT under a parent that exists — which
// is what procfs and sysfs do ("/proc/sealpost-data"): the daemon spun at full CPU, logged
// nothing and, its event loop blocked, could not even run its SIGTERM handler. Here each level
// is tried once and the error of the deepest one that fails is thrown.
import { mkdirSync, statSync } from 'node:fs';
import path from 'node:path';

export function makeDirectory(dir: string, mode = 0o700): void {
  const missing: string[] = [];
  for (let at = path.resolve(dir); ; at = path.dirname(at)) {
    const existing = statSync(at, { throwIfNoEntry: false });
    if (existing !== undefined) {
      if (!existing.isDirectory())
        throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}' (${at} is not a directory)`), { code: 'ENOTDIR', path: at });
      break;
    }
    missing.push(at);
    if (path.dirname(at) === at) break;
  }
  for (const at of missing.reverse()) {
    try {
      mkdirSync(at, { mode });
    } catch (err) {
      // Created meanwhile by someone else: fine, as long as it is a directory.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && statSync(at).isDirectory()) continue;
      throw err;
    }
  }
}
