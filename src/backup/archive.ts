// The I/O of backups shared by `sealpost backup` and `restore`: walking a tree, hashing a file,
// writing a .tar.zst (npm tar through node:zlib's zstd) and reading one entry by entry.
// Side effects: file-system reads and writes only.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createZstdCompress, createZstdDecompress } from 'node:zlib';
import * as tar from 'tar';
import { syncDir } from '../core/durable-fs.ts';

/** Files (not directories, not symlinks) under `root`, relative to it with "/"; [] when it does not exist. */
export async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && rel === '') return;
      throw err;
    }
    for (const e of entries) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(path.join(dir, e.name), r);
      else if (e.isFile()) out.push(r);
    }
  };
  await walk(root, '');
  return out.sort();
}

/** SHA-256 (hex) and size of a file, read as a stream. */
export async function hashFile(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** fsync a file by its path. */
export async function syncFile(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Writes `paths` (relative to `cwd`, in this order) as a zstd-compressed tar to `file` (0600): tmp → fsync → rename. */
export async function writeArchive(cwd: string, paths: readonly string[], file: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}`;
  // portable: no uid/gid/user names or mtimes of this machine in the headers; a restore sets modes itself.
  const pack = tar.c({ cwd, portable: true, noDirRecurse: true }, [...paths]);
  await pipeline(pack, createZstdCompress(), createWriteStream(tmp, { mode: 0o600, flags: 'wx' }));
  await syncFile(tmp);
  await rename(tmp, file);
  await syncDir(path.dirname(file));
}

/**
 * Reads a .tar.zst, calling `onEntry` for every entry in order; resolves once the archive is read
 * to its end and every promise `onEntry` registered through `wait` is settled. Rejects on a
 * damaged archive (zstd or tar), naming it.
 */
export async function readArchive(
  file: string,
  onEntry: (entryPath: string, kind: string, body: tar.ReadEntry, wait: (p: Promise<void>) => void) => void,
): Promise<void> {
  const pending: Promise<void>[] = [];
  const failures: unknown[] = [];
  const wait = (p: Promise<void>) => pending.push(p.catch((err: unknown) => void failures.push(err)));
  const parser = tar.t({ strict: true, onReadEntry: (entry) => onEntry(entry.path, entry.type, entry, wait) });
  const done = new Promise<void>((resolve, reject) => {
    parser.on('end', resolve);
    parser.on('error', reject);
    parser.on('abort', reject);
  });
  try {
    // The parser is a Minipass stream, not a node stream: fed through a Writable of ours.
    const sink = new Writable({
      write(chunk: Buffer, _enc, callback) {
        if (parser.write(chunk)) callback();
        else parser.once('drain', () => callback());
      },
      final(callback) {
        parser.end();
        callback();
      },
    });
    await pipeline(createReadStream(file), createZstdDecompress(), sink);
    await done;
  } catch (err) {
    throw new Error(`${file} is not a readable .tar.zst archive (${(err as Error).message}): restore from another copy of the backup`);
  }
  await Promise.all(pending);
  if (failures.length > 0) throw failures[0];
}
