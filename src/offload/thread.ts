// Entry point of the offload thread (started by client.ts): answers SPF at MAIL FROM, the
// lookups a fed header block names (as the body streams), the DKIM body hashes of a body fed as
// it arrives (streaming.ts) and inbound checks as they come (of a header block alone when the body
// is not needed: only our fields and a cleaned header block go back), each with the same code the
// event loop would run (verify.ts).
// Builds its own DNS resolver and cache from the settings it is given; the lookups that failed
// (SERVFAIL, REFUSED, timeouts) since the last answer go back with the next one, for the daemon's
// DNS error count (client.ts hands them to its observer). Collects its own heap after each burst
// (quiet-gc.ts: this thread has its own V8 heap and event loop).
import { parentPort, workerData } from 'node:worker_threads';
import { bodyHead } from '../core/body.ts';
import { startQuietGc } from '../core/quiet-gc.ts';
import { toWireError } from '../core/wire-error.ts';
import type { VerifySettings } from '../mailauth/inbound.ts';
import { streamWhenReady } from '../mailauth/pending-stream.ts';
import type { StreamedDkim, VerifyInput } from '../mailauth/verify.ts';
import { type Answer, type DnsFailure, type Feed, type FeedTaken, fromWire, type HeaderVerdict, type Request, toWire, type Work } from './client.ts';

const port = parentPort;
if (!port) throw new Error('offload/thread.ts runs only as a worker thread');
const settings = workerData as { verify?: VerifySettings };
/** Failed lookups not reported yet: sent with the next answer, whichever request it is for. */
let dnsFailures: DnsFailure[] = [];
// mailauth (~13 MiB of heap with undici, joi, the BIMI/VMC parsers; through checks.ts and
// verify.ts) is loaded at the first request that needs it (SPF at the first MAIL FROM): a daemon
// that has received no mail from other servers never holds it.
const verify = settings.verify;
let loaded: ReturnType<typeof verifier> | undefined;
const checks = verify && (() => (loaded ??= verifier(verify)));
// After a burst of checks (the checked bodies, mailauth's parse of them), once
// this thread's loop is quiet: one full collection, as the event loop does for its own heap.
startQuietGc();

/** Bodies being fed, by stream id (client.ts); each leaves with its check or its drop. */
const streams = new Map<number, StreamedDkim>();
/** Bodies fed at once at most (sessions in DATA with a signed message); past it the oldest is let go (checked whole). */
const MAX_STREAMS = 1000;
/** What a fed body's verifier has taken is told the event loop in steps of this (client.ts FEED_WINDOW): a 10 KiB body costs no message back. */
const FEED_ACK = 64 * 1024;
/** Taken and not yet told, per stream. */
const untold = new Map<number, number>();

port.on('message', (request: Request) => {
  if (request.kind === 'feed' || request.kind === 'drop' || request.kind === 'header') return fed(request);
  // Taken now, before any await: a drop that follows cannot take it away.
  const streamed = request.kind === 'verify' && request.stream !== undefined ? streams.get(request.stream) : undefined;
  if (request.kind === 'verify' && request.stream !== undefined) {
    streams.delete(request.stream);
    untold.delete(request.stream);
  }
  handle(request, streamed).then(
    ({ value, transfer }) => port.postMessage({ id: request.id, ok: true, value, ...failures() } satisfies Answer, transfer),
    (err: unknown) => port.postMessage({ id: request.id, ok: false, error: toWireError(err), ...failures() } satisfies Answer),
  );
});

function failures(): { dnsFailures?: DnsFailure[] } {
  if (dnsFailures.length === 0) return {};
  const sent = dnsFailures;
  dnsFailures = [];
  return { dnsFailures: sent };
}

function fed(feed: Feed): void {
  if (feed.kind === 'header') return warm(feed.header);
  let stream = streams.get(feed.stream);
  if (feed.kind === 'drop') {
    stream?.abort();
    streams.delete(feed.stream);
    untold.delete(feed.stream);
    return;
  }
  if (!stream) {
    if (feed.sender === undefined || !checks) return; // dropped already, or let go (MAX_STREAMS)
    const sender = feed.sender;
    warm(feed.chunk); // the first chunk holds the header block
    stream = streamWhenReady(checks().then((c) => c.stream(sender)));
    streams.set(feed.stream, stream);
    if (streams.size > MAX_STREAMS) {
      const [oldest, s] = streams.entries().next().value as [number, StreamedDkim];
      s.abort();
      streams.delete(oldest);
      untold.delete(oldest);
      port?.postMessage({ kind: 'taken', stream: oldest, bytes: 0, gone: true } satisfies FeedTaken); // its session need not wait
    }
  }
  const id = feed.stream;
  const bytes = feed.chunk.byteLength;
  stream.push(Buffer.from(feed.chunk.buffer, feed.chunk.byteOffset, bytes), () => {
    if (!streams.has(id)) return untold.delete(id);
    const sum = (untold.get(id) ?? 0) + bytes;
    if (sum < FEED_ACK) return untold.set(id, sum);
    untold.delete(id);
    port?.postMessage({ kind: 'taken', stream: id, bytes: sum } satisfies FeedTaken);
  });
}

/** The DMARC and DKIM key lookups a header block names, started while the body arrives (nothing waits for them). */
function warm(header: Uint8Array): void {
  if (!checks) return;
  const bytes = Buffer.from(header.buffer, header.byteOffset, header.byteLength);
  checks().then(
    (c) => c.warm(bytes),
    () => {},
  );
}

async function handle(request: Work, streamed: StreamedDkim | undefined): Promise<{ value: unknown; transfer: ArrayBuffer[] }> {
  if (!checks) throw new Error('inbound checks are off');
  const c = await checks();
  if (request.kind === 'spf') return { value: await c.spf(request.input), transfer: [] };
  const input: VerifyInput = { ...request.input, message: fromWire(request.input.message), ...(streamed ? { streamed } : {}) };
  const verdict = await c.verify(input); // rejects with BodyNeeded (code EBODYNEEDED) for a header block that will not do
  if (request.input.size !== undefined) {
    // The header block alone came: our fields go back, the header block only when it changed (client.ts withCleanedHeader).
    const { message, ...rest } = verdict;
    return { value: { ...rest, ...(verdict.removed > 0 ? { message: new Uint8Array(bodyHead(message)) } : {}) } satisfies HeaderVerdict, transfer: [] };
  }
  const message = toWire(verdict.message);
  // The message (or a spooled one's prefix) goes back without a copy when it owns its memory.
  const bytes = message instanceof Uint8Array ? message : message.prefix;
  const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return { value: { ...verdict, message }, transfer: own ? [bytes.buffer as ArrayBuffer] : [] };
}

async function verifier(s: VerifySettings) {
  const { inboundChecks } = await import('../mailauth/inbound.ts');
  return inboundChecks(s, (failure) => dnsFailures.push(failure));
}
