// Writes that survive a crash: a file replaced atomically (tmp + fsync + rename + fsync of its
// directory), and the directory fsync on its own (for renames and new entries).
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

/** Makes the directory's entries (new files, renames) durable. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces `file` with `data` (mode exactly `mode`): readers see the old file or the new one.
 * `exclusive`: never replace an existing file; fails with EEXIST instead (atomically, by link()).
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode: number, options: { exclusive?: boolean } = {}): Promise<void> {
  const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
  const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have narrowed `mode` at creation
    await handle.sync();
  } catch (err) {
    // A full disk: no half-written temp file left behind.
    await handle.close();
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    if (options.exclusive) {
      await link(tmp, file);
      await unlink(tmp);
    } else {
      await rename(tmp, file);
    }
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(path.dirname(file));
}

/**
 * Where the writers of files every node shares (the ACME cache, DKIM keys) put them: the local
 * disk (localFiles), or, with [store] kind = "postgres", the shared_files table as well
 * (src/shared-files/). Paths are absolute; `exclusive` as in writeFileAtomic.
 */
export interface FileWriter {
  write(file: string, data: string | Uint8Array, mode: number, options?: { exclusive?: boolean }): Promise<void>;
  /** Removes the file; one already gone is not an error. */
  remove(file: string): Promise<void>;
}

export const localFiles: FileWriter = {
  write: writeFileAtomic,
  async remove(file) {
    await unlink(file).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  },
};
