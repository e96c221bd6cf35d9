// The files `sealpost store migrate` puts into shared_files (PostgreSQL schema 2): every regular
// file under data_dir that the nodes share (shared-files/paths.ts: the ACME cache, the DKIM keys,
// the SRS secret), by its '/'-separated path under data_dir, with its mode bits; the same set the
// nodes' sync writes, so nothing it would refuse goes in. Anything that is not a regular file is
// left out. File-system reads only.
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { SHARED_ROOTS, sharedPathProblem } from '../shared-files/paths.ts';

export interface SharedFile {
  /** Relative to data_dir, '/'-separated. */
  path: string;
  content: Buffer;
  /** Permission bits, e.g. 0o600. */
  mode: number;
}

export async function sharedFilesOf(dataDir: string): Promise<SharedFile[]> {
  const files: SharedFile[] = [];
  const walk = async (rel: string): Promise<void> => {
    let entries: string[];
    try {
      entries = await readdir(path.join(dataDir, rel));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const name of entries.sort()) {
      const child = `${rel}/${name}`;
      const info = await lstat(path.join(dataDir, child));
      if (info.isDirectory()) {
        await walk(child);
      } else if (info.isFile() && sharedPathProblem(child) === undefined)
        files.push({ path: child, content: await readFile(path.join(dataDir, child)), mode: info.mode & 0o7777 });
    }
  };
  for (const root of SHARED_ROOTS) await walk(root.slice(0, -1));
  return files;
}
