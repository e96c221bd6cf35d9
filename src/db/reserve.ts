// The start-up reserve: a small file in data_dir, given back when the disk is full so that the
// database can still open (SQLite must grow its -shm file to 32 KiB at the first open, and
// fails with SQLITE_IOERR_SHMSIZE when not one block is free) and the daemon comes up to answer
// 452 4.3.1 and record outcomes, instead of failing to start until systemd gives up. Made again
// once the disk has room. Hand-written: no library keeps a ballast file; it is one write and one unlink.
import { constants, unlinkSync } from 'node:fs';
import { open, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

/** 1 MiB: the -shm file, and WAL frames for recover() and the first outcomes. */
export const RESERVE_BYTES = 1024 * 1024;

export function reservePath(dataDir: string): string {
  return path.join(dataDir, 'sealpost.reserve');
}

/** Gives the reserve back to the file system; true if there was one. */
export function releaseReserve(dataDir: string): boolean {
  try {
    unlinkSync(reservePath(dataDir));
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes the reserve when it is missing and the disk has `floorBytes` free besides it (the
 * reserve never takes the room new mail needs). Never throws: the reserve is a help, not a need.
 */
export async function keepReserve(dataDir: string, freeBytes: () => Promise<number>, floorBytes: number): Promise<'kept' | 'made' | 'no room'> {
  const file = reservePath(dataDir);
  try {
    if ((await stat(file)).size === RESERVE_BYTES) return 'kept';
  } catch {
    // missing: make it below
  }
  try {
    if ((await freeBytes()) < floorBytes + RESERVE_BYTES) return 'no room';
    const handle = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
    try {
      // Real blocks, written out (a sparse file or ftruncate would give nothing back).
      await handle.writeFile(Buffer.alloc(RESERVE_BYTES));
      await handle.sync();
    } finally {
      await handle.close();
    }
    return 'made';
  } catch {
    await unlink(file).catch(() => undefined);
    return 'no room';
  }
}
