// DKIM (RFC 6376) while the body arrives: the chunks of DATA go, as they come, into mailauth's
// own verifier (dkimVerify reads a stream as well as a buffer), so the body hashes of every
// DKIM-Signature and of the newest ARC-Message-Signature (each c=, l= and a= once, §3.7) are done
// by the end of DATA and only the signature checks remain. The bytes are the ones the checks
// would see: bare newlines made CRLF as the body's are (newline-stream.ts, RFC 5321 §2.3.8), the
// header block held until its blank line and cut to the signatures that are verified
// (signatures.ts). At the end, the result is used only for the message it was computed from (same
// header block, same size); otherwise the caller verifies the message as it did before. Runs
// where the checks run (the checks thread or the event loop, offload/adaptive.ts); no I/O but the
// key lookups mailauth makes through the given resolver once the body has ended.
//
//   startStreamedDkim({ resolver, sender }) → { push(chunk, taken?), finish({ header, size }) → Promise<result | undefined>, abort() }
import { PassThrough } from 'node:stream';
import { type DKIMVerifyResult, type DNSResolver, dkimVerify } from 'mailauth';
import { HeaderEnd } from '../message/header-end.ts';
import { NewlineStream } from '../message/newline-stream.ts';
import { HEADER_LIMIT } from './header-gate.ts';
import { limitSignatures, MAX_DKIM_SIGNATURES, readBody } from './signatures.ts';
import type { StreamedDkim } from './verify.ts';

export function startStreamedDkim(options: { resolver: DNSResolver; sender: string }): StreamedDkim {
  const newlines = new NewlineStream('normalize');
  let held: Buffer[] = [];
  const headerEnd = new HeaderEnd();
  /** The header block as received (normalized), once its blank line came. */
  let header: Buffer | undefined;
  /** Set when the header block names no signature to verify: no body needs hashing. */
  let headerOnly = false;
  let input: PassThrough | undefined;
  let result: Promise<DKIMVerifyResult> | undefined;
  let size = 0;
  let failed = false;

  /** The held bytes hold the blank line (or are too many to wait for): the verifier starts, or is not needed. */
  const headerArrived = (): void => {
    const joined = Buffer.concat(held);
    held = [];
    const end = joined.indexOf('\r\n\r\n');
    if (end < 0) {
      failed = true; // over HEADER_LIMIT: verified whole at the end
      return;
    }
    header = Buffer.from(joined.subarray(0, end + 4));
    if (!readBody(header)) {
      headerOnly = true;
      return;
    }
    const stream = new PassThrough();
    input = stream;
    result = dkimVerify(stream, { resolver: options.resolver, sender: options.sender, strict: false });
    // Awaited by finish() (an aborted stream's is not unhandled); a verifier that failed takes no
    // more, so the rest flows away and the writer is never left waiting.
    result.catch(() => stream.resume());
    input.write(limitSignatures(header, MAX_DKIM_SIGNATURES).message);
    if (joined.length > header.length) input.write(joined.subarray(header.length));
  };

  const take = (bytes: Buffer, taken?: () => void): void => {
    if (failed || bytes.length === 0) return taken?.();
    size += bytes.length;
    if (input) {
      // The callback comes once the stream has room again: the caller's backpressure.
      input.write(bytes, taken && (() => taken()));
      return;
    }
    if (!headerOnly) {
      held.push(bytes);
      if (headerEnd.push(bytes) || headerEnd.bytes >= HEADER_LIMIT) headerArrived();
    }
    taken?.();
  };

  return {
    push: (chunk, taken) => take(newlines.push(chunk), taken),
    async finish(message) {
      take(newlines.end());
      const matches = !failed && header !== undefined && size === message.size && message.header.equals(header);
      if (!matches || !input || !result) {
        input?.destroy();
        return undefined;
      }
      input.end();
      return result;
    },
    abort() {
      failed = true;
      held = [];
      input?.destroy();
    },
  };
}
