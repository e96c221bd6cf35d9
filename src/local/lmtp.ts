// LMTP client (RFC 2033): one connection to an LMTP server (Dovecot): greeting and LHLO once, then
// per message MAIL, one RCPT per recipient, DATA, and one reply per accepted recipient, with RSET
// between messages. Every recipient gets its own Outcome; a failed connection defers them all.
import net from 'node:net';
import { bodyChunks, bodySize } from '../core/body.ts';
import type { DeliveryJob, JobRecipient, Outcome, SmtpReply } from '../core/delivery.ts';
import { type FullReply, ReplyReader } from '../wire/reply-reader.ts';
import { DotStuffer, mailParameters, parseExtensions, pathArgument } from '../wire/smtp.ts';

/** An LMTP server: a unix socket or a TCP address (config/delivery.ts parses the config's notation). */
export type LmtpTarget = { socket: string } | { host: string; port: number };

export interface LmtpOptions {
  /** Our name in LHLO. */
  hostname: string;
  /** "unix:/run/dovecot/lmtp" or "127.0.0.1:24": how logs and `queue show` name the server. */
  server: string;
  connectTimeoutMs: number;
  /** For the greeting and each command's reply (RFC 5321 §4.5.3.2 gives 5 minutes; a local server answers fast). */
  commandTimeoutMs: number;
  /** For each reply after the final dot: the server delivers before it answers (RFC 2033 §4.2). */
  dataTimeoutMs: number;
}

/**
 * One reply as a recipient's Outcome (RFC 5321 §4.2.1): 2yz delivered, 4yz deferred, 5yz bounced.
 * The reason names the server and the step; the reply travels beside it (log records, DSNs).
 */
export function outcomeOfReply(server: string, step: string, reply: SmtpReply): Outcome {
  if (reply.code < 400) return { kind: 'delivered', detail: `LMTP server ${server}: ${replyText(reply)}`, reply };
  const kind = reply.code >= 500 ? 'permanent' : 'transient';
  const enhanced = reply.enhanced ?? (kind === 'permanent' ? '5.0.0' : '4.0.0');
  return { kind, reason: `LMTP server ${server} refused ${step}`, enhanced, reply };
}

/** A reply other than the one a step needs: its refusal, or (a 2yz or 3yz out of place) a deferral. */
function refusal(server: string, step: string, reply: SmtpReply): Outcome {
  if (reply.code >= 400) return outcomeOfReply(server, step, reply);
  return { kind: 'transient', reason: `LMTP server ${server} gave an unexpected reply to ${step}`, enhanced: '4.5.0', reply };
}

function replyText(reply: SmtpReply): string {
  return `${reply.code}${reply.enhanced ? ` ${reply.enhanced}` : ''} ${reply.text}`;
}

/** A refused or failed connection: the outcome for every recipient it was meant for. */
export type LmtpOpen = { ok: true; session: LmtpSession } | { ok: false; outcome: Outcome };

/**
 * One LMTP connection: greeting and LHLO once (open), then any number of transactions with RSET
 * between them (RFC 5321 §4.1.1.5), then QUIT. `usable` turns false once the connection broke or
 * timed out: a connection in an unknown state is never given another message.
 */
export class LmtpSession {
  private readonly reader = new ReplyReader();
  private broken = false;
  /** Transactions run on this connection. */
  messages = 0;

  private readonly socket: net.Socket;
  private readonly opts: LmtpOptions;
  private extensions = new Map<string, string>();

  private constructor(socket: net.Socket, opts: LmtpOptions) {
    this.socket = socket;
    this.opts = opts;
    socket.on('close', () => (this.broken = true));
    socket.on('error', () => (this.broken = true));
  }

  static async open(target: LmtpTarget, opts: LmtpOptions): Promise<LmtpOpen> {
    let socket: net.Socket;
    try {
      socket = await connect(target, opts.connectTimeoutMs);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      return {
        ok: false,
        outcome: { kind: 'transient', reason: `cannot connect to LMTP server ${opts.server}: ${e.code ? `${e.code} ` : ''}${e.message}`, enhanced: '4.4.1' },
      };
    }
    const session = new LmtpSession(socket, opts);
    session.reader.attach(socket);
    let step = 'the greeting';
    try {
      const greeting = await session.reader.next(opts.commandTimeoutMs);
      if (greeting.reply.code !== 220) {
        session.close();
        return { ok: false, outcome: refusal(opts.server, 'the connection', greeting.reply) };
      }
      step = 'LHLO';
      const lhlo = await session.command(`LHLO ${opts.hostname}`, 250);
      if (!('lines' in lhlo)) {
        session.close();
        return { ok: false, outcome: refusal(opts.server, 'LHLO', lhlo) };
      }
      session.extensions = parseExtensions(lhlo.lines);
      return { ok: true, session };
    } catch (err) {
      session.close();
      return { ok: false, outcome: { kind: 'transient', reason: `LMTP server ${opts.server}: ${step}: ${(err as Error).message}`, enhanced: '4.4.2' } };
    }
  }

  get usable(): boolean {
    return !this.broken && !this.socket.destroyed;
  }

  /** One message to `recipients`: MAIL, one RCPT each, DATA, one reply per accepted recipient. */
  async transaction(job: DeliveryJob, recipients: readonly JobRecipient[]): Promise<Map<number, Outcome>> {
    const opts = this.opts;
    const outcomes = new Map<number, Outcome>();
    const rest = (o: Outcome): void => {
      for (const r of recipients) if (!outcomes.has(r.id)) outcomes.set(r.id, o);
    };
    this.messages++;
    let step = 'MAIL FROM';
    try {
      const params = mailParameters(this.extensions, { size: bodySize(job.body), eightBit: job.eightBit, smtputf8: job.smtputf8 });
      if ('refuse' in params) {
        rest({ kind: 'permanent', reason: `LMTP server ${opts.server}: ${params.refuse}`, enhanced: params.enhanced });
        return outcomes;
      }
      const mail = await this.command([`MAIL FROM:${pathArgument(job.sender)}`, ...params.params].join(' '), 250);
      if (!('lines' in mail)) {
        rest(refusal(opts.server, 'MAIL FROM', mail));
        return outcomes;
      }
      const accepted: JobRecipient[] = [];
      step = 'RCPT TO';
      for (const r of recipients) {
        const rcpt = await this.command(`RCPT TO:${pathArgument(r.address)}`, 250);
        if ('lines' in rcpt) accepted.push(r);
        else outcomes.set(r.id, refusal(opts.server, 'RCPT TO', rcpt));
      }
      if (accepted.length === 0) return outcomes;
      step = 'DATA';
      const data = await this.command('DATA', 354);
      if (!('lines' in data)) {
        rest(refusal(opts.server, 'DATA', data));
        return outcomes;
      }
      step = 'the message';
      // A spooled body streams from its file, chunk by chunk, as the socket drains.
      const stuffer = new DotStuffer();
      for await (const chunk of bodyChunks(job.body)) if (!this.socket.write(stuffer.push(chunk))) await drained(this.socket, opts.dataTimeoutMs);
      this.socket.write(stuffer.end());
      // RFC 2033 §4.2: one reply per recipient RCPT accepted, in the order of the RCPT commands.
      for (const r of accepted) {
        step = `end of DATA for <${r.address}>`;
        const reply = await this.reader.next(opts.dataTimeoutMs);
        outcomes.set(r.id, outcomeOfReply(opts.server, 'the message at end of DATA', reply.reply));
      }
    } catch (err) {
      // A recipient without a reply after the dot may have been delivered (RFC 2033 §4.2): it is
      // tried again, at the risk of a duplicate rather than a loss.
      this.close();
      rest({ kind: 'transient', reason: `LMTP server ${opts.server}: ${step}: ${(err as Error).message}`, enhanced: '4.4.2' });
    }
    return outcomes;
  }

  /** RSET before the next message on this connection; false when it no longer works. */
  async reset(): Promise<boolean> {
    if (!this.usable) return false;
    try {
      const r = await this.command('RSET', 250);
      return 'lines' in r;
    } catch {
      this.close();
      return false;
    }
  }

  /** QUIT, politely: its reply or its absence changes nothing (the outcomes are known). */
  async quit(): Promise<void> {
    if (this.usable) {
      try {
        this.socket.write('QUIT\r\n');
        await this.reader.next(2000);
      } catch {
        // the server closed first: fine
      }
    }
    this.close();
  }

  close(): void {
    this.broken = true;
    this.reader.detach();
    // Late errors (a reset while we close) have no one left to tell.
    this.socket.on('error', () => undefined).destroy();
  }

  /** A command and its reply: the full reply when it is the one asked for, else the reply alone. Throws on a timeout or a closed connection. */
  private async command(line: string, expect: number): Promise<FullReply | SmtpReply> {
    this.socket.write(`${line}\r\n`, 'utf8');
    const full = await this.reader.next(this.opts.commandTimeoutMs);
    // Any 2yz where 250 is asked for (251 "will forward" included, RFC 5321 §4.2.2).
    const ok = expect === 250 ? full.reply.code >= 200 && full.reply.code < 300 : full.reply.code === expect;
    return ok ? full : full.reply;
  }
}

/** One message over a connection of its own: open, one transaction, QUIT. */
export async function deliverLmtp(target: LmtpTarget, job: DeliveryJob, recipients: readonly JobRecipient[], opts: LmtpOptions): Promise<Map<number, Outcome>> {
  const opened = await LmtpSession.open(target, opts);
  if (!opened.ok) return new Map(recipients.map((r) => [r.id, opened.outcome]));
  const outcomes = await opened.session.transaction(job, recipients);
  await opened.session.quit();
  return outcomes;
}

function connect(target: LmtpTarget, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = 'socket' in target ? net.connect({ path: target.socket }) : net.connect({ host: target.host, port: target.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`no connection within ${Math.round(timeoutMs / 1000)} s`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', fail);
      resolve(socket);
    });
    const fail = (err: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    socket.once('error', fail);
  });
}

function drained(socket: net.Socket, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      socket.off('drain', onDrain);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(new Error('connection closed by the server'));
    const timer = setTimeout(() => done(new Error(`the server took no data for ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    socket.on('drain', onDrain);
    socket.on('close', onClose);
  });
}
