// The daemon's log destination: JSON lines for a file descriptor (stdout), gathered and written
// together, synchronously, one write(2) per batch: when `intervalMs` has passed since the first
// line of the batch, once `maxBytes` wait, and when the process exits. Under load that is one
// system call for many records instead of one each; a crash (kill -9) loses at most the last
// interval's lines. Side effects: writes to the descriptor; one timer while lines wait.
import { writeSync } from 'node:fs';

export interface BatchedFdOptions {
  intervalMs?: number;
  maxBytes?: number;
}

export class BatchedFd {
  private readonly fd: number;
  private readonly intervalMs: number;
  private readonly maxBytes: number;
  private lines: string[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(fd: number, options: BatchedFdOptions = {}) {
    this.fd = fd;
    this.intervalMs = options.intervalMs ?? 50;
    this.maxBytes = options.maxBytes ?? 64 * 1024;
    process.on('exit', () => this.flush());
  }

  /** pino's destination interface: one serialized record, newline included. */
  write(line: string): boolean {
    this.lines.push(line);
    this.bytes += line.length;
    if (this.bytes >= this.maxBytes) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs);
      this.timer.unref();
    }
    return true;
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
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
