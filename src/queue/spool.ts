// The spool directory, data_dir/spool: one file per large message body, written while DATA
// arrives (src/inbound/collect.ts), fsync'd with its directory before the commit that makes the
// 250, named by its messages row (column spool) and removed when the message leaves the queue.
// At start-up, files that no row names (a crash between the fsync and the commit, or in the
// middle of DATA) are removed. File-system I/O only.
import { closeSync, fsync, mkdirSync, openSync, readdirSync, writev } from 'node:fs';
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { syncDir } from '../core/durable-fs.ts';

const fsyncFd = promisify(fsync);
const writevFd = promisify(writev);

/** data_dir/spool */
export function spoolDirOf(dataDir: string): string {
  return path.join(dataDir, 'spool');
}

export class Spool {
  readonly dir: string;
  private made = false;

  constructor(dir: string) {
    this.dir = dir;
  }

  path(name: string): string {
    return path.join(this.dir, name);
  }

  /** A new spool file; throws the file system's error (ENOSPC, EACCES …) when it cannot be made. */
  create(name: string): SpoolFile {
    if (!this.made) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      this.made = true;
    }
    const file = this.path(name);
    return new SpoolFile(name, file, openSync(file, 'wx', 0o600));
  }

  /** Removes a spool file; one already gone is fine. */
  async remove(name: string): Promise<void> {
    await unlink(this.path(name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /** Removes every file no row names (run before anything can write a new one). Returns how many. */
  async sweep(named: ReadonlySet<string>): Promise<number> {
    let entries: string[];
    try {
      entries = readdirSync(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    let removed = 0;
    for (const name of entries) {
      if (named.has(name)) continue;
      await this.remove(name);
      removed++;
    }
    if (removed > 0) await syncDir(this.dir);
    return removed;
  }
}

/**
 * One spool file being written: write() in order (false: wait for onDrain before the next),
 * then finish() (all written, fsync'd, directory fsync'd) or abort() (closed and removed).
 */
export class SpoolFile {
  readonly name: string;
  readonly file: string;
  /** The first write error, reported by finish(). */
  error: Error | undefined;
  private readonly fd: number;
  private readonly out: Writable;
  private closed = false;

  constructor(name: string, file: string, fd: number) {
    this.name = name;
    this.file = file;
    this.fd = fd;
    this.out = new Writable({
      highWaterMark: 256 * 1024,
      writev: (chunks, done) => {
        void writevAll(
          fd,
          chunks.map((c) => c.chunk as Buffer),
        ).then(() => done(), done);
      },
    });
    this.out.on('error', (err) => {
      this.error ??= err;
      this.out.emit('drain'); // whoever waits for room goes on (and the error is reported at the end)
    });
  }

  /** False when the caller should wait for onDrain before writing more. */
  write(chunk: Buffer): boolean {
    if (this.error || chunk.length === 0) return true;
    return this.out.write(chunk);
  }

  onDrain(callback: () => void): void {
    this.out.once('drain', callback);
  }

  /** Everything written and on disk (file and directory entry); throws a write or fsync error. */
  async finish(): Promise<void> {
    if (!this.error) {
      await new Promise<void>((resolve) => this.out.end(() => resolve()));
    }
    if (this.error) throw this.error;
    await fsyncFd(this.fd);
    this.close();
    await syncDir(path.dirname(this.file));
  }

  /** Closes and removes the file (the message was not accepted). Never rejects. */
  async abort(): Promise<void> {
    if (!this.out.destroyed) this.out.destroy();
    this.close();
    await unlink(this.file).catch(() => undefined);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

async function writevAll(fd: number, chunks: Buffer[]): Promise<void> {
  let pending = chunks;
  while (pending.length > 0) {
    let { bytesWritten: written } = await writevFd(fd, pending);
    // No progress on a regular file means the space ran out.
    if (written === 0) throw Object.assign(new Error('short write to a spool file'), { code: 'ENOSPC' });
    const rest: Buffer[] = [];
    for (const c of pending) {
      if (written >= c.length) written -= c.length;
      else {
        rest.push(c.subarray(written));
        written = 0;
      }
    }
    pending = rest;
  }
}
