// Entry point of the offload thread (started by client.ts): answers Maildir writes, SPF at MAIL
// FROM, the lookups a header block names (as the body streams) and inbound checks as they come, each with the same code the event loop would run (maildir.ts, verify.ts).
// Builds its own DNS resolver and cache from the settings it is given.
import { parentPort, workerData } from 'node:worker_threads';
import { cachingResolver } from '../dns/cache.ts';
import { createNodeResolver } from '../dns/node-resolver.ts';
import { createMaildirWriter } from '../local/maildir.ts';
import { warmUp } from '../mailauth/checks.ts';
import { mailauthResolver } from '../mailauth/resolver.ts';
import { createInboundVerifier, createSpfCheck, type VerifyInput } from '../mailauth/verify.ts';
import { type Answer, fromWire, type Request, toWire, type VerifySettings } from './client.ts';

const port = parentPort;
if (!port) throw new Error('offload/thread.ts runs only as a worker thread');
const settings = workerData as { verify?: VerifySettings };
const write = createMaildirWriter();
const checks = settings.verify && verifier(settings.verify);

port.on('message', (request: Request) => {
  handle(request).then(
    ({ value, transfer }) => port.postMessage({ id: request.id, ok: true, value } satisfies Answer, transfer),
    (err: NodeJS.ErrnoException) =>
      port.postMessage({ id: request.id, ok: false, error: { message: err.message, ...(err.code ? { code: err.code } : {}) } } satisfies Answer),
  );
});

async function handle(request: Request): Promise<{ value: unknown; transfer: ArrayBuffer[] }> {
  if (request.kind === 'maildir') return { value: await write(request.dir, request.name, request.parts), transfer: [] };
  if (!checks) throw new Error('inbound checks are off');
  if (request.kind === 'spf') return { value: await checks.spf(request.input), transfer: [] };
  if (request.kind === 'warm') {
    checks.warm(Buffer.from(request.header.buffer, request.header.byteOffset, request.header.byteLength));
    return { value: null, transfer: [] };
  }
  const input: VerifyInput = { ...request.input, message: fromWire(request.input.message) };
  const verdict = await checks.verify(input);
  const message = toWire(verdict.message);
  // The message (or a spooled one's prefix) goes back without a copy when it owns its memory.
  const bytes = message instanceof Uint8Array ? message : message.prefix;
  const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return { value: { ...verdict, message }, transfer: own ? [bytes.buffer as ArrayBuffer] : [] };
}

function verifier(s: VerifySettings) {
  const cache = cachingResolver(createNodeResolver(s.dns), { now: Date.now });
  const resolver = mailauthResolver(cache, cache);
  return {
    verify: createInboundVerifier({ hostname: s.hostname, resolver, dmarcReject: s.dmarcReject, timeoutMs: s.timeoutMs }),
    spf: createSpfCheck({ hostname: s.hostname, resolver }),
    warm: (header: Buffer) => warmUp(header, resolver),
  };
}
