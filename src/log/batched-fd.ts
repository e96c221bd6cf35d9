// The daemon's log destination: JSON lines for a file descriptor (stdout), gathered and written
// together, synchronously, one write(2) per batch: the records of one turn of the event loop go
// out at its end (setImmediate), before it waits for more I/O, so a record is on its way as soon
// as the turn that made it is done; under load a turn makes many. A batch past `maxBytes` goes at
// once, and what waits is written when the process exits. Side effects: writes to the descriptor.
import { writeSync } from 'node:fs';

/** POSIX: writes to a pipe of at most this many bytes are not interleaved with other writers' (Linux: 4096). */
const PIPE_BUF = 4096;

export class BatchedFd {
  private readonly fd: number;
  private readonly maxBytes: number;
  private lines: string[] = [];
  private bytes = 0;
  private scheduled: NodeJS.Immediate | undefined;

  private readonly atomicLines: boolean;

  /**
   * `atomicLines`: several processes share the descriptor; a batch is written in pieces of whole
   * lines of at most PIPE_BUF bytes, which POSIX writes to a pipe without interleaving.
   */
  constructor(fd: number, options: { maxBytes?: number; atomicLines?: boolean } = {}) {
    this.fd = fd;
    this.maxBytes = options.maxBytes ?? 64 * 1024;
    this.atomicLines = options.atomicLines ?? false;
    process.on('exit', () => this.flush());
  }

  /** pino's destination interface: one serialized record, newline included. */
  write(line: string): boolean {
    this.lines.push(line);
    this.bytes += line.length;
    if (this.bytes >= this.maxBytes) this.flush();
    // Not unref'd: an unref'd immediate does not stop the loop from waiting for I/O, so a record
    // made in the check phase (the queue's completeSoon) sat until something else woke the loop.
    else this.scheduled ??= setImmediate(() => this.flush());
    return true;
  }

  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.lines.length === 0) return;
    const lines = this.lines;
    this.lines = [];
    this.bytes = 0;
    if (!this.atomicLines) return this.writeAll(Buffer.from(lines.join('')));
    let piece: string[] = [];
    let size = 0;
    for (const line of lines) {
      const n = Buffer.byteLength(line);
      if (piece.length > 0 && size + n > PIPE_BUF) {
        this.writeAll(Buffer.from(piece.join('')));
        piece = [];
        size = 0;
      }
      piece.push(line);
      size += n;
    }
    this.writeAll(Buffer.from(piece.join('')));
  }

  private writeAll(data: Buffer): void {
    let written = 0;
    while (written < data.length) {
      try {
        written += writeSync(this.fd, data, written);
      } catch (err) {
        // A full non-blocking pipe: wait for the reader (back-pressure) and try again.
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
        // Anything else (EPIPE: nobody reads any more) cannot be logged either: the lines are dropped.
        else return;
      }
    }
  }
}
