// A raw SMTP client for the inbound tests (node:net, optional TLS over the same socket): writes
// exactly the bytes a test gives and reads whole replies, so tests can pipeline, smuggle and
// misbehave. Also: a parser for the `sealpost queue list --json` output. Side effects: sockets.
import net from 'node:net';
import { after } from 'node:test';
import tls from 'node:tls';
import type { SealpostDaemon } from '../helpers/daemon.ts';
import type { Scope } from '../helpers/tmp.ts';

export interface SmtpReply {
  code: number;
  /** Every line's text after "NNN-" / "NNN ", joined with "\n". */
  text: string;
  lines: string[];
}

export interface RawSmtp {
  /** Writes a string (UTF-8) or bytes as they are (no CRLF added). */
  write(data: string | Buffer): void;
  /** The next complete reply (multi-line replies as one). Rejects on close or after timeoutMs. */
  reply(timeoutMs?: number): Promise<SmtpReply>;
  /** write(`${line}\r\n`) then reply(). */
  command(line: string, timeoutMs?: number): Promise<SmtpReply>;
  /** STARTTLS already answered 220: the handshake over the same socket; later replies come over TLS. */
  upgrade(options?: tls.ConnectionOptions): Promise<tls.TLSSocket>;
  /** Resolves when the server closes the connection (or it errors), with the bytes unread. */
  closed(timeoutMs?: number): Promise<string>;
  /** Bytes received that no reply() has consumed yet. */
  pending(): string;
  destroy(): void;
}

/** Connects to host:port (default 127.0.0.1), from `localAddress` if given (another loopback address). */
export async function connectSmtp(port: number, options: { host?: string; localAddress?: string } = {}): Promise<RawSmtp> {
  const plain = net.connect({ host: options.host ?? '127.0.0.1', port, ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
  await new Promise<void>((resolve, reject) => {
    plain.once('connect', resolve);
    plain.once('error', reject);
  });
  let socket: net.Socket = plain;
  let buffer = '';
  let ended = false;
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  const attach = (s: net.Socket) => {
    s.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      wake();
    });
    s.on('close', () => {
      ended = true;
      wake();
    });
    s.on('error', () => {
      ended = true;
      wake();
    });
  };
  attach(plain);

  /** A complete reply at the start of the buffer, consumed; or undefined. */
  const takeReply = (): SmtpReply | undefined => {
    const lines: string[] = [];
    let offset = 0;
    for (;;) {
      const end = buffer.indexOf('\r\n', offset);
      if (end < 0) return undefined;
      const line = buffer.slice(offset, end);
      offset = end + 2;
      lines.push(line);
      if (!/^\d{3}-/.test(line)) {
        buffer = buffer.slice(offset);
        return { code: Number(line.slice(0, 3)), text: lines.map((l) => l.slice(4)).join('\n'), lines };
      }
    }
  };

  const waitUntil = <T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        waiters.delete(onWake);
      };
      const onWake = () => {
        const value = check();
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (ended) {
          done();
          reject(new Error(`connection closed while waiting for ${what}; unread: ${JSON.stringify(buffer)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; unread: ${JSON.stringify(buffer)}`));
      }, timeoutMs);
      waiters.add(onWake);
      onWake();
    });

  const client: RawSmtp = {
    write(data) {
      socket.write(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
    },
    reply(timeoutMs = 10_000) {
      return waitUntil(takeReply, timeoutMs, 'an SMTP reply');
    },
    command(line, timeoutMs) {
      client.write(`${line}\r\n`);
      return client.reply(timeoutMs);
    },
    async upgrade(options = {}) {
      plain.removeAllListeners('data');
      const secure = tls.connect({ socket: plain, rejectUnauthorized: false, ...options });
      await new Promise<void>((resolve, reject) => {
        secure.once('secureConnect', resolve);
        secure.once('error', reject);
      });
      socket = secure;
      attach(secure);
      return secure;
    },
    closed(timeoutMs = 10_000) {
      return waitUntil(() => (ended ? buffer : undefined), timeoutMs, 'the server to close the connection');
    },
    pending: () => buffer,
    destroy() {
      socket.destroy();
      plain.destroy();
    },
  };
  return client;
}

export interface QueueListEntry {
  id: string;
  sender: string;
  subject: string | null;
  recipients: { rcpt: string; address: string; transport: string; state: string; attempts: number; lastError: string | null }[];
}

/** `sealpost queue list --json` through the daemon's CLI. */
export async function queueList(daemon: SealpostDaemon): Promise<QueueListEntry[]> {
  const result = await daemon.cli(['queue', 'list', '--json']);
  if (result.code !== 0) throw new Error(`sealpost queue list: exit ${result.code}\n${result.stderr}`);
  const page = JSON.parse(result.stdout) as { total: number; more: boolean; messages: QueueListEntry[] };
  if (page.more) throw new Error(`sealpost queue list: the page is cut (${page.messages.length} of ${page.total}); ask for more with --limit`);
  return page.messages;
}

/**
 * A Scope for a describe() block's shared peers: cleanups registered from its before() hook run in
 * the block's after() hook (node:test's after() called inside before() would run at once).
 */
export function suiteScope(): Scope {
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  return { after: (fn) => void cleanups.push(fn) };
}
