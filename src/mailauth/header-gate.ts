// The start of a message body fed to the checks, held until its header block has ended: then
// what the checks need to know of it, once: the header block (for the DMARC and DKIM key lookups
// it names) and whether a signature covers the body (readBody: only then is the body hashed).
// Shared by the feeds of the checks thread (offload/client.ts) and of the event loop
// (offload/adaptive.ts), and by the streamed DKIM verifier behind them (streaming.ts). Pure.
//
//   new HeaderGate().push(chunk) → undefined while the header block goes on, then HeaderSeen (once)
import { headerBlock } from '../message/body.ts';
import { HeaderEnd } from '../message/header-end.ts';
import { readBody } from './signatures.ts';

/** Past this, a header block is not waited for (the message is checked whole at the end of DATA). */
export const HEADER_LIMIT = 256 * 1024;

/**
 * `start`: every byte pushed, joined. `ended`: the header block ended within HEADER_LIMIT
 * (`header`, and `signed` when a signature covers the body); `too-long`: it did not.
 */
export type HeaderSeen = { kind: 'ended'; start: Buffer; header: Buffer; signed: boolean } | { kind: 'too-long'; start: Buffer };

export class HeaderGate {
  private readonly end = new HeaderEnd();
  private held: Buffer[] = [];
  private done = false;

  /** Undefined while the header block goes on; what it was once it has ended or grown too long; undefined after that. */
  push(chunk: Buffer): HeaderSeen | undefined {
    if (this.done || chunk.length === 0) return undefined;
    this.held.push(chunk);
    const ended = this.end.push(chunk);
    if (!ended && this.end.bytes < HEADER_LIMIT) return undefined;
    const start = Buffer.concat(this.held);
    this.clear();
    if (!ended) return { kind: 'too-long', start };
    const header = headerBlock(start);
    return { kind: 'ended', start, header, signed: readBody(header) };
  }

  /** Lets go of what is held: nothing more is looked at. */
  clear(): void {
    this.done = true;
    this.held = [];
  }
}
