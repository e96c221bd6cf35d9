// Bare CR / bare LF handling (RFC 5321 §2.3.8) for a body that arrives in chunks: the same rules
// as checkNewlines in body.ts, chunk by chunk, with a CR at the end of one chunk and an LF at the
// start of the next taken as one CRLF. Pure; used when a large body is written to the spool.
import { checkNewlines } from './body.ts';

const CR = 0x0d;
const LF = 0x0a;
const LF_BYTE = Buffer.from([LF]);
const CR_BYTE = Buffer.from([CR]);
const EMPTY = Buffer.alloc(0);

export class NewlineStream {
  /** Set once a bare CR or LF was seen ('reject' mode: push and end return nothing from then on). */
  bare = false;
  /** The last byte passed on was a CR whose LF may start the next chunk. */
  private crPending = false;
  private readonly mode: 'normalize' | 'reject';

  constructor(mode: 'normalize' | 'reject') {
    this.mode = mode;
  }

  /** The chunk with every bare CR or LF made CRLF ('normalize'); a clean chunk comes back as it is. */
  push(chunk: Buffer): Buffer {
    if (chunk.length === 0 || (this.bare && this.mode === 'reject')) return EMPTY;
    const parts: Buffer[] = [];
    let changed = false;
    let rest = chunk;
    if (this.crPending) {
      this.crPending = false;
      if (rest[0] === LF) {
        parts.push(rest.subarray(0, 1));
        rest = rest.subarray(1);
      } else {
        if (this.found()) return EMPTY;
        parts.push(LF_BYTE);
        changed = true;
      }
    }
    // A CR at the very end is decided by the next chunk.
    const endsInCr = rest[rest.length - 1] === CR;
    const inner = endsInCr ? rest.subarray(0, rest.length - 1) : rest;
    const checked = checkNewlines(inner, 'normalize');
    const normalized = checked.ok ? checked.body : inner;
    if (normalized !== inner) {
      if (this.found()) return EMPTY;
      changed = true;
    }
    parts.push(normalized);
    if (endsInCr) {
      parts.push(CR_BYTE);
      this.crPending = true;
    }
    return changed ? Buffer.concat(parts) : chunk;
  }

  /** What the end of the body adds: the LF of a CR that ended it. */
  end(): Buffer {
    if (!this.crPending) return EMPTY;
    this.crPending = false;
    return this.found() ? EMPTY : LF_BYTE;
  }

  /** Records a bare newline; true when the mode refuses it. */
  private found(): boolean {
    this.bare = true;
    return this.mode === 'reject';
  }
}
