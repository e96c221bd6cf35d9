// Reads SMTP replies from a socket, one multi-line reply at a time, with a timeout per reply.
// Re-attachable after STARTTLS (anything the server sent before the handshake is dropped, so no
// plaintext can be injected into the TLS session — RFC 3207 §6). Owns no socket.
import type { Duplex } from 'node:stream';
import type { SmtpReply } from '../core/delivery.ts';
import { makeReply, parseReplyLine } from './smtp.ts';

const MAX_LINE = 8192;
const MAX_LINES = 500;

export interface FullReply {
  reply: SmtpReply;
  /** The text of each line (EHLO keywords live there). */
  lines: string[];
}

export class ReplyReader {
  private socket: Duplex | undefined;
  private buffer = '';
  private lines: string[] = [];
  private code = 0;
  private readonly ready: FullReply[] = [];
  private waiter: { resolve: (r: FullReply) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;
  private failure: Error | undefined;
  private readonly onData = (chunk: Buffer): void => this.feed(chunk.toString('latin1'));
  private readonly onEnd = (): void => this.fail(new Error('connection closed by the server'));
  private readonly onError = (err: Error): void => this.fail(err);

  attach(socket: Duplex): void {
    this.detach();
    this.buffer = '';
    this.lines = [];
    this.ready.length = 0;
    this.socket = socket;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  detach(): void {
    const s = this.socket;
    if (!s) return;
    s.off('data', this.onData);
    s.off('end', this.onEnd);
    s.off('close', this.onEnd);
    s.off('error', this.onError);
    this.socket = undefined;
  }

  /** True when the server sent something we have not asked for yet (e.g. before STARTTLS 220). */
  get pending(): boolean {
    return this.ready.length > 0 || this.buffer !== '' || this.lines.length > 0;
  }

  /** The next reply; rejects on timeout, a closed connection or a malformed reply. */
  next(timeoutMs: number): Promise<FullReply> {
    const queued = this.ready.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no reply within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      this.waiter = { resolve, reject, timer };
    });
  }

  private feed(text: string): void {
    this.buffer += text;
    let nl = this.buffer.indexOf('\n');
    while (nl !== -1) {
      const line = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      this.line(line);
      nl = this.buffer.indexOf('\n');
    }
    if (this.buffer.length > MAX_LINE) this.fail(new Error(`reply line longer than ${MAX_LINE} bytes`));
  }

  private line(raw: string): void {
    const parsed = parseReplyLine(raw);
    if ('error' in parsed) return this.fail(new Error(parsed.error));
    if (this.lines.length > 0 && parsed.code !== this.code)
      return this.fail(new Error(`reply code changed within a multi-line reply (${this.code} then ${parsed.code})`));
    if (this.lines.length >= MAX_LINES) return this.fail(new Error(`reply longer than ${MAX_LINES} lines`));
    this.code = parsed.code;
    // Reply text is ASCII (RFC 5321); UTF-8 from SMTPUTF8 servers is decoded here.
    this.lines.push(Buffer.from(parsed.text, 'latin1').toString('utf8'));
    if (!parsed.last) return;
    const full = { reply: makeReply(this.code, this.lines), lines: this.lines };
    this.lines = [];
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      clearTimeout(w.timer);
      w.resolve(full);
    } else this.ready.push(full);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      clearTimeout(w.timer);
      w.reject(this.failure);
    }
  }
}
