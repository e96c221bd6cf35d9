// The benchmark's own SMTP load generator (smtp-source has no TLS): C parallel sessions, a new
// connection per message, optional STARTTLS at a fixed TLS version, no pipelining, like
// smtp-source; also holds idle sessions open for the memory figures. Opens sockets. As a CLI it
// runs one load and prints one JSON line:
//   node bench/load.ts --port P --sessions 20 --messages 1000 --size 10240 \
//     --starttls TLSv1.3 [--resume] --from a@load.test --to bench@sealpost.test \
//     [--dkim-key KEY.pem --dkim-domain load.test --dkim-selector s1] [--dot-apart-ms 5]
// Every message's end-of-data → 250 time is kept (eodMs: from the write that carries the final
// dot to the reply); --dot-apart-ms sends the dot that long after the body, as a client across a
// network does, so the time is the server's work at the end of DATA alone.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { parseArgs } from 'node:util';

export interface LoadOptions {
  host: string;
  port: number;
  sessions: number;
  messages: number;
  /** Body bytes after the headers (smtp-source -l). */
  size: number;
  from: string;
  to: string;
  /** STARTTLS at exactly this version; undefined = plaintext. */
  starttls?: 'TLSv1.2' | 'TLSv1.3';
  /** Offer each session's next connection the TLS session (ticket) of its previous one. */
  resume?: boolean;
  /** Key exchange groups offered (same for every server compared), e.g. "X25519". */
  groups: string;
  helo: string;
  timeoutMs: number;
  /** DKIM-sign each message (before it is sent, outside the times) with these keys, one signature each. */
  dkim?: readonly DkimSigning[];
  /** Send the final dot this long after the body (ms); absent: in the same write. */
  dotApartMs?: number;
}

export interface DkimSigning {
  domain: string;
  selector: string;
  privateKey: string;
  /** c=, e.g. "relaxed/relaxed" (mailauth's default). */
  canonicalization?: string;
}

export interface LoadResult {
  messages: number;
  errors: number;
  firstError?: string;
  ms: number;
  /** CPU time of this load generator, ms (to show it is not the limit). */
  clientCpuMs: number;
  /** What the first TLS session negotiated. */
  tls?: { version: string; cipher: string; group: string };
  /** With resume: the handshakes the server resumed. */
  resumed?: number;
  /** End of data → 250 of the messages acknowledged, ms. */
  eodMs?: { p50: number; p90: number; mean: number };
}

interface Reply {
  code: number;
  text: string;
}

/** Reads SMTP replies (RFC 5321 §4.2: "ddd-" continues, "ddd " ends) from one socket. */
class Replies {
  private readonly socket: net.Socket;
  private buffer = '';
  private lines: string[] = [];
  private readonly ready: Reply[] = [];
  private waiter: { resolve: (r: Reply) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;
  private readonly onData = (chunk: Buffer) => this.feed(chunk.toString('latin1'));
  private readonly onEnd = () => this.fail(new Error('connection closed by the server'));
  private readonly onError = (err: Error) => this.fail(err);

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
  }

  /** Stops reading (before STARTTLS hands the socket to TLS). */
  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('error', this.onError);
  }

  next(): Promise<Reply> {
    const r = this.ready.shift();
    if (r) return Promise.resolve(r);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  private feed(text: string): void {
    this.buffer += text;
    for (let i = this.buffer.indexOf('\r\n'); i >= 0; i = this.buffer.indexOf('\r\n')) {
      const line = this.buffer.slice(0, i);
      this.buffer = this.buffer.slice(i + 2);
      this.lines.push(line);
      if (line[3] === '-') continue;
      const reply = { code: Number(line.slice(0, 3)), text: this.lines.join(' | ') };
      this.lines = [];
      const w = this.waiter;
      this.waiter = undefined;
      if (w) w.resolve(reply);
      else this.ready.push(reply);
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
  }
}

async function expect(replies: Replies, code: number, after: string): Promise<void> {
  const r = await replies.next();
  if (r.code !== code) throw new Error(`${after}: expected ${code}, got ${r.text}`);
}

/** Headers (unique Message-ID) and `size` bytes of 78-character lines, dot-terminated. */
function messageText(o: LoadOptions, n: number, body: string): string {
  return `${headersOf(o, n)}${body}.\r\n`;
}

/** The header block (unique Message-ID) and the empty line after it. */
function headersOf(o: Pick<LoadOptions, 'from' | 'to' | 'helo'>, n: number): string {
  return `From: <${o.from}>\r\nTo: <${o.to}>\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <${process.pid}.${n}.${Date.now()}@${o.helo}>\r\nSubject: load ${n}\r\n\r\n`;
}

function bodyOf(size: number): string {
  const line = `${'X'.repeat(78)}\r\n`;
  let body = line.repeat(Math.floor(size / line.length));
  const rest = size - body.length;
  if (rest > 2) body += `${'X'.repeat(rest - 2)}\r\n`;
  return body;
}

/** The key exchange group, e.g. "X25519" (getEphemeralKeyInfo() is {} for TLS 1.3 resumption). */
function keyExchange(socket: tls.TLSSocket): string {
  const info = socket.getEphemeralKeyInfo();
  return info && 'name' in info ? String(info.name) : '';
}

async function connect(o: Pick<LoadOptions, 'host' | 'port' | 'timeoutMs'>): Promise<net.Socket> {
  const socket = net.connect({ host: o.host, port: o.port });
  socket.setNoDelay(true);
  socket.setTimeout(o.timeoutMs, () => socket.destroy(new Error(`no progress for ${o.timeoutMs} ms`)));
  await once(socket, 'connect');
  return socket;
}

/** One session, one message: 220, EHLO, [STARTTLS, EHLO], MAIL, RCPT, DATA, QUIT. Returns its end-of-data → 250 ms. */
async function sendOne(o: LoadOptions, text: string, seen: LoadResult, lane: { session?: Buffer }): Promise<number> {
  const plain = await connect(o);
  let socket: net.Socket = plain;
  try {
    let replies = new Replies(plain);
    await expect(replies, 220, 'greeting');
    plain.write(`EHLO ${o.helo}\r\n`);
    await expect(replies, 250, 'EHLO');
    if (o.starttls) {
      plain.write('STARTTLS\r\n');
      await expect(replies, 220, 'STARTTLS');
      replies.detach();
      const secure = tls.connect({
        socket: plain,
        minVersion: o.starttls,
        maxVersion: o.starttls,
        ecdhCurve: o.groups,
        rejectUnauthorized: false,
        ...(o.resume && lane.session ? { session: lane.session } : {}),
      });
      if (o.resume) secure.on('session', (session: Buffer) => (lane.session = session));
      socket = secure;
      replies = new Replies(secure);
      await once(secure, 'secureConnect');
      if (o.resume && secure.isSessionReused()) seen.resumed = (seen.resumed ?? 0) + 1;
      if (!seen.tls) {
        const cipher = secure.getCipher();
        seen.tls = { version: secure.getProtocol() ?? '', cipher: cipher.standardName ?? cipher.name, group: keyExchange(secure) };
      }
      secure.write(`EHLO ${o.helo}\r\n`);
      await expect(replies, 250, 'EHLO after STARTTLS');
    }
    socket.write(`MAIL FROM:<${o.from}>\r\n`);
    await expect(replies, 250, 'MAIL');
    socket.write(`RCPT TO:<${o.to}>\r\n`);
    await expect(replies, 250, 'RCPT');
    socket.write('DATA\r\n');
    await expect(replies, 354, 'DATA');
    if (o.dotApartMs !== undefined) {
      // The body handed to the kernel first (a large one is not still in this process's buffer), then the pause.
      await new Promise((resolve) => socket.write(text.slice(0, -3), resolve));
      await new Promise((resolve) => setTimeout(resolve, o.dotApartMs));
    }
    const eod = performance.now();
    socket.write(o.dotApartMs !== undefined ? '.\r\n' : text);
    await expect(replies, 250, 'end of data');
    const ms = performance.now() - eod;
    socket.write('QUIT\r\n');
    await expect(replies, 221, 'QUIT');
    return ms;
  } finally {
    socket.destroy();
    plain.destroy();
  }
}

/** The message with one DKIM-Signature per key on top (mailauth, as a sending MTA signs). */
async function signed(text: string, keys: readonly DkimSigning[]): Promise<string> {
  const { dkimSign } = await import('mailauth');
  const message = text.slice(0, -3); // without the final dot
  const signatureData = keys.map((k) => ({
    signingDomain: k.domain,
    selector: k.selector,
    privateKey: k.privateKey,
    ...(k.canonicalization ? { canonicalization: k.canonicalization } : {}),
  }));
  const { signatures } = await dkimSign(message, { signatureData } as Parameters<typeof dkimSign>[1]);
  return `${signatures}${message}.\r\n`;
}

/** p50, p90 and mean of the times, ms (3 decimals). */
function spread(times: number[]): { p50: number; p90: number; mean: number } {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return { p50: round(at(0.5)), p90: round(at(0.9)), mean: round(sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length)) };
}

/** Sends `messages` messages over `sessions` parallel sessions; stops early after 20 errors. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = { messages: 0, errors: 0, ms: 0, clientCpuMs: 0 };
  const body = bodyOf(o.size);
  const eods: number[] = [];
  let started = 0;
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: o.sessions }, async () => {
      const lane: { session?: Buffer } = {};
      while (started < o.messages && result.errors < 20) {
        const n = started++;
        try {
          const text = o.dkim?.length ? await signed(messageText(o, n, body), o.dkim) : messageText(o, n, body);
          eods.push(await sendOne(o, text, result, lane));
          result.messages++;
        } catch (err) {
          result.errors++;
          result.firstError ??= (err as Error).message;
        }
      }
    }),
  );
  result.ms = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  result.clientCpuMs = (used.user + used.system) / 1000;
  if (eods.length > 0) result.eodMs = spread(eods);
  return result;
}

export interface StreamedOptions extends Pick<LoadOptions, 'host' | 'port' | 'sessions' | 'from' | 'to' | 'helo' | 'timeoutMs'> {
  /** Body bytes after the headers, per message. */
  size: number;
}

/** 64 KiB of 78-character lines: the same buffer written again and again, so no body is ever held whole. */
const CHUNK = Buffer.from(`${'X'.repeat(78)}\r\n`.repeat(819), 'latin1');

/** Writes `size` body bytes in CHUNK pieces, waiting for 'drain' whenever the socket's buffer is full. */
async function writeBody(socket: net.Socket, size: number): Promise<void> {
  let left = size;
  while (left > 0) {
    // The tail: whole lines of CHUNK, then one short line (no line over RFC 5322's 998 characters).
    const piece =
      left >= CHUNK.length ? CHUNK : left >= 80 ? CHUNK.subarray(0, left - (left % 80)) : Buffer.from(`${'X'.repeat(Math.max(0, left - 2))}\r\n`, 'latin1');
    left -= piece.length;
    if (!socket.write(piece)) await once(socket, 'drain');
  }
}

/**
 * `sessions` sessions at once, one message of `size` bytes each, the body generated while it is
 * sent (backpressure-bound: the load generator's memory stays flat however large the messages).
 */
export async function runStreamed(o: StreamedOptions): Promise<LoadResult> {
  const result: LoadResult = { messages: 0, errors: 0, ms: 0, clientCpuMs: 0 };
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: o.sessions }, async (_, n) => {
      const socket = await connect(o);
      try {
        const replies = new Replies(socket);
        await expect(replies, 220, 'greeting');
        socket.write(`EHLO ${o.helo}\r\n`);
        await expect(replies, 250, 'EHLO');
        socket.write(`MAIL FROM:<${o.from}> SIZE=${o.size + 1024}\r\n`);
        await expect(replies, 250, 'MAIL');
        socket.write(`RCPT TO:<${o.to}>\r\n`);
        await expect(replies, 250, 'RCPT');
        socket.write('DATA\r\n');
        await expect(replies, 354, 'DATA');
        socket.write(headersOf(o, n));
        await writeBody(socket, o.size);
        socket.write('.\r\n');
        await expect(replies, 250, 'end of data');
        socket.write('QUIT\r\n');
        await expect(replies, 221, 'QUIT');
        result.messages++;
      } catch (err) {
        result.errors++;
        result.firstError ??= (err as Error).message;
      } finally {
        socket.destroy();
      }
    }),
  );
  result.ms = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  result.clientCpuMs = (used.user + used.system) / 1000;
  return result;
}

export interface IdleSessions {
  readonly count: number;
  close(): void;
}

/** Opens `count` sessions that got their greeting and answered EHLO, then stay silent. */
export async function openIdle(host: string, port: number, count: number, helo = 'idle.load.test'): Promise<IdleSessions> {
  const sockets: net.Socket[] = [];
  const close = () => {
    for (const s of sockets) s.destroy();
  };
  try {
    for (let opened = 0; opened < count; ) {
      const batch = Math.min(50, count - opened);
      await Promise.all(
        Array.from({ length: batch }, async () => {
          const socket = await connect({ host, port, timeoutMs: 30_000 });
          sockets.push(socket);
          const replies = new Replies(socket);
          await expect(replies, 220, 'greeting');
          socket.write(`EHLO ${helo}\r\n`);
          await expect(replies, 250, 'EHLO');
          socket.setTimeout(0);
        }),
      );
      opened += batch;
    }
  } catch (err) {
    close();
    throw err;
  }
  return { count: sockets.length, close };
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      sessions: { type: 'string', default: '20' },
      messages: { type: 'string', default: '1000' },
      size: { type: 'string', default: '10240' },
      from: { type: 'string', default: 'load@load.test' },
      to: { type: 'string' },
      starttls: { type: 'string' },
      resume: { type: 'boolean', default: false },
      groups: { type: 'string', default: 'X25519' },
      helo: { type: 'string', default: 'load.test' },
      'timeout-ms': { type: 'string', default: '30000' },
      'dkim-key': { type: 'string' },
      'dkim-domain': { type: 'string', default: 'load.test' },
      'dkim-selector': { type: 'string', default: 's1' },
      'dot-apart-ms': { type: 'string' },
    },
  });
  const starttls = values.starttls;
  if (!values.port || !values.to || (starttls !== undefined && starttls !== 'TLSv1.2' && starttls !== 'TLSv1.3')) {
    process.stderr.write(
      'usage: node bench/load.ts --port P --to RCPT [--host H] [--sessions C] [--messages N] [--size S] [--starttls TLSv1.2|TLSv1.3 [--resume]] [--groups X25519]\n',
    );
    process.exit(2);
  }
  const result = await runLoad({
    host: values.host,
    port: Number(values.port),
    sessions: Number(values.sessions),
    messages: Number(values.messages),
    size: Number(values.size),
    from: values.from,
    to: values.to,
    ...(starttls ? { starttls } : {}),
    ...(values.resume ? { resume: true } : {}),
    groups: values.groups,
    helo: values.helo,
    timeoutMs: Number(values['timeout-ms']),
    ...(values['dkim-key']
      ? { dkim: [{ domain: values['dkim-domain'], selector: values['dkim-selector'], privateKey: readFileSync(values['dkim-key'], 'utf8') }] }
      : {}),
    ...(values['dot-apart-ms'] !== undefined ? { dotApartMs: Number(values['dot-apart-ms']) } : {}),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
