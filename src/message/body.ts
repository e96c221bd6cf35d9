// Checks and facts about a received message body (pure): bare CR / bare LF handling (SMTP
// smuggling defence), 8-bit content, and where the header block ends.
import { isAscii } from 'node:buffer';

export const BARE_NEWLINE_REASON = 'message contains a bare CR or LF; lines must end in CRLF (RFC 5321 §2.3.8)';

export type NewlineCheck = { ok: true; body: Buffer } | { ok: false; reason: string };

/**
 * RFC 5321 §2.3.8: lines end in CRLF only. A bare LF or bare CR is never a line end that could
 * end the message (smtp-server only ends DATA on CRLF.CRLF). 'normalize' turns each into CRLF,
 * so no later hop can see "<LF>.<LF>"; 'reject' refuses the message.
 */
export function checkNewlines(body: Buffer, mode: 'normalize' | 'reject'): NewlineCheck {
  const bare = findBare(body);
  if (bare < 0) return { ok: true, body };
  if (mode === 'reject') return { ok: false, reason: BARE_NEWLINE_REASON };
  const out = Buffer.allocUnsafe(body.length * 2);
  let n = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as number;
    if (c === 0x0d) {
      out[n++] = 0x0d;
      out[n++] = 0x0a;
      if (body[i + 1] === 0x0a) i++;
    } else if (c === 0x0a) {
      out[n++] = 0x0d;
      out[n++] = 0x0a;
    } else {
      out[n++] = c;
    }
  }
  return { ok: true, body: Buffer.from(out.subarray(0, n)) };
}

function findBare(body: Buffer): number {
  let i = body.indexOf(0x0a);
  while (i >= 0) {
    if (i === 0 || body[i - 1] !== 0x0d) return i;
    i = body.indexOf(0x0a, i + 1);
  }
  i = body.indexOf(0x0d);
  while (i >= 0) {
    if (body[i + 1] !== 0x0a) return i;
    i = body.indexOf(0x0d, i + 1);
  }
  return -1;
}

export function hasEightBit(body: Buffer): boolean {
  return !isAscii(body);
}

/** The header block including the blank line that ends it (or the whole body if it has none). */
export function headerBlock(body: Buffer): Buffer {
  const end = body.indexOf('\r\n\r\n');
  return end < 0 ? body : body.subarray(0, end + 4);
}
