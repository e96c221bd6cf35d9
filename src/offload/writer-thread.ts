// Entry point of a Maildir writer thread (started by writers.ts): answers each write with
// local/maildir.ts's writer, as the event loop would run it, its error with the file system's
// code (ENOSPC, EDQUOT …). Writes run concurrently: the synchronous metadata calls one after
// another on this thread, the fsyncs in the pool. Collects its own heap after each burst
// (quiet-gc.ts: this thread has its own V8 heap and event loop).
import { parentPort } from 'node:worker_threads';
import { startQuietGc } from '../core/quiet-gc.ts';
import { toWireError } from '../core/wire-error.ts';
import { createMaildirWriter } from '../local/maildir.ts';
import type { WriteAnswer, WriteRequest } from './writers.ts';

const port = parentPort;
if (!port) throw new Error('offload/writer-thread.ts runs only as a worker thread');
const write = createMaildirWriter();
startQuietGc();

port.on('message', (request: WriteRequest) => {
  write(request.dir, request.name, request.parts).then(
    (value) => port.postMessage({ id: request.id, ok: true, value } satisfies WriteAnswer),
    (err: unknown) => port.postMessage({ id: request.id, ok: false, error: toWireError(err) } satisfies WriteAnswer),
  );
});
