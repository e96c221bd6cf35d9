// The Maildir writer threads, as the event loop sees it: a pool of worker threads (each named
// maildir-writer, entry writer-thread.ts) that run local/maildir.ts's writer, so the writes'
// file-system calls (≈ 1.2 ms of mostly kernel CPU per message) are spread over several cores
// instead of saturating one thread. `write` has the MaildirWrite signature.
//
// Which thread takes a write (pickWriter, pure): the one with the fewest writes in flight, and a
// new thread when every running one has a write in flight and its loop was busy more than half
// of the last sample (BUSY_UTILIZATION, the thread's event-loop utilization: its JavaScript and
// synchronous file-system calls, not the fsyncs it waits for), and there is room. So threads are
// added as the CPU work needs them, not because fsyncs keep writes waiting. Not by a hash of the mailbox: one
// mailbox can take most of the mail (a catch-all, a list archive, the bench's single mailbox), and
// a hash would put all of it on one thread, the very bottleneck this pool is for. Nothing needs a
// mailbox's writes in order: each message has its own file name (unique per message and
// recipient), a queue job is delivered by one worker at a time, and readers sort by date. What a
// mailbox spread over threads costs is fsyncs of new/: each thread shares one between its own
// renames (maildir.ts groupSync), not with the other threads'.
//
// Threads start at the first write that finds no idle one; an idle thread ends after
// EXTRA_IDLE_MS when another still runs, the last after LAST_IDLE_MS; after each end glibc is
// given the freed memory back (malloc-trim.ts). A thread that dies fails its writes in flight (a
// file-system error to the courier: the message stays queued) and the next write starts another.
//
// The writes given to a thread in one turn of the loop cross in one message (an array), and the
// thread answers those finished in one of its turns in one: each message is a wake-up of the
// other thread, and the writes of a group commit's round are handed out together.
import type { EventLoopUtilization } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { mallocTrim } from '../core/malloc-trim.ts';
import { fromWireError, type WireError } from '../core/wire-error.ts';
import type { MaildirPart, MaildirWrite } from '../local/maildir.ts';
import { exact, perTurn, threadEntry } from './threads.ts';

/** A write as it crosses to a thread. */
export interface WriteRequest {
  id: number;
  dir: string;
  name: string;
  parts: readonly MaildirPart[];
}

/** A thread's answer to one write: the writer's value, or its error with the file system's code. */
export type WriteAnswer = { id: number } & ({ ok: true; value: 'written' | 'exists' } | { ok: false; error: WireError });

/** What crosses to a thread (the writes of one turn) and back (the answers of one of its turns). */
export type WriteBatch = readonly WriteRequest[];
export type AnswerBatch = readonly WriteAnswer[];

/** An idle thread ends after this while another runs (ms). */
export const EXTRA_IDLE_MS = 5000;
/** The last thread ends after this idle (ms): a daemon that receives now and then keeps one ready. */
export const LAST_IDLE_MS = 100_000;
/** A thread whose loop was busy more than this share of the last sample counts as loaded: another may start. */
export const BUSY_UTILIZATION = 0.5;
/** A thread's utilization is sampled at most this often (ms), at a write. */
const SAMPLE_MS = 100;
/** [local] maildir_threads = "auto" takes at most this many (and at least one). */
export const AUTO_MAX_THREADS = 8;

/** [local] maildir_threads: a number as it is, "auto" half the CPUs, from 1 to AUTO_MAX_THREADS. Pure. */
export function maildirThreadCount(setting: number | 'auto', cpus: number): number {
  if (setting !== 'auto') return setting;
  return Math.min(AUTO_MAX_THREADS, Math.max(1, Math.floor(cpus / 2)));
}

/** Where the next write goes: a new thread, or the running thread at `index`. */
export type WriterPick = { kind: 'start' } | { kind: 'thread'; index: number };

/** A running thread as pickWriter sees it: its writes in flight, and its loop's last utilization (0–1). */
export interface WriterLoad {
  inFlight: number;
  utilization: number;
}

/**
 * `threads`: the running threads, in the order they started. The one with the fewest writes in
 * flight takes the write (the first of equals: under a light load one thread does it all and the
 * others end); when even that one has a write in flight, every one is loaded (utilization above
 * `busy`) and fewer than `most` run, a new thread does. Pure.
 */
export function pickWriter(threads: readonly WriterLoad[], most: number, busy = BUSY_UTILIZATION): WriterPick {
  let best = -1;
  let least = Number.POSITIVE_INFINITY;
  threads.forEach((t, i) => {
    if (t.inFlight < least) {
      least = t.inFlight;
      best = i;
    }
  });
  if (best < 0) return { kind: 'start' };
  if (least > 0 && threads.length < most && threads.every((t) => t.utilization > busy)) return { kind: 'start' };
  return { kind: 'thread', index: best };
}

export interface MaildirWritersOptions {
  /** Threads at most (maildirThreadCount). */
  threads: number;
  /** Above this utilization a thread counts as loaded (default BUSY_UTILIZATION; -1: always, as tests use). */
  busyUtilization?: number;
  extraIdleMs?: number;
  lastIdleMs?: number;
  /** After a thread has ended; default: malloc_trim (malloc-trim.ts). */
  trim?: () => void;
  /** Told when a thread dies (not when it ends idle or at close): why. */
  onDied?: (reason: string) => void;
  /** The threads' entry file; default writer-thread.ts beside this module (tests swap it). */
  entry?: URL;
}

export interface MaildirWriters {
  write: MaildirWrite;
  /** The writes in flight of each running thread (for tests and the bench). */
  inFlight(): number[];
  /** Waits for the writes in flight, then ends every thread; later writes fail. */
  close(): Promise<void>;
}

interface WriterThread {
  worker: Worker;
  waiting: Map<number, { resolve: (value: 'written' | 'exists') => void; reject: (e: Error) => void }>;
  /** Sends a write with the others of this turn, at the next (perTurn). */
  send: (request: WriteRequest) => void;
  timer?: NodeJS.Timeout;
  /** Ended on purpose (idle, close): not a death. */
  ending: boolean;
  /** The loop's utilization over the last sample, and where that sample started. */
  utilization: number;
  sample: { at: number; elu: EventLoopUtilization } | undefined;
}

/** The thread's utilization, sampled again when the last sample is SAMPLE_MS old (its first once it is online). */
function loadOf(t: WriterThread, now: number): WriterLoad {
  const { performance } = t.worker;
  if (!t.sample) t.sample = { at: now, elu: performance.eventLoopUtilization() };
  else if (now - t.sample.at >= SAMPLE_MS) {
    const elu = performance.eventLoopUtilization();
    t.utilization = performance.eventLoopUtilization(elu, t.sample.elu).utilization;
    t.sample = { at: now, elu };
  }
  return { inFlight: t.waiting.size, utilization: t.utilization };
}

export function startMaildirWriters(o: MaildirWritersOptions): MaildirWriters {
  const extraIdleMs = o.extraIdleMs ?? EXTRA_IDLE_MS;
  const lastIdleMs = o.lastIdleMs ?? LAST_IDLE_MS;
  const trim = o.trim ?? mallocTrim();
  const entry = o.entry ?? threadEntry('writer-thread', import.meta.url);
  /** The running threads, in the order they started. */
  const threads: WriterThread[] = [];
  const exits = new Set<Promise<unknown>>();
  const pending = new Set<Promise<unknown>>();
  let next = 0;
  let closed = false;

  const leave = (t: WriterThread) => {
    clearTimeout(t.timer);
    const at = threads.indexOf(t);
    if (at >= 0) threads.splice(at, 1);
  };
  const end = (t: WriterThread) => {
    t.ending = true;
    leave(t);
    const exit = t.worker.terminate();
    exits.add(exit);
    void exit.finally(() => exits.delete(exit));
  };
  /** Idle: unref'd, and an end timer (a second wait up to LAST_IDLE_MS when it turns out to be the last). */
  const idle = (t: WriterThread) => {
    t.worker.unref();
    clearTimeout(t.timer);
    t.timer = setTimeout(() => {
      if (t.waiting.size > 0) return;
      if (threads.length > 1 || !threads.includes(t)) return end(t);
      t.timer = setTimeout(() => t.waiting.size === 0 && end(t), Math.max(0, lastIdleMs - extraIdleMs));
      t.timer.unref();
    }, extraIdleMs);
    t.timer.unref();
  };

  const start = (): WriterThread => {
    const worker = new Worker(entry, {
      name: 'maildir-writer',
      // As client.ts's thread: a small young generation keeps the start-up garbage from staying resident.
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    });
    const t: WriterThread = { worker, waiting: new Map(), send: () => {}, ending: false, utilization: 0, sample: undefined };
    t.send = perTurn((batch) => send(t, batch));
    let failure: string | undefined;
    worker.on('message', (answers: AnswerBatch) => {
      for (const answer of answers) {
        const w = t.waiting.get(answer.id);
        if (!w) continue;
        t.waiting.delete(answer.id);
        if (answer.ok) w.resolve(answer.value);
        else w.reject(fromWireError(answer.error));
      }
      if (t.waiting.size === 0) idle(t);
    });
    worker.on('error', (err) => {
      failure = `the Maildir writer thread failed: ${err.message}`;
    });
    worker.on('exit', (code) => {
      leave(t);
      const reason = failure ?? `the Maildir writer thread exited (code ${code})`;
      // A file-system error to the courier (no code: 4.3.0), so the message stays queued.
      for (const w of t.waiting.values()) w.reject(new Error(reason));
      t.waiting.clear();
      if (!t.ending) o.onDied?.(reason);
      trim();
    });
    threads.push(t);
    return t;
  };

  const send = (t: WriterThread, batch: WriteRequest[]) => {
    try {
      t.worker.postMessage(batch satisfies WriteBatch);
    } catch {
      // One write spoils the batch: each on its own, so only that one fails.
      for (const request of batch) {
        try {
          t.worker.postMessage([request] satisfies WriteBatch);
        } catch (err) {
          // Not sent (a part that cannot be cloned: a bug of the caller): nothing waits for it.
          t.waiting.get(request.id)?.reject(err as Error);
          t.waiting.delete(request.id);
        }
      }
    }
    if (t.waiting.size === 0) idle(t);
  };

  const write: MaildirWrite = (dir, name, parts) => {
    if (closed) return Promise.reject(new Error('the Maildir writer threads are closed'));
    const now = performance.now();
    const pick = pickWriter(
      threads.map((t) => loadOf(t, now)),
      o.threads,
      o.busyUtilization,
    );
    const t = pick.kind === 'start' ? start() : (threads[pick.index] as WriterThread);
    clearTimeout(t.timer);
    const id = next++;
    const written = new Promise<'written' | 'exists'>((resolve, reject) => {
      t.waiting.set(id, { resolve, reject });
      t.worker.ref(); // a write in flight keeps the process alive
      t.send({ id, dir, name, parts: parts.map((p) => (p instanceof Uint8Array ? exact(p) : p)) });
    });
    const settled = written.catch(() => undefined).finally(() => pending.delete(settled));
    pending.add(settled);
    return written;
  };

  return {
    write,
    inFlight: () => threads.map((t) => t.waiting.size),
    async close() {
      closed = true;
      await Promise.all(pending);
      for (const t of [...threads]) end(t);
      await Promise.all(exits);
    },
  };
}
