// The offload thread, as the event loop sees it: one worker thread (named inbound-checks) for the
// per-message work that would otherwise hold up every SMTP session: the SPF/DKIM/DMARC checks of
// inbound mail (mailauth's parsing, DNS through its own cache; SPF asked for at MAIL FROM, the rest
// at the end of DATA with that SPF result handed back). Maildir writes have threads of their own
// (writers.ts). A check the thread cannot answer (it died) is "none".
// The body of a signed message is fed to the thread as DATA arrives (feed()): the thread hashes it
// for DKIM meanwhile (mailauth/streaming.ts) and the check at the end of DATA is left with the
// signatures. Of an unsigned message only the header block is sent, once it has arrived (its
// blank line says no body hash is needed). The feed's header block also starts the thread's DMARC
// and DKIM key lookups while the body comes. At the end of DATA only the header block crosses
// to the thread (not the body: the checks need none of it then) and only our header fields come
// back, with the cleaned header block when a forged Authentication-Results was removed; the
// whole message goes only when the body was not fed (a header block too long, the thread let it
// go) or an ARC seal is asked for.
import { Worker } from 'node:worker_threads';
import { bodyHead, bodySize, isSpooled, type MessageBody, withHead } from '../core/body.ts';
import { fromWireError, type WireError } from '../core/wire-error.ts';
import { HeaderGate } from '../mailauth/header-gate.ts';
import type { DnsFailure, VerifySettings } from '../mailauth/inbound.ts';
import { checksFailed } from '../mailauth/results.ts';
import type { BodyFeed, SPFResult, SpfInput, Verdict, VerifyInput } from '../mailauth/verify.ts';
import { headerBlock } from '../message/body.ts';
import { exact, threadEntry } from './threads.ts';

export type { DnsFailure } from '../mailauth/inbound.ts';

/**
 * A body as it crosses to the thread: bytes, or a spooled body whose prefix is bytes; the thread
 * reads the file itself (a 49 MiB message is never copied through postMessage).
 */
export type WireBody = Uint8Array | { kind: 'spooled'; prefix: Uint8Array; file: string; offset: number; size: number };

export type Work =
  /** `stream`: the body fed as it arrived (feed()), for the DKIM body hashes. */
  { kind: 'verify'; input: Omit<VerifyInput, 'message' | 'streamed'> & { message: WireBody }; stream?: number } | { kind: 'spf'; input: SpfInput };

/**
 * What is fed to the thread without an answer: the next bytes of a body (the first with its
 * sender and the header block), that none will be checked, or the header block of a body that
 * will not be fed (unsigned), for the lookups it names.
 */
export type Feed =
  | { kind: 'feed'; stream: number; chunk: Uint8Array; sender?: string }
  | { kind: 'drop'; stream: number }
  | { kind: 'header'; header: Uint8Array };

/** The thread's answer to a check of a header block alone (VerifyInput.size): the cleaned header block only when it changed. */
export type HeaderVerdict = Omit<Verdict, 'message'> & { message?: Uint8Array };

export type Request = (Work & { id: number }) | Feed;

/** From the thread: a fed body's verifier has taken this many more bytes (sent every FEED_ACK bytes). */
export interface FeedTaken {
  kind: 'taken';
  stream: number;
  bytes: number;
  /** The thread let the body go (too many at once): feed no more, the check verifies it whole. */
  gone?: true;
}

export type Answer = { id: number; dnsFailures?: DnsFailure[] } & ({ ok: true; value: unknown } | { ok: false; error: WireError });

export interface Offload {
  /** Present when the thread was started with VerifySettings; `feed`: the body of this message as it arrived (feed()). */
  verify?: (input: VerifyInput, feed?: BodyFeed) => Promise<Verdict>;
  /** With verify: a feed for the body of a transaction from `sender` (MAIL FROM), pushed as DATA arrives. */
  feed?: (sender: string) => BodyFeed;
  /** SPF alone, started at MAIL FROM (with verify); undefined when the thread could not answer (verify then evaluates it). */
  spf?: (input: SpfInput) => Promise<SPFResult | undefined>;
  /** Ends the thread after the requests in flight are answered. */
  close(): Promise<void>;
}

/**
 * `onDnsFailure`: each failed lookup of the thread's resolver (mailauth's SPF/DKIM/DMARC queries),
 * told with the answer that follows it (the metrics' DNS error count).
 */
export function startOffloadThread(settings: { verify?: VerifySettings } = {}, onDnsFailure?: (failure: DnsFailure) => void): Offload {
  const worker = new Worker(threadEntry('thread', import.meta.url), {
    name: 'inbound-checks',
    workerData: settings,
    // A small young generation: with the default, the thread's start-up garbage keeps ~10 MB more resident.
    resourceLimits: { maxYoungGenerationSizeMb: 8 },
  });
  worker.unref();
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (e: Error) => void }>();
  let next = 0;
  let dead: Error | undefined;
  /** The bodies being fed, by stream id: told what the thread's verifier took. */
  const feeds = new Map<number, ThreadFeed>();
  const failAll = (err: Error) => {
    dead = err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
    for (const feed of [...feeds.values()]) feed.off();
  };
  worker.on('message', (answer: Answer | FeedTaken) => {
    if ('kind' in answer) {
      const feed = feeds.get(answer.stream);
      return answer.gone ? feed?.off() : feed?.taken(answer.bytes);
    }
    if (onDnsFailure) for (const f of answer.dnsFailures ?? []) onDnsFailure(f);
    const w = waiting.get(answer.id);
    if (!w) return;
    waiting.delete(answer.id);
    if (waiting.size === 0) worker.unref();
    if (answer.ok) w.resolve(answer.value);
    else w.reject(fromWireError(answer.error));
  });
  worker.on('error', (err) => failAll(new Error(`the offload thread failed: ${err.message}`)));
  worker.on('exit', (code) => failAll(new Error(`the offload thread exited (code ${code})`)));

  const call = <T>(work: Work): Promise<T> => {
    if (dead) return Promise.reject(dead);
    const id = next++;
    return new Promise<T>((resolve, reject) => {
      waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      worker.ref(); // a request in flight keeps the process alive
      worker.postMessage({ ...work, id } satisfies Request);
    });
  };

  const channel: FeedChannel = {
    post: (feed, transfer) => {
      if (dead) return false;
      worker.postMessage(feed satisfies Request, transfer ? [transfer] : []);
      return true;
    },
    open: (stream, feed) => feeds.set(stream, feed),
    close: (stream) => feeds.delete(stream),
  };
  let streams = 0;

  const checks = settings.verify;
  return {
    ...(checks
      ? {
          verify: async (input: VerifyInput, feed?: BodyFeed): Promise<Verdict> => {
            const { streamed: _, ...rest } = input;
            const claimed = feed instanceof ThreadFeed ? feed.claim() : { headerOnly: false };
            const stream = claimed.stream !== undefined ? { stream: claimed.stream } : {};
            const headerOnly = claimed.headerOnly && !input.seal;
            try {
              if (headerOnly) {
                const header = headerBlock(bodyHead(input.message));
                const answer = await call<HeaderVerdict>({
                  kind: 'verify',
                  input: { ...rest, message: new Uint8Array(header), size: bodySize(input.message) },
                  ...stream,
                }).catch((err: NodeJS.ErrnoException) => {
                  if (err.code === 'EBODYNEEDED') return undefined; // the whole message then, its stream spent
                  throw err;
                });
                if (answer) return withCleanedHeader(input.message, header.length, answer);
              }
              const verdict = await call<Omit<Verdict, 'message'> & { message: WireBody }>({
                kind: 'verify',
                input: { ...rest, message: toWire(input.message) },
                ...(headerOnly ? {} : stream),
              });
              return { ...verdict, message: fromWire(verdict.message) };
            } catch (err) {
              return checksFailed(checks.hostname, input.message, (err as Error).message);
            }
          },
          spf: (input: SpfInput) => within(call<SPFResult>({ kind: 'spf', input }), checks.timeoutMs),
          feed: (sender: string) => new ThreadFeed(streams++, sender, channel),
        }
      : {}),
    async close() {
      while (waiting.size > 0 && !dead) {
        await new Promise<void>((resolve) => worker.once('message', () => setImmediate(resolve)));
      }
      await worker.terminate();
    },
  };
}

/** Bytes of one body posted and not yet taken by the thread's verifier at most, before push() asks to wait. */
export const FEED_WINDOW = 512 * 1024;
/**
 * Past the first MiB (a body that goes to the spool) chunks are sent in blocks of at least this:
 * fewer messages, and each block is large enough for malloc to map it apart and give it back
 * when freed (scripts/sealpost's MALLOC_MMAP_THRESHOLD_) instead of fragmenting the thread's heap.
 */
const FEED_BLOCK = 64 * 1024;
const BLOCKS_AFTER = 1024 * 1024;

/**
 * One transaction's body on its way to the thread. Chunks are held until the header block has
 * ended; then, if a signature covers the body (readBody), they and the rest go to the thread,
 * each copied once into memory of its own that is transferred (the body's own chunks stay with
 * collect.ts), otherwise nothing is sent. The thread
 * tells how much its verifier has taken (thread.ts FEED_ACK): past FEED_WINDOW in flight push()
 * says to wait, so a fast client of a large body goes at the pace of the hashing.
 */
class ThreadFeed implements BodyFeed {
  private state: 'header' | 'open' | 'off' = 'header';
  /** What the header block said once it ended: a body hash is needed (signed) or not; unknown while it has not (or was too long). */
  private header: 'unknown' | 'signed' | 'unsigned' = 'unknown';
  private readonly gate = new HeaderGate();
  private readonly id: number;
  private readonly sender: string;
  private readonly channel: FeedChannel;
  private inFlight = 0;
  private sent = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private drains: (() => void)[] = [];

  constructor(id: number, sender: string, channel: FeedChannel) {
    this.id = id;
    this.sender = sender;
    this.channel = channel;
  }

  push(chunk: Buffer): boolean {
    if (this.state === 'open' && this.sent < BLOCKS_AFTER) return this.send({ kind: 'feed', stream: this.id, chunk: new Uint8Array(chunk) });
    if (this.state === 'open') {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      return this.pendingBytes >= FEED_BLOCK ? this.flush() : this.inFlight < FEED_WINDOW;
    }
    if (this.state === 'off') return true;
    const seen = this.gate.push(chunk);
    if (!seen) return true;
    if (seen.kind === 'too-long') {
      this.off();
      return true;
    }
    if (!seen.signed) {
      // No body hash: the body is not sent, its header block only, for the lookups it names.
      this.header = 'unsigned';
      const block = new Uint8Array(seen.header);
      this.channel.post({ kind: 'header', header: block }, block.buffer as ArrayBuffer);
      this.off();
      return true;
    }
    this.header = 'signed';
    this.state = 'open';
    this.channel.open(this.id, this);
    return this.send({ kind: 'feed', stream: this.id, chunk: new Uint8Array(seen.start), sender: this.sender });
  }

  onDrain(callback: () => void): void {
    if (this.state !== 'open' || this.inFlight < FEED_WINDOW) callback();
    else this.drains.push(callback);
  }

  drop(): void {
    if (this.state === 'open') this.channel.post({ kind: 'drop', stream: this.id });
    this.off();
  }

  /**
   * For the check at the end of DATA (once): the stream the thread holds (undefined when nothing
   * was fed), and whether the header block alone will do (unsigned, or signed and streamed whole).
   */
  claim(): { stream?: number; headerOnly: boolean } {
    if (this.state === 'open') this.flush();
    const open = this.state === 'open';
    this.off();
    return { ...(open ? { stream: this.id } : {}), headerOnly: this.header === 'unsigned' || (this.header === 'signed' && open) };
  }

  /** The thread's verifier has taken this many more bytes. */
  taken(bytes: number): void {
    this.inFlight -= bytes;
    if (this.inFlight < FEED_WINDOW) this.drained();
  }

  /** The feed ends: nothing more is sent and nobody waits. */
  off(): void {
    if (this.state === 'open') this.channel.close(this.id);
    this.state = 'off';
    this.gate.clear();
    this.pending = [];
    this.pendingBytes = 0;
    this.drained();
  }

  /** The pending chunks as one block. */
  private flush(): boolean {
    if (this.pendingBytes === 0) return this.inFlight < FEED_WINDOW;
    const block = new Uint8Array(this.pendingBytes);
    let at = 0;
    for (const chunk of this.pending) {
      block.set(chunk, at);
      at += chunk.length;
    }
    this.pending = [];
    this.pendingBytes = 0;
    return this.send({ kind: 'feed', stream: this.id, chunk: block });
  }

  /** `feed.chunk` is a copy of ours alone: it moves to the thread without a second copy. */
  private send(feed: Extract<Feed, { kind: 'feed' }>): boolean {
    const bytes = feed.chunk.byteLength; // 0 once transferred
    if (!this.channel.post(feed, feed.chunk.buffer as ArrayBuffer)) {
      this.off();
      return true;
    }
    this.inFlight += bytes;
    this.sent += bytes;
    return this.inFlight < FEED_WINDOW;
  }

  private drained(): void {
    const waiting = this.drains;
    this.drains = [];
    for (const callback of waiting) callback();
  }
}

/** What a feed needs of the thread: to post to it, and to hear what its verifier took. */
interface FeedChannel {
  /** False when the thread is gone. `transfer`: memory that moves with it (no copy). */
  post(feed: Feed, transfer?: ArrayBuffer): boolean;
  open(stream: number, feed: ThreadFeed): void;
  close(stream: number): void;
}

/** The value, or undefined when it fails or takes longer than `ms` (the timer does not hold the process). */
export function within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  const settled = work.then(
    (value) => value,
    () => undefined,
  );
  return Promise.race([settled, late]).finally(() => clearTimeout(timer));
}

/**
 * The message as the thread checked it from its header block alone: unchanged (no copy) unless
 * forged Authentication-Results were removed, then with the cleaned header block in front of the
 * rest. `headerLength`: the bytes of the header block that was sent.
 */
export function withCleanedHeader(message: MessageBody, headerLength: number, answer: HeaderVerdict): Verdict {
  const { message: cleaned, ...verdict } = answer;
  if (!cleaned || verdict.removed === 0) return { ...verdict, message };
  const head = bodyHead(message);
  return { ...verdict, message: withHead(message, Buffer.concat([cleaned, head.subarray(headerLength)])) };
}

export function toWire(body: MessageBody): WireBody {
  return isSpooled(body) ? { ...body, prefix: exact(body.prefix) } : exact(body);
}

/** Structured clone hands a Uint8Array back: make it a Buffer again (no copy). */
export function fromWire(body: WireBody): MessageBody {
  return body instanceof Uint8Array ? asBuffer(body) : { ...body, prefix: asBuffer(body.prefix) };
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
