// A message body as the queue holds it: a Buffer (small messages, the common case) or, for a
// large one, a prefix in memory (our trace fields and the message's header block) followed by the
// rest of the message in a spool file from `offset` on (src/queue/spool.ts). Readers stream the
// file in chunks and never hold it whole. File reads only.
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';

export interface SpooledBody {
  kind: 'spooled';
  /** Received and our other added fields, then the message's header block (ends in CRLF CRLF). */
  prefix: Buffer;
  /** Absolute path of the spool file. */
  file: string;
  /** Where the rest of the message starts in the file (the header block before it is in prefix). */
  offset: number;
  /** Bytes of the whole body: prefix plus the file from offset. */
  size: number;
}

export type MessageBody = Buffer | SpooledBody;

/** Bytes read from a spool file at a time. */
export const SPOOL_CHUNK = 256 * 1024;

export function isSpooled(body: MessageBody): body is SpooledBody {
  return !Buffer.isBuffer(body);
}

export function bodySize(body: MessageBody): number {
  return isSpooled(body) ? body.size : body.length;
}

/** The part in memory: the whole body, or the prefix of a spooled one (it holds the header block). */
export function bodyHead(body: MessageBody): Buffer {
  return isSpooled(body) ? body.prefix : body;
}

/** The body in order, in chunks of at most `chunk` bytes (a Buffer body: itself, one chunk). */
export async function* bodyChunks(body: MessageBody, chunk = SPOOL_CHUNK): AsyncGenerator<Buffer> {
  if (!isSpooled(body)) {
    yield body;
    return;
  }
  if (body.prefix.length > 0) yield body.prefix;
  yield* fileChunks(body.file, body.offset, chunk);
}

/**
 * A file from `start` to its end, in buffers of at most `chunk` bytes: fresh ones, or with
 * `reuse` one buffer filled again for each chunk (for a reader done with a chunk before it asks
 * for the next: fewer allocations, so less memory the allocator keeps after a large message).
 */
export async function* fileChunks(file: string, start: number, chunk = SPOOL_CHUNK, reuse = false): AsyncGenerator<Buffer> {
  const handle = await open(file, 'r');
  const shared = reuse ? Buffer.allocUnsafeSlow(chunk) : undefined;
  try {
    let position = start;
    for (;;) {
      const buffer = shared ?? Buffer.allocUnsafe(chunk);
      const { bytesRead } = await handle.read(buffer, 0, chunk, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      yield bytesRead === chunk ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/** The body as a readable stream (for libraries that take one: mailauth's DKIM signer). */
export function bodyStream(body: MessageBody): Readable {
  return Readable.from(bodyChunks(body), { objectMode: false });
}

/** `bytes` put in front of the body (header fields we add); a spooled body's file is untouched. */
export function prependTo(body: MessageBody, bytes: Buffer): MessageBody {
  if (!isSpooled(body)) return Buffer.concat([bytes, body]);
  return { ...body, prefix: Buffer.concat([bytes, body.prefix]), size: body.size + bytes.length };
}

/** The body with its in-memory part replaced (a spooled one keeps its file from offset on). */
export function withHead(body: MessageBody, head: Buffer): MessageBody {
  if (!isSpooled(body)) return head;
  return { ...body, prefix: head, size: body.size - body.prefix.length + head.length };
}
