// rspamd's HTTP protocol (https://rspamd.com/doc/developers/protocol.html): one POST to /checkv2
// of a normal worker per message, the message as the request body (streamed from the spool file
// for a large one) and its envelope and client facts as request headers; the JSON reply is read
// into a typed RspamdReply. An HTTP request is I/O: it runs on the event loop and holds up no
// other session. A refused connection, an HTTP error, a reply that is not rspamd's or
// `timeoutMs` passing is an `error` outcome, never a throw.
import http from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { bodyChunks, type MessageBody } from '../core/body.ts';

/** What rspamd is told about one message (its request headers, named as the protocol names them). */
export interface ScanInput {
  /** Our header fields in front of the message (Authentication-Results): rspamd sees them as part of it. */
  prepend: string;
  body: MessageBody;
  queueId: string;
  sender: string;
  rcpts: readonly string[];
  /** The SMTP client; absent for a local program. */
  ip?: string;
  helo?: string;
  /** The client's forward-confirmed reverse name (rspamd's `Hostname`). */
  reverseName?: string;
  /** The authenticated user (rspamd's `User`: it then treats the mail as outbound). */
  user?: string;
  /** Our host name (rspamd's `MTA-Name`, used in its Authentication-Results). */
  mtaName: string;
  /** "TLSv1.3 TLS_AES_256_GCM_SHA384" when the session ran over TLS. */
  tls?: { version: string; cipher: string };
}

/** The parts of rspamd's reply we act on. */
export interface RspamdReply {
  /** "reject", "soft reject", "greylist", "add header", "rewrite subject", "no action" (or a custom one). */
  action: string;
  score: number;
  requiredScore: number;
  /** Symbols by descending |score|: the X-Spamd-Result breakdown. */
  symbols: readonly { name: string; score: number; options: readonly string[] }[];
  /** rspamd's own reply text for the client (messages.smtp_message), if it set one. */
  smtpMessage?: string;
  /** Header fields its milter_headers module asks for (milter.add_headers), name → values. */
  addHeaders: readonly { name: string; value: string }[];
  /** The new Subject for "rewrite subject" (the reply's `subject`: rspamd's `subject` setting, "*** SPAM *** %s" by default), decoded text. */
  subject?: string;
}

export type ScanResult = { ok: true; reply: RspamdReply; ms: number } | { ok: false; error: string; ms: number };

export interface RspamdClientDeps {
  /** Base URL of the normal worker, e.g. "http://127.0.0.1:11333". */
  url: string;
  timeoutMs: number;
  now: () => number;
}

const MAX_REPLY = 4 * 1024 * 1024;

export type RspamdScan = (input: ScanInput) => Promise<ScanResult>;

export function createRspamdClient(deps: RspamdClientDeps): RspamdScan {
  const endpoint = new URL('checkv2', deps.url.endsWith('/') ? deps.url : `${deps.url}/`);
  return async (input) => {
    const started = deps.now();
    try {
      const text = await post(endpoint, requestHeaders(input), input, deps.timeoutMs);
      const reply = parseReply(text);
      return typeof reply === 'string' ? { ok: false, error: reply, ms: deps.now() - started } : { ok: true, reply, ms: deps.now() - started };
    } catch (err) {
      return { ok: false, error: (err as Error).message, ms: deps.now() - started };
    }
  };
}

/** The request headers of the protocol; values cleaned of line breaks (a header cannot carry them). */
export function requestHeaders(input: ScanInput): Record<string, string | string[]> {
  const clean = (v: string) => v.replace(/[\r\n]+/g, ' ');
  const headers: Record<string, string | string[]> = {
    'Queue-Id': clean(input.queueId),
    From: clean(input.sender),
    Rcpt: input.rcpts.map(clean),
    'MTA-Name': clean(input.mtaName),
  };
  if (input.ip) headers['IP'] = clean(input.ip);
  if (input.helo) headers['Helo'] = clean(input.helo);
  if (input.reverseName) headers['Hostname'] = clean(input.reverseName);
  if (input.user) headers['User'] = clean(input.user);
  if (input.tls) {
    headers['TLS-Version'] = clean(input.tls.version);
    headers['TLS-Cipher'] = clean(input.tls.cipher);
  }
  return headers;
}

function post(endpoint: URL, headers: Record<string, string | string[]>, input: ScanInput, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const signal = AbortSignal.timeout(timeoutMs);
    const req = http.request(endpoint, { method: 'POST', headers, signal }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        // rspamd's replies are a few KiB: anything far larger is not rspamd.
        if (size > MAX_REPLY) req.destroy(new Error(`rspamd's reply is over ${MAX_REPLY} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`rspamd answered HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
        else resolve(text);
      });
      res.on('error', reject);
    });
    req.on('error', (err) => reject(signal.aborted ? new Error(`rspamd did not answer within ${timeoutMs} ms`) : err));
    // The pipeline waits for the socket as it drains and, on any error of either side, ends both
    // (the spool file is closed); the error itself reaches the caller through 'error' above.
    pipeline(Readable.from(message(input)), req).catch((err: Error) => req.destroy(err));
  });
}

async function* message(input: ScanInput): AsyncGenerator<Buffer> {
  if (input.prepend !== '') yield Buffer.from(input.prepend);
  yield* bodyChunks(input.body);
}

/** rspamd's JSON reply, or why it is not one. */
export function parseReply(text: string): RspamdReply | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return `rspamd's reply is not JSON: ${text.slice(0, 100)}`;
  }
  if (typeof json !== 'object' || json === null) return 'rspamd replied with no object';
  const o = json as Record<string, unknown>;
  if (typeof o['error'] === 'string') return `rspamd: ${o['error']}`;
  if (typeof o['action'] !== 'string') return 'rspamd replied without an action';
  const symbols = Object.values(typeof o['symbols'] === 'object' && o['symbols'] !== null ? (o['symbols'] as Record<string, unknown>) : {})
    .filter((s): s is Record<string, unknown> => typeof s === 'object' && s !== null && typeof (s as Record<string, unknown>)['name'] === 'string')
    .map((s) => ({
      name: s['name'] as string,
      score: typeof s['score'] === 'number' ? s['score'] : 0,
      options: Array.isArray(s['options']) ? s['options'].filter((x): x is string => typeof x === 'string') : [],
    }))
    .sort((a, b) => Math.abs(b.score) - Math.abs(a.score) || a.name.localeCompare(b.name));
  const messages = typeof o['messages'] === 'object' && o['messages'] !== null ? (o['messages'] as Record<string, unknown>) : {};
  const addHeaders: { name: string; value: string }[] = [];
  const milter = typeof o['milter'] === 'object' && o['milter'] !== null ? (o['milter'] as Record<string, unknown>) : {};
  const add = typeof milter['add_headers'] === 'object' && milter['add_headers'] !== null ? (milter['add_headers'] as Record<string, unknown>) : {};
  for (const [name, v] of Object.entries(add)) {
    // Each value: a string, { value, order }, or a list of those.
    for (const item of Array.isArray(v) ? v : [v]) {
      const value = typeof item === 'string' ? item : typeof item === 'object' && item !== null ? (item as Record<string, unknown>)['value'] : undefined;
      if (typeof value === 'string') addHeaders.push({ name, value });
    }
  }
  return {
    action: o['action'],
    score: typeof o['score'] === 'number' ? o['score'] : 0,
    requiredScore: typeof o['required_score'] === 'number' ? o['required_score'] : 0,
    symbols,
    ...(typeof messages['smtp_message'] === 'string' ? { smtpMessage: messages['smtp_message'] } : {}),
    addHeaders,
    ...(typeof o['subject'] === 'string' ? { subject: o['subject'] } : {}),
  };
}
