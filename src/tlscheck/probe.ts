// One SMTP conversation with one MX address for `sealpost tls-check`, as a client only: greeting,
// EHLO, STARTTLS (RFC 3207) with or without SNI, the chain the server presents and OpenSSL's
// verdict on it, EHLO again over TLS (RFC 3207 §4.2), QUIT. Sends no mail. Reuses the delivery
// client's parts: reply reader, EHLO parsing and the STARTTLS handshake. Network I/O.
import net from 'node:net';
import type tls from 'node:tls';
import { type FullReply, ReplyReader } from '../outbound/reply-reader.ts';
import { startTls } from '../outbound/starttls.ts';
import { parseExtensions } from '../outbound/wire.ts';
import { type CertSummary, walkChain } from './chain.ts';

export interface ProbeOptions {
  ip: string;
  port: number;
  /** Our name in EHLO. */
  heloName: string;
  /** The SNI to send; '' sends none. */
  servername: string;
  /** CAs to verify against (an empty store shows the chain exactly as sent). */
  trust: tls.SecureContext;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
}

export interface TlsSeen {
  version: string;
  cipher: string;
  /** Leaf first: the certificates the server sent, then any issuers Node found in `trust`. */
  chain: CertSummary[];
  /** The same chain as DER, for DANE matching (RFC 7672 §3). */
  der?: Buffer[];
  /** OpenSSL verified the chain against `trust` (names are checked by the caller). */
  authorized: boolean;
  /** OpenSSL's verify error code, e.g. "UNABLE_TO_VERIFY_LEAF_SIGNATURE". */
  code?: string;
}

export type ProbeStage = 'connect' | 'greeting' | 'ehlo' | 'starttls' | 'tls' | 'ehlo-tls';

export interface SmtpProbe {
  /** Where the conversation stopped early and why; undefined when it ran to the end. */
  failure?: { stage: ProbeStage; error: string };
  /** The 220 greeting, e.g. "220 mx.example.org ESMTP Postfix". */
  banner?: string;
  /** EHLO keywords with their parameters, before TLS. */
  ehlo?: string[];
  /** STARTTLS was in the EHLO reply. */
  starttls: boolean;
  /** The reply to STARTTLS when it was not 220. */
  starttlsRefused?: string;
  tls?: TlsSeen;
  /** EHLO keywords over TLS. */
  ehloAfterTls?: string[];
}

export async function probeSmtp(o: ProbeOptions): Promise<SmtpProbe> {
  const result: SmtpProbe = { starttls: false };
  const plain = await connect(o.ip, o.port, o.connectTimeoutMs);
  if (typeof plain === 'string') return { ...result, failure: { stage: 'connect', error: plain } };
  const reader = new ReplyReader();
  reader.attach(plain);
  let socket: net.Socket | tls.TLSSocket = plain;
  const ask = async (line: string | undefined): Promise<FullReply | string> => {
    if (line !== undefined) socket.write(`${line}\r\n`);
    try {
      return await reader.next(o.commandTimeoutMs);
    } catch (err) {
      return (err as Error).message;
    }
  };
  const close = (): void => {
    reader.detach();
    socket.destroy();
    plain.destroy();
  };
  const stop = (stage: ProbeStage, error: string): SmtpProbe => {
    close();
    return { ...result, failure: { stage, error } };
  };
  /** The conversation went as far as it could: QUIT (RFC 5321 §4.1.1.10), then close. */
  const end = async (probe: SmtpProbe): Promise<SmtpProbe> => {
    await ask('QUIT');
    close();
    return probe;
  };
  try {
    const greeting = await ask(undefined);
    if (typeof greeting === 'string') return stop('greeting', `no greeting: ${greeting}`);
    result.banner = replyText(greeting);
    if (greeting.reply.code !== 220) return stop('greeting', `the server refused the connection: ${result.banner}`);
    const ehlo = await ask(`EHLO ${o.heloName}`);
    if (typeof ehlo === 'string') return stop('ehlo', `EHLO: ${ehlo}`);
    if (ehlo.reply.code !== 250) return stop('ehlo', `EHLO refused: ${replyText(ehlo)}`);
    result.ehlo = keywords(ehlo);
    result.starttls = parseExtensions(ehlo.lines).has('STARTTLS');
    if (!result.starttls) return await end(result);
    const answer = await ask('STARTTLS');
    if (typeof answer === 'string') return stop('starttls', `STARTTLS: ${answer}`);
    if (answer.reply.code !== 220) {
      result.starttlsRefused = replyText(answer);
      return await end(result);
    }
    reader.detach();
    const secured = await startTls(plain, o.servername, o.trust, o.commandTimeoutMs);
    if (!secured.ok) return stop('tls', secured.error);
    socket = secured.socket;
    // Errors end the conversation through the reader; none may go unhandled after it detaches.
    socket.on('error', () => socket.destroy());
    const code = secured.socket.authorizationError;
    result.tls = {
      version: secured.version,
      cipher: secured.socket.getCipher()?.standardName ?? secured.cipher,
      chain: walkChain(secured.socket.getPeerCertificate(true)),
      der: secured.chain,
      authorized: secured.socket.authorized,
      ...(secured.socket.authorized || !code ? {} : { code: typeof code === 'string' ? code : ((code as NodeJS.ErrnoException).code ?? code.message) }),
    };
    reader.attach(secured.socket);
    const again = await ask(`EHLO ${o.heloName}`);
    if (typeof again === 'string') return stop('ehlo-tls', `EHLO over TLS: ${again}`);
    if (again.reply.code !== 250) return stop('ehlo-tls', `EHLO over TLS refused: ${replyText(again)}`);
    result.ehloAfterTls = keywords(again);
    return await end(result);
  } catch (err) {
    return stop('connect', `unexpected error: ${(err as Error).message}`);
  }
}

function replyText(r: FullReply): string {
  return `${r.reply.code} ${r.lines.join(' ')}`.trim();
}

/** EHLO reply lines after the first: "SIZE 10240000", "STARTTLS", … */
function keywords(r: FullReply): string[] {
  return r.lines
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

function connect(ip: string, port: number, timeoutMs: number): Promise<net.Socket | string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: ip, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`connect to ${ip} port ${port} timed out after ${Math.round(timeoutMs / 1000)} s`);
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.on('error', () => socket.destroy());
      resolve(socket);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(`connect to ${ip} port ${port}: ${err.code ?? err.message}`);
    });
  });
}
