// One SMTP client session to one MX address (RFC 5321, RFC 3207 STARTTLS, RFC 2920 PIPELINING):
// connect (implicit TLS first for smtps, RFC 8314 §3.3), greeting, EHLO (HELO fallback), STARTTLS
// when asked and offered, AUTH PLAIN/LOGIN when asked (RFC 4954), then any number of
// transactions (MAIL, RCPT…, DATA) with RSET between them, QUIT. Network I/O; it reports what it
// saw of TLS (TlsObserved) and decides nothing about it: that is the hop's job (hop.ts).
import net from 'node:net';
import type tls from 'node:tls';
import { bodyChunks, isSpooled, type MessageBody } from '../core/body.ts';
import type { SmtpReply } from '../core/delivery.ts';
import type { TlsObserved } from '../tls-policy/evaluate.ts';
import { type FullReply, ReplyReader } from './reply-reader.ts';
import { startTls } from './starttls.ts';
import { DotStuffer, dotStuff, type MessageTraits, mailParameters, parseExtensions, pathArgument } from './wire.ts';

export interface SessionOptions {
  ip: string;
  port: number;
  /** MX host name: SNI and the name the certificate must match. */
  mxName: string;
  /** SNI instead of mxName: the TLSA base name of a DANE hop (RFC 7672 §8.1). */
  servername?: string;
  /** Our name in EHLO (config hostname). */
  heloName: string;
  /** Send STARTTLS when the server offers it (hop.ts: not under "none", not on the plaintext retry). */
  starttls: boolean;
  /** TLS from the first byte (smtps, port 465): the handshake comes before the greeting. */
  implicitTls?: boolean;
  trust: tls.SecureContext;
  /** The local address to bind before connecting ([outbound] source_ipv4/source_ipv6); absent: the kernel's choice. */
  localAddress?: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

export type OpenResult = { ok: true; session: SmtpSession } | OpenFailure;

export interface OpenFailure {
  ok: false;
  stage: 'connect' | 'greeting' | 'ehlo' | 'tls';
  reason: string;
  reply?: SmtpReply;
}

export interface Envelope extends MessageTraits {
  from: string;
  rcpts: readonly string[];
  body: MessageBody;
}

export type AuthResult = { ok: true } | { ok: false; reply?: SmtpReply; error: string };

export type SendResult =
  /** The message cannot go to this server (SMTPUTF8, SIZE); nothing was sent. */
  | { kind: 'refused'; reason: string; enhanced: string }
  /** MAIL refused, or the connection broke or timed out before the end of DATA. */
  | { kind: 'failed'; stage: 'mail' | 'rcpt' | 'data'; reply?: SmtpReply; error?: string; rcptReplies: Map<string, SmtpReply> }
  /** The transaction ran to its end: RCPT replies, and the reply to DATA or to the final "." */
  | { kind: 'done'; rcptReplies: Map<string, SmtpReply>; dataReply?: SmtpReply };

export class SmtpSession {
  readonly options: SessionOptions;
  /** What this connection showed of TLS (set by the handshake; the hop decides on it). */
  tls: TlsObserved = { starttlsOffered: false, handshake: 'skipped' };
  /** Why this session runs in plaintext although TLS was wanted; set by the hop (hop.ts). */
  downgrade: string | undefined;
  extensions = new Map<string, string>();
  messages = 0;
  /** AUTH succeeded on this connection (a pooled session keeps it). */
  authenticated = false;
  /** The local address of the connection (the hop record's `source`). */
  readonly localAddress: string;
  private socket: net.Socket | tls.TLSSocket;
  private readonly reader = new ReplyReader();
  private broken = false;

  private constructor(options: SessionOptions, socket: net.Socket | tls.TLSSocket, localAddress: string) {
    this.options = options;
    this.socket = socket;
    this.localAddress = localAddress;
    this.reader.attach(socket);
    socket.on('close', () => (this.broken = true));
    socket.on('error', () => (this.broken = true));
  }

  static async open(options: SessionOptions): Promise<OpenResult> {
    const socket = await connect(options.ip, options.port, options.connectTimeoutMs, options.localAddress);
    if (typeof socket === 'string') return { ok: false, stage: 'connect', reason: socket };
    const local = socket.localAddress ?? '';
    if (options.implicitTls) {
      const secured = await startTls(socket, options.servername ?? options.mxName, options.trust, options.commandTimeoutMs);
      if (!secured.ok) return { ok: false, stage: 'tls', reason: `TLS handshake failed: ${secured.error}` };
      const session = new SmtpSession(options, secured.socket, local);
      // Implicit TLS stands for an offered and accepted STARTTLS: the level judges the handshake alike.
      session.tls = { starttlsOffered: true, handshake: 'ok', version: secured.version, cipher: secured.cipher, chain: secured.chain };
      if (secured.chainError) session.tls.chainError = secured.chainError;
      if (secured.nameError) session.tls.nameError = secured.nameError;
      const result = await session.handshake();
      if (!result.ok) session.close();
      return result;
    }
    const session = new SmtpSession(options, socket, local);
    const result = await session.handshake();
    if (!result.ok) session.close();
    return result;
  }

  get usable(): boolean {
    return !this.broken && !this.socket.destroyed;
  }

  private async handshake(): Promise<OpenResult> {
    const o = this.options;
    const greeting = await this.read();
    if ('error' in greeting) return { ok: false, stage: 'greeting', reason: `no greeting: ${greeting.error}` };
    if (greeting.reply.code !== 220) return { ok: false, stage: 'greeting', reason: 'the server refused the connection', reply: greeting.reply };
    const ehlo = await this.hello();
    if (!ehlo.ok) return ehlo;
    if (o.implicitTls) return { ok: true, session: this };
    const offered = this.extensions.has('STARTTLS');
    const seen: TlsObserved = { starttlsOffered: offered, handshake: 'skipped' };
    this.tls = seen;
    if (o.starttls && offered) {
      const answer = await this.command('STARTTLS');
      if ('error' in answer) return { ok: false, stage: 'tls', reason: `STARTTLS: ${answer.error}` };
      if (answer.reply.code !== 220) {
        seen.handshake = 'refused';
        seen.error = `${answer.reply.code} ${answer.reply.text}`;
      } else {
        this.reader.detach();
        const plain = this.socket as net.Socket;
        const secured = await startTls(plain, o.servername ?? o.mxName, o.trust, o.commandTimeoutMs);
        if (!secured.ok) {
          seen.handshake = 'failed';
          seen.error = secured.error;
        } else {
          seen.handshake = 'ok';
          seen.version = secured.version;
          seen.cipher = secured.cipher;
          seen.chain = secured.chain;
          if (secured.chainError) seen.chainError = secured.chainError;
          if (secured.nameError) seen.nameError = secured.nameError;
          this.socket = secured.socket;
          this.reader.attach(secured.socket);
          secured.socket.on('close', () => (this.broken = true));
          secured.socket.on('error', () => (this.broken = true));
        }
      }
    }
    return { ok: true, session: this };
  }

  /** RFC 3207 §4.2: after the handshake, forget everything learnt before TLS and say EHLO again. */
  async helloAfterTls(): Promise<OpenResult> {
    // Implicit TLS: the EHLO after the greeting already ran inside TLS.
    if (this.options.implicitTls) return { ok: true, session: this };
    return this.hello();
  }

  /**
   * RFC 4954 AUTH with PLAIN (RFC 4616, initial response) when offered, else LOGIN. The caller
   * sends credentials only over TLS (courier.ts); nothing here logs a command.
   */
  async auth(username: string, password: string): Promise<AuthResult> {
    const offered = (this.extensions.get('AUTH') ?? '').toUpperCase().split(/\s+/);
    const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
    let answer: FullReply | { error: string };
    if (offered.includes('PLAIN')) answer = await this.command(`AUTH PLAIN ${b64(`\0${username}\0${password}`)}`);
    else if (offered.includes('LOGIN')) {
      answer = await this.command('AUTH LOGIN');
      if (!('error' in answer) && answer.reply.code === 334) answer = await this.command(b64(username));
      if (!('error' in answer) && answer.reply.code === 334) answer = await this.command(b64(password));
    } else {
      const what = this.extensions.has('AUTH') ? `AUTH ${this.extensions.get('AUTH')}` : 'no AUTH';
      return { ok: false, error: `the server offers neither AUTH PLAIN nor AUTH LOGIN (EHLO: ${what})` };
    }
    if ('error' in answer) return { ok: false, error: `AUTH: ${answer.error}` };
    if (answer.reply.code === 235) {
      this.authenticated = true;
      return { ok: true };
    }
    // A 334 here is a challenge we have no answer for: cancel the exchange (RFC 4954 §4).
    if (answer.reply.code === 334) this.write(['*']);
    return { ok: false, reply: answer.reply, error: `AUTH refused: ${answer.reply.code} ${answer.reply.text}` };
  }

  /** EHLO, or HELO when EHLO is refused as unknown (RFC 5321 §3.2). */
  private async hello(): Promise<OpenResult> {
    this.extensions = new Map();
    const ehlo = await this.command(`EHLO ${this.options.heloName}`);
    if ('error' in ehlo) return { ok: false, stage: 'ehlo', reason: `EHLO: ${ehlo.error}` };
    if (ehlo.reply.code === 250) {
      this.extensions = parseExtensions(ehlo.lines);
      return { ok: true, session: this };
    }
    if (ehlo.reply.code >= 500 && ehlo.reply.code !== 554) {
      const helo = await this.command(`HELO ${this.options.heloName}`);
      if ('error' in helo) return { ok: false, stage: 'ehlo', reason: `HELO: ${helo.error}` };
      if (helo.reply.code === 250) return { ok: true, session: this };
      return { ok: false, stage: 'ehlo', reason: 'HELO refused', reply: helo.reply };
    }
    return { ok: false, stage: 'ehlo', reason: 'EHLO refused', reply: ehlo.reply };
  }

  /** One transaction: MAIL, RCPT for each recipient, DATA; pipelined when the server allows. */
  async send(env: Envelope): Promise<SendResult> {
    const params = mailParameters(this.extensions, env);
    if ('refuse' in params) return { kind: 'refused', reason: params.refuse, enhanced: params.enhanced };
    this.messages++;
    const rcptReplies = new Map<string, SmtpReply>();
    const mail = [`MAIL FROM:${pathArgument(env.from)}`, ...params.params].join(' ');
    const rcpts = env.rcpts.map((r) => `RCPT TO:${pathArgument(r)}`);
    const pipelining = this.extensions.has('PIPELINING');
    // RFC 2920 §3.1: MAIL, RCPT… and DATA may go in one group; DATA must be last.
    if (pipelining) this.write([mail, ...rcpts, 'DATA']);
    else this.write([mail]);
    const mailReply = await this.read();
    if ('error' in mailReply) return { kind: 'failed', stage: 'mail', error: mailReply.error, rcptReplies };
    for (const [i, rcpt] of env.rcpts.entries()) {
      if (!pipelining) {
        if (mailReply.reply.code !== 250) break;
        this.write([rcpts[i] as string]);
      }
      const r = await this.read();
      if ('error' in r) return { kind: 'failed', stage: 'rcpt', error: r.error, rcptReplies };
      rcptReplies.set(rcpt, r.reply);
    }
    if (mailReply.reply.code !== 250) {
      if (pipelining) await this.read(); // the reply to DATA, a 503
      return { kind: 'failed', stage: 'mail', reply: mailReply.reply, rcptReplies };
    }
    const accepted = [...rcptReplies.values()].filter((r) => r.code === 250 || r.code === 251).length;
    if (!pipelining && accepted === 0) return { kind: 'done', rcptReplies };
    if (!pipelining) this.write(['DATA']);
    const data = await this.read();
    if ('error' in data) return { kind: 'failed', stage: 'data', error: data.error, rcptReplies };
    if (data.reply.code !== 354) return { kind: 'done', rcptReplies, ...(accepted > 0 ? { dataReply: data.reply } : {}) };
    if (accepted === 0) {
      // RFC 2920 §3.1: DATA accepted without recipients; end it with an empty message.
      this.socket.write('.\r\n');
      await this.read();
      return { kind: 'done', rcptReplies };
    }
    if (isSpooled(env.body)) {
      const sent = await this.streamBody(env.body);
      if (sent !== undefined) return { kind: 'failed', stage: 'data', error: sent, rcptReplies };
    } else this.socket.write(dotStuff(env.body));
    const end = await this.read();
    if ('error' in end) return { kind: 'failed', stage: 'data', error: `after the message: ${end.error}`, rcptReplies };
    return { kind: 'done', rcptReplies, dataReply: end.reply };
  }

  /**
   * A spooled body, dot-stuffed chunk by chunk as it is read, waiting for the socket to drain
   * between chunks (never more than a chunk or two in memory). Returns an error, or undefined.
   */
  private async streamBody(body: MessageBody): Promise<string | undefined> {
    const stuffer = new DotStuffer();
    try {
      for await (const chunk of bodyChunks(body)) {
        if (!this.usable) return 'the connection closed while the message was sent';
        if (!this.socket.write(stuffer.push(chunk))) await this.drained();
      }
    } catch (err) {
      this.close();
      return `cannot read the spooled message: ${(err as Error).message}`;
    }
    if (!this.usable) return 'the connection closed while the message was sent';
    this.socket.write(stuffer.end());
    return undefined;
  }

  /** The socket has room again, or it closed. */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  /** RSET before reusing the connection; false when the connection is no longer usable. */
  async reset(): Promise<boolean> {
    if (!this.usable) return false;
    const r = await this.command('RSET');
    return !('error' in r) && r.reply.code === 250;
  }

  async quit(): Promise<void> {
    if (this.usable) {
      this.write(['QUIT']);
      await this.read(Math.min(5000, this.options.commandTimeoutMs));
    }
    this.close();
  }

  close(): void {
    this.broken = true;
    this.reader.detach();
    this.socket.destroy();
  }

  private write(commands: string[]): void {
    if (this.usable) this.socket.write(commands.map((c) => `${c}\r\n`).join(''));
  }

  private async command(line: string): Promise<FullReply | { error: string }> {
    this.write([line]);
    return this.read();
  }

  private async read(timeoutMs = this.options.commandTimeoutMs): Promise<FullReply | { error: string }> {
    try {
      return await this.reader.next(timeoutMs);
    } catch (err) {
      this.broken = true;
      return { error: (err as Error).message };
    }
  }
}

function connect(ip: string, port: number, timeoutMs: number, localAddress: string | undefined): Promise<net.Socket | string> {
  return new Promise((resolve) => {
    // Bound before connect: the source address the receiver sees (its SPF and PTR checks).
    const socket = net.connect({ host: ip, port, noDelay: true, ...(localAddress ? { localAddress } : {}) });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`connect to ${ip}:${port} timed out after ${Math.round(timeoutMs / 1000)} s`);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      const from = localAddress ? ` from ${localAddress}` : '';
      // EADDRNOTAVAIL: the source address is not one of this machine's.
      const hint =
        err.code === 'EADDRNOTAVAIL' && localAddress
          ? ` (${localAddress} is not an address of this machine: check outbound.source_ipv${net.isIPv6(localAddress) ? 6 : 4})`
          : '';
      resolve(`connect to ${ip}:${port}${from}: ${err.code ?? err.message}${hint}`);
    });
  });
}
