// Collecting a message body as DATA arrives: a small one in memory (as it always was), a large
// one (above the spool threshold, or one whose next chunk would not fit the memory budget) written
// to a spool file as it comes, its bare newlines normalized on the way (newline-stream.ts), with
// backpressure to the client. Only the header block of a spooled message stays in memory.
// feed gets every chunk as it comes (the checks read its header block and start their lookups,
// and hash a signed body meanwhile; when they fall behind on a
// spooled body the client waits, as for the disk), and is dropped when the body is too big or the
// client leaves.
import { isAscii } from 'node:buffer';
import type { Readable } from 'node:stream';
import type { SpooledBody } from '../core/body.ts';
import type { SpoolFile } from '../intake/intake.ts';
import { NewlineStream } from '../message/newline-stream.ts';
import type { BodyBudget } from './memory-budget.ts';

/** A spooled message as received: the header block in memory, the whole message in the file. */
export interface SpooledMessage {
  kind: 'spooled';
  /** prefix: the header block (also the first bytes of the file); offset: its length. */
  body: SpooledBody;
  spool: SpoolFile;
  eightBit: boolean;
}

export type Collected =
  | { kind: 'memory'; body: Buffer }
  | SpooledMessage
  | { kind: 'too-big' }
  /** bare_newline = "reject" and the spooled body had a bare CR or LF. */
  | { kind: 'bare' }
  /** Over the memory budget and the spool could not be written: answer 452. */
  | { kind: 'no-room'; reason: string };

export interface CollectDeps {
  /** Bodies larger than this go to the spool. */
  threshold: number;
  budget: BodyBudget;
  /** Opens a new spool file; throws when the spool cannot be written. */
  openSpool: () => SpoolFile;
  bareNewline: 'normalize' | 'reject';
  /** The most of a spooled message's header block kept in memory (the rest stays in the file). */
  headerLimit?: number;
  /** Given each chunk of DATA as received (false: wait for onDrain); dropped when the body is too big or the client leaves. */
  feed?: { push(chunk: Buffer): boolean; onDrain(callback: () => void): void; drop(): void };
}

export interface Collection {
  done: Promise<Collected>;
  /** Gives the memory of an in-memory body back to the budget (call once the message is settled). */
  release(): void;
}

export function collectBody(stream: Readable & { sizeExceeded?: boolean }, deps: CollectDeps): Collection {
  const headerLimit = deps.headerLimit ?? 256 * 1024;
  let chunks: Buffer[] = [];
  let held = 0;
  let spool: SpoolFile | undefined;
  let newlines: NewlineStream | undefined;
  let failure: string | undefined;
  let size = 0;
  let eightBit = false;
  let header: Buffer | undefined;
  let headerParts: Buffer[] = [];
  let headerBytes = 0;
  let spoolWaiting = false;

  // The stream is paused while the spool or the feed asks to wait, and resumed once neither does.
  let waits = 0;
  const wait = (until: (resume: () => void) => void): void => {
    if (waits++ === 0) stream.pause();
    until(() => {
      if (--waits === 0) stream.resume();
    });
  };

  const release = (): void => {
    deps.budget.give(held);
    held = 0;
  };

  const scanHeader = (bytes: Buffer): void => {
    if (header) return;
    const from = Math.max(0, headerBytes - 3);
    headerParts.push(bytes);
    headerBytes += bytes.length;
    const joined = headerParts.length === 1 ? bytes : Buffer.concat(headerParts);
    headerParts = [joined];
    const end = joined.indexOf('\r\n\r\n', from);
    if (end >= 0) header = Buffer.from(joined.subarray(0, end + 4));
    else if (headerBytes >= headerLimit) header = Buffer.from(joined);
    if (header) headerParts = [];
  };

  const toSpool = (chunk: Buffer): void => {
    if (!spool || !newlines) return;
    const bytes = newlines.push(chunk);
    if (newlines.bare && deps.bareNewline === 'reject') return;
    if (bytes.length === 0) return;
    size += bytes.length;
    if (!eightBit && !isAscii(bytes)) eightBit = true;
    scanHeader(bytes);
    deps.budget.passed(bytes.length);
    // One wait for the spool at a time: the early chunks of a spill are written in one loop, and a
    // waiter per chunk that found the file full was a dozen 'drain' listeners (Node's leak
    // warning) per message.
    if (!spool.write(bytes) && !spoolWaiting) {
      spoolWaiting = true;
      wait((resume) =>
        spool?.onDrain(() => {
          spoolWaiting = false;
          resume();
        }),
      );
    }
  };

  const spill = (): void => {
    try {
      spool = deps.openSpool();
    } catch (err) {
      failure = `cannot write to the spool: ${(err as Error).message}`;
      chunks = [];
      release();
      return;
    }
    newlines = new NewlineStream(deps.bareNewline);
    const early = chunks;
    chunks = [];
    release();
    for (const c of early) toSpool(c);
  };

  stream.on('data', (chunk: Buffer) => {
    if (stream.sizeExceeded || failure !== undefined) return deps.feed?.drop();
    const { feed } = deps;
    if (!spool && held + chunk.length <= deps.threshold && deps.budget.take(chunk.length)) {
      chunks.push(chunk);
      held += chunk.length;
      feed?.push(chunk); // in memory: bounded by the threshold, no need to wait
      return;
    }
    if (!spool) spill();
    toSpool(chunk);
    if (feed && failure === undefined && !feed.push(chunk)) wait((resume) => feed.onDrain(resume));
  });

  let ended = false;
  // The client went away in the middle of DATA: smtp-server destroys the stream, 'end' never comes.
  stream.once('close', () => {
    if (ended) return;
    deps.feed?.drop();
    void spool?.abort();
    chunks = [];
    release();
  });
  const done = new Promise<Collected>((resolve) => {
    stream.once('end', () => {
      ended = true;
      if (stream.sizeExceeded) {
        void spool?.abort();
        chunks = [];
        release();
        return resolve({ kind: 'too-big' });
      }
      if (failure !== undefined) return resolve({ kind: 'no-room', reason: failure });
      if (!spool || !newlines) return resolve({ kind: 'memory', body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, held) });
      const file = spool;
      const tail = newlines.end();
      if (newlines.bare && deps.bareNewline === 'reject') {
        void file.abort();
        return resolve({ kind: 'bare' });
      }
      if (tail.length > 0) {
        size += tail.length;
        scanHeader(tail);
        file.write(tail);
      }
      const block = header ?? Buffer.concat(headerParts);
      file.finish().then(
        () => resolve({ kind: 'spooled', body: { kind: 'spooled', prefix: block, file: file.file, offset: block.length, size }, spool: file, eightBit }),
        (err: Error) => {
          void file.abort();
          resolve({ kind: 'no-room', reason: `cannot write to the spool: ${err.message}` });
        },
      );
    });
  });
  return { done, release };
}
