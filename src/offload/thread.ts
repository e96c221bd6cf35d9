// Entry point of the offload thread (started by client.ts): answers Maildir writes and inbound
// checks as they come, each with the same code the event loop would run (maildir.ts, verify.ts).
// Builds its own DNS resolver and cache from the settings it is given; collects its own heap after
// each burst (quiet-gc.ts: this thread has its own V8 heap and event loop).
import { parentPort, workerData } from 'node:worker_threads';
import { startQuietGc } from '../core/quiet-gc.ts';
import { cachingResolver } from '../dns/cache.ts';
import { createNodeResolver } from '../dns/node-resolver.ts';
import { createMaildirWriter } from '../local/maildir.ts';
import { mailauthResolver } from '../mailauth/resolver.ts';
import { createInboundVerifier, type VerifyInput } from '../mailauth/verify.ts';
import { type Answer, fromWire, type Request, toWire, type VerifySettings } from './client.ts';

const port = parentPort;
if (!port) throw new Error('offload/thread.ts runs only as a worker thread');
const settings = workerData as { verify?: VerifySettings };
const write = createMaildirWriter();
const verify = settings.verify && verifier(settings.verify);
// After a burst of checks or Maildir writes (the checked bodies, mailauth's parse of them), once
// this thread's loop is quiet: one full collection, as the event loop does for its own heap.
startQuietGc();

port.on('message', (request: Request) => {
  handle(request).then(
    ({ value, transfer }) => port.postMessage({ id: request.id, ok: true, value } satisfies Answer, transfer),
    (err: NodeJS.ErrnoException) =>
      port.postMessage({ id: request.id, ok: false, error: { message: err.message, ...(err.code ? { code: err.code } : {}) } } satisfies Answer),
  );
});

async function handle(request: Request): Promise<{ value: unknown; transfer: ArrayBuffer[] }> {
  if (request.kind === 'maildir') return { value: await write(request.dir, request.name, request.parts), transfer: [] };
  if (!verify) throw new Error('inbound checks are off');
  const input: VerifyInput = { ...request.input, message: fromWire(request.input.message) };
  const verdict = await verify(input);
  const message = toWire(verdict.message);
  // The message (or a spooled one's prefix) goes back without a copy when it owns its memory.
  const bytes = message instanceof Uint8Array ? message : message.prefix;
  const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return { value: { ...verdict, message }, transfer: own ? [bytes.buffer as ArrayBuffer] : [] };
}

function verifier(s: VerifySettings) {
  const resolver = cachingResolver(createNodeResolver(s.dns), { now: Date.now });
  return createInboundVerifier({ hostname: s.hostname, resolver: mailauthResolver(resolver, resolver), dmarcReject: s.dmarcReject, timeoutMs: s.timeoutMs });
}
