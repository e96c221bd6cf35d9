// Entry point of a Maildir writer thread (started by writers.ts): answers each write with
// local/maildir.ts's writer, as the event loop would run it, its error with the file system's
// code (ENOSPC, EDQUOT …); the writes come in batches (writers.ts), and the answers finished in one
// turn go back in one message. Writes run concurrently: the synchronous metadata calls one after
// another on this thread, the fsyncs in the pool. Collects its own heap after each burst
// (quiet-gc.ts: this thread has its own V8 heap and event loop).
import { parentPort } from 'node:worker_threads';
import { startQuietGc } from '../core/quiet-gc.ts';
import { toWireError } from '../core/wire-error.ts';
import { createMaildirWriter } from '../local/maildir.ts';
import { perTurn } from './threads.ts';
import type { AnswerBatch, WriteAnswer, WriteBatch } from './writers.ts';

const port = parentPort;
if (!port) throw new Error('offload/writer-thread.ts runs only as a worker thread');
const write = createMaildirWriter();
startQuietGc();

const answer = perTurn<WriteAnswer>((answers) => port.postMessage(answers satisfies AnswerBatch));

port.on('message', (requests: WriteBatch) => {
  for (const request of requests) {
    write(request.dir, request.name, request.parts).then(
      (value) => answer({ id: request.id, ok: true, value }),
      (err: unknown) => answer({ id: request.id, ok: false, error: toWireError(err) }),
    );
  }
});
