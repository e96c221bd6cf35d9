// The offload thread, as the event loop sees it: one worker thread for the per-message work that
// would otherwise hold up every SMTP session: Maildir writes (their file-system calls) and the
// SPF/DKIM/DMARC checks of inbound mail (mailauth's parsing, DNS through its own cache; SPF asked
// for at MAIL FROM, the rest at the end of DATA with that SPF result handed back). One thread
// for both, since each thread costs its own ~15 MB. A request the thread cannot answer (it died)
// fails: a Maildir write as a file-system error (the message stays queued), a check as "none".
import { Worker } from 'node:worker_threads';
import { isSpooled, type MessageBody } from '../core/body.ts';
import type { NodeResolverOptions } from '../dns/node-resolver.ts';
import type { MaildirPart, MaildirWrite } from '../local/maildir.ts';
import { checksFailed } from '../mailauth/results.ts';
import type { SPFResult, SpfInput, Verdict, VerifyInput } from '../mailauth/verify.ts';

/** What the thread needs to check inbound mail (see createInboundVerifier); absent: no checks. */
export interface VerifySettings {
  hostname: string;
  dns: NodeResolverOptions;
  dmarcReject: boolean;
  timeoutMs: number;
}

/**
 * A body as it crosses to the thread: bytes, or a spooled body whose prefix is bytes; the thread
 * reads the file itself (a 49 MiB message is never copied through postMessage).
 */
export type WireBody = Uint8Array | { kind: 'spooled'; prefix: Uint8Array; file: string; offset: number; size: number };

type Work =
  | { kind: 'maildir'; dir: string; name: string; parts: readonly MaildirPart[] }
  | { kind: 'verify'; input: Omit<VerifyInput, 'message'> & { message: WireBody } }
  | { kind: 'spf'; input: SpfInput }
  | { kind: 'warm'; header: Uint8Array };

export type Request = Work & { id: number };

export type Answer = { id: number } & ({ ok: true; value: unknown } | { ok: false; error: { message: string; code?: string } });

export interface Offload {
  write: MaildirWrite;
  /** Present when the thread was started with VerifySettings. */
  verify?: (input: VerifyInput) => Promise<Verdict>;
  /** SPF alone, started at MAIL FROM (with verify); undefined when the thread could not answer (verify then evaluates it). */
  spf?: (input: SpfInput) => Promise<SPFResult | undefined>;
  /** The header block has arrived: the thread starts the DMARC and DKIM key lookups it names (nothing to wait for). */
  warm?: (header: Buffer) => void;
  /** Ends the thread after the requests in flight are answered. */
  close(): Promise<void>;
}

export function startOffloadThread(settings: { verify?: VerifySettings } = {}): Offload {
  const worker = new Worker(new URL(`./thread${extensionOf(import.meta.url)}`, import.meta.url), {
    workerData: settings,
    // A small young generation: with the default, the thread's start-up garbage keeps ~10 MB more resident.
    resourceLimits: { maxYoungGenerationSizeMb: 8 },
  });
  worker.unref();
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (e: Error) => void }>();
  let next = 0;
  let dead: Error | undefined;
  const failAll = (err: Error) => {
    dead = err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  worker.on('message', (answer: Answer) => {
    const w = waiting.get(answer.id);
    if (!w) return;
    waiting.delete(answer.id);
    if (waiting.size === 0) worker.unref();
    if (answer.ok) w.resolve(answer.value);
    else w.reject(Object.assign(new Error(answer.error.message), answer.error.code ? { code: answer.error.code } : {}));
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

  const checks = settings.verify;
  return {
    write: (dir, name, parts) => call({ kind: 'maildir', dir, name, parts: parts.map((p) => (p instanceof Uint8Array ? exact(p) : p)) }),
    ...(checks
      ? {
          verify: async (input: VerifyInput): Promise<Verdict> => {
            try {
              const verdict = await call<Omit<Verdict, 'message'> & { message: WireBody }>({
                kind: 'verify',
                input: { ...input, message: toWire(input.message) },
              });
              return { ...verdict, message: fromWire(verdict.message) };
            } catch (err) {
              return checksFailed(checks.hostname, input.message, (err as Error).message);
            }
          },
          spf: (input: SpfInput) => within(call<SPFResult>({ kind: 'spf', input }), checks.timeoutMs),
          warm: (header: Buffer) => void call({ kind: 'warm', header: exact(header) }).catch(() => {}),
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

/** The value, or undefined when it fails or takes longer than `ms` (the timer does not hold the process). */
function within<T>(work: Promise<T>, ms: number): Promise<T | undefined> {
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

/** A view is cloned with its whole buffer (a small Buffer shares an 8 KiB pool): an exact copy of a view. */
function exact<T extends Uint8Array>(bytes: T): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
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

/** The extension this module runs under (.js from dist/, .ts from the sources), for the thread's entry file. */
function extensionOf(url: string): string {
  return url.slice(url.lastIndexOf('.'));
}
