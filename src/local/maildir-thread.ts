// Maildir writes in a worker thread: the same writer (maildir.ts), with its file-system calls off
// the event loop that serves SMTP sessions. A write that the thread cannot answer (it died)
// fails like a file-system error, so the message stays queued and is retried.
import { Worker } from 'node:worker_threads';
import type { MaildirWrite } from './maildir.ts';

export interface WriteRequest {
  id: number;
  dir: string;
  name: string;
  parts: readonly Uint8Array[];
}

export type WriteAnswer = { id: number; result: 'written' | 'exists' } | { id: number; error: { message: string; code?: string } };

export interface MaildirThread {
  write: MaildirWrite;
  /** Ends the thread after the writes in flight are answered. */
  close(): Promise<void>;
}

export function startMaildirThread(): MaildirThread {
  const worker = new Worker(new URL('./maildir-thread-main.ts', import.meta.url));
  worker.unref();
  const waiting = new Map<number, { resolve: (r: 'written' | 'exists') => void; reject: (e: Error) => void }>();
  let next = 0;
  let dead: Error | undefined;
  const failAll = (err: Error) => {
    dead = err;
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  };
  worker.on('message', (answer: WriteAnswer) => {
    const w = waiting.get(answer.id);
    if (!w) return;
    waiting.delete(answer.id);
    if (waiting.size === 0) worker.unref();
    if ('result' in answer) w.resolve(answer.result);
    else w.reject(Object.assign(new Error(answer.error.message), answer.error.code ? { code: answer.error.code } : {}));
  });
  worker.on('error', (err) => failAll(new Error(`the Maildir thread failed: ${err.message}`)));
  worker.on('exit', (code) => failAll(new Error(`the Maildir thread exited (code ${code})`)));
  return {
    write(dir, name, parts) {
      if (dead) return Promise.reject(dead);
      const id = next++;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        worker.ref(); // a write in flight keeps the process alive
        // A view is cloned with its whole buffer (a small Buffer shares an 8 KiB pool): send exact copies of views.
        const exact = parts.map((p) => (p.byteOffset === 0 && p.byteLength === p.buffer.byteLength ? p : new Uint8Array(p)));
        worker.postMessage({ id, dir, name, parts: exact } satisfies WriteRequest);
      });
    },
    async close() {
      while (waiting.size > 0 && !dead) {
        await new Promise<void>((resolve) => worker.once('message', () => setImmediate(resolve)));
      }
      await worker.terminate();
    },
  };
}
