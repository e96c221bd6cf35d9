// The daemon's log destination: JSON lines for a file descriptor (stdout), gathered and written
// together, synchronously, one write(2) per batch: the records of one turn of the event loop go
// out at its end (setImmediate), before it waits for more I/O, so a record is on its way as soon
// as the turn that made it is done; under load a turn makes many. A batch past `maxBytes` goes at
// once, and what waits is written when the process exits. Side effects: writes to the descriptor.
import { writeSync } from 'node:fs';

export class BatchedFd {
  private readonly fd: number;
  private readonly maxBytes: number;
  private lines: string[] = [];
  private bytes = 0;
  private scheduled: NodeJS.Immediate | undefined;

  constructor(fd: number, options: { maxBytes?: number } = {}) {
    this.fd = fd;
    this.maxBytes = options.maxBytes ?? 64 * 1024;
    process.on('exit', () => this.flush());
  }

  /** pino's destination interface: one serialized record, newline included. */
  write(line: string): boolean {
    this.lines.push(line);
    this.bytes += line.length;
    if (this.bytes >= this.maxBytes) this.flush();
    else this.scheduled ??= setImmediate(() => this.flush()).unref();
    return true;
  }

  flush(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    if (this.lines.length === 0) return;
    const data = Buffer.from(this.lines.join(''));
    this.lines = [];
    this.bytes = 0;
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
