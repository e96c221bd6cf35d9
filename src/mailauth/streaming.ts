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
import { NewlineStream } from '../message/newline-stream.ts';
import { HeaderGate, type HeaderSeen } from './header-gate.ts';
import { limitSignatures, MAX_DKIM_SIGNATURES } from './signatures.ts';
import type { StreamedDkim } from './verify.ts';

export function startStreamedDkim(options: { resolver: DNSResolver; sender: string }): StreamedDkim {
  const newlines = new NewlineStream('normalize');
  const gate = new HeaderGate();
  /** The header block as received (normalized), once its blank line came. */
  let header: Buffer | undefined;
  let input: PassThrough | undefined;
  let result: Promise<DKIMVerifyResult> | undefined;
  let size = 0;
  let failed = false;

  /** The header block has ended (or is too long to wait for): the verifier starts, or is not needed. */
  const headerArrived = (seen: HeaderSeen): void => {
    if (seen.kind === 'too-long') {
      failed = true; // verified whole at the end
      return;
    }
    // A copy of its own: the bytes after it in `start` need not stay in memory until the end.
    header = Buffer.from(seen.header);
    if (!seen.signed) return; // no signature to verify: no body needs hashing
    const stream = new PassThrough();
    input = stream;
    result = dkimVerify(stream, { resolver: options.resolver, sender: options.sender, strict: false });
    // Awaited by finish() (an aborted stream's is not unhandled); a verifier that failed takes no
    // more, so the rest flows away and the writer is never left waiting.
    result.catch(() => stream.resume());
    input.write(limitSignatures(header, MAX_DKIM_SIGNATURES).message);
    if (seen.start.length > header.length) input.write(seen.start.subarray(header.length));
  };

  const take = (bytes: Buffer, taken?: () => void): void => {
    if (failed || bytes.length === 0) return taken?.();
    size += bytes.length;
    if (input) {
      // The callback comes once the stream has room again: the caller's backpressure.
      input.write(bytes, taken && (() => taken()));
      return;
    }
    const seen = gate.push(bytes);
    if (seen) headerArrived(seen);
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
      gate.clear();
      input?.destroy();
    },
  };
}
