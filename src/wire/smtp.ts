// SMTP and LMTP client wire rules (pure): reply lines (RFC 5321 §4.2), EHLO/LHLO keywords, MAIL FROM parameters
// (RFC 1870 SIZE, RFC 6152 8BITMIME, RFC 6531 SMTPUTF8, RFC 8689 REQUIRETLS) and dot-stuffing (RFC 5321 §4.5.2).
import type { SmtpReply } from '../core/delivery.ts';

export type ReplyLine = { code: number; last: boolean; text: string } | { error: string };

/** One reply line: "250-text", "250 text" or "250". */
export function parseReplyLine(line: string): ReplyLine {
  const m = /^([2-5]\d\d)([ -]|$)(.*)$/.exec(line);
  if (!m) return { error: `malformed reply line "${line.slice(0, 100)}"` };
  return { code: Number(m[1]), last: m[2] !== '-', text: m[3] ?? '' };
}

/** Joins the lines of a reply; takes the enhanced status code (RFC 3463) from the first line. */
export function makeReply(code: number, lines: readonly string[]): SmtpReply {
  const first = lines[0] ?? '';
  const m = /^([245])\.(\d{1,3})\.(\d{1,3})(?: |$)/.exec(first);
  const enhanced = m && m[1] === String(code)[0] ? `${m[1]}.${m[2]}.${m[3]}` : undefined;
  const text = lines.map((l, i) => (i === 0 && enhanced ? l.slice(enhanced.length).trimStart() : l)).join(' ');
  return enhanced ? { code, enhanced, text } : { code, text };
}

/** EHLO reply lines after the first → keyword (uppercase) → parameters. */
export function parseExtensions(reply: readonly string[]): Map<string, string> {
  const ext = new Map<string, string>();
  for (const line of reply.slice(1)) {
    const [keyword = '', ...params] = line.trim().split(/\s+/);
    if (keyword) ext.set(keyword.toUpperCase(), params.join(' '));
  }
  return ext;
}

export interface MessageTraits {
  size: number;
  eightBit: boolean;
  smtputf8: boolean;
  /** RFC 8689 §4.2.1: send REQUIRETLS on MAIL FROM (the hop checked the server offers it). */
  requireTls?: boolean;
}

/**
 * MAIL FROM parameters for what the server offers, or a permanent reason why this message cannot
 * go to this server at all.
 */
export function mailParameters(ext: ReadonlyMap<string, string>, m: MessageTraits): { params: string[] } | { refuse: string; enhanced: string } {
  const params: string[] = [];
  if (m.smtputf8) {
    // RFC 6531 §3.4: a message that needs SMTPUTF8 must not go to a server that lacks it.
    if (!ext.has('SMTPUTF8'))
      return { refuse: 'the message needs SMTPUTF8 (internationalized addresses or headers), but the server does not offer it', enhanced: '5.6.7' };
    params.push('SMTPUTF8');
  }
  if (ext.has('SIZE')) {
    const limit = Number(ext.get('SIZE') || '0');
    // RFC 1870 §6: a fixed limit smaller than the message is a permanent failure.
    if (Number.isFinite(limit) && limit > 0 && m.size > limit)
      return { refuse: `the message (${m.size} bytes) is larger than the server accepts (${limit} bytes)`, enhanced: '5.3.4' };
    params.push(`SIZE=${m.size}`);
  }
  // RFC 6152: declare 8-bit bodies where we can; where we cannot, the body goes as it is (pass8).
  if (m.eightBit && ext.has('8BITMIME')) params.push('BODY=8BITMIME');
  if (m.requireTls) {
    // RFC 8689 §4.2.1: a REQUIRETLS message goes only to a server that offers REQUIRETLS.
    if (!ext.has('REQUIRETLS')) return { refuse: 'the message requires REQUIRETLS (RFC 8689), but the server does not offer it', enhanced: '5.7.30' };
    params.push('REQUIRETLS');
  }
  return { params };
}

export function pathArgument(address: string): string {
  return `<${address}>`;
}

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

/**
 * The DATA payload: CRLF line ends (a bare CR or LF becomes CRLF), a leading "." doubled, a final
 * CRLF, then the terminating ".\r\n" (RFC 5321 §4.5.2, §2.3.8).
 */
export function dotStuff(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length + Math.ceil(body.length / 40) + 8);
  let n = 0;
  let big: Buffer = out;
  const push = (byte: number): void => {
    if (n >= big.length) {
      const grown = Buffer.allocUnsafe(big.length * 2);
      big.copy(grown, 0, 0, n);
      big = grown;
    }
    big[n++] = byte;
  };
  let lineStart = true;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i] as number;
    if (byte === CR || byte === LF) {
      if (byte === CR && body[i + 1] === LF) i++;
      push(CR);
      push(LF);
      lineStart = true;
      continue;
    }
    if (lineStart && byte === DOT) push(DOT);
    push(byte);
    lineStart = false;
  }
  if (!lineStart) {
    push(CR);
    push(LF);
  }
  push(DOT);
  push(CR);
  push(LF);
  return big.subarray(0, n);
}

/**
 * dotStuff for a body sent in chunks (a spooled message): the same bytes as dotStuff of the whole
 * body, with the state that crosses a chunk boundary kept (at the start of a line; a CR whose LF
 * may start the next chunk). push() each chunk in order, then end().
 */
export class DotStuffer {
  private lineStart = true;
  private skipLf = false;

  push(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    // At worst every byte doubles ("." at a line start, a bare CR or LF becoming CRLF).
    const out = Buffer.allocUnsafe(chunk.length * 2);
    let n = 0;
    let i = 0;
    if (this.skipLf) {
      this.skipLf = false;
      if (chunk[0] === LF) i = 1;
    }
    for (; i < chunk.length; i++) {
      const byte = chunk[i] as number;
      if (byte === CR || byte === LF) {
        if (byte === CR) {
          if (i + 1 === chunk.length) this.skipLf = true;
          else if (chunk[i + 1] === LF) i++;
        }
        out[n++] = CR;
        out[n++] = LF;
        this.lineStart = true;
        continue;
      }
      if (this.lineStart && byte === DOT) out[n++] = DOT;
      out[n++] = byte;
      this.lineStart = false;
    }
    return out.subarray(0, n);
  }

  /** The final CRLF when the body did not end in one, then ".\r\n". */
  end(): Buffer {
    return Buffer.from(this.lineStart ? '.\r\n' : '\r\n.\r\n', 'latin1');
  }
}
