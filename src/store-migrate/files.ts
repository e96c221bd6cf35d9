// The files `sealpost store migrate` puts into shared_files (PostgreSQL schema 2): every regular
// file under data_dir/certs/acme (the ACME account and certificates, acme/cache.ts) and
// data_dir/dkim (the DKIM keys, dkim/keys.ts), by its '/'-separated path under data_dir, with its
// mode bits. Left out: temp files of an interrupted atomic write (core/durable-fs.ts: NAME.tmp-HEX),
// the renewal requests of `sealpost certs renew` to this node's daemon (certs/acme/control,
// acme/control.ts) and anything that is not a regular file. File-system reads only.
import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** The directories under data_dir whose files every node shares. */
export const SHARED_DIRS: readonly string[] = ['certs/acme', 'dkim'];

export interface SharedFile {
  /** Relative to data_dir, '/'-separated. */
  path: string;
  content: Buffer;
  /** Permission bits, e.g. 0o600. */
  mode: number;
}

const TEMP_FILE = /\.tmp-[0-9a-f]+$/;
/** Directories of one node's own short-lived files. */
const NODE_LOCAL_DIRS: readonly string[] = ['certs/acme/control'];

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
        if (!NODE_LOCAL_DIRS.includes(child)) await walk(child);
      } else if (info.isFile() && !TEMP_FILE.test(name))
        files.push({ path: child, content: await readFile(path.join(dataDir, child)), mode: info.mode & 0o7777 });
    }
  };
  for (const dir of SHARED_DIRS) await walk(dir);
  return files;
}
