// Entry point of the Maildir thread (started by maildir-thread.ts): runs createMaildirWriter's
// writes as they come and answers each one. Its file-system calls and their completions keep
// this thread's event loop busy instead of the one that serves SMTP sessions.
import { parentPort } from 'node:worker_threads';
import { createMaildirWriter } from './maildir.ts';
import type { WriteAnswer, WriteRequest } from './maildir-thread.ts';

const port = parentPort;
if (!port) throw new Error('maildir-thread-main.ts runs only as a worker thread');
const write = createMaildirWriter();
port.on('message', (request: WriteRequest) => {
  write(request.dir, request.name, request.parts).then(
    (result) => port.postMessage({ id: request.id, result } satisfies WriteAnswer),
    (err: NodeJS.ErrnoException) => port.postMessage({ id: request.id, error: { message: err.message, ...(err.code ? { code: err.code } : {}) } } satisfies WriteAnswer),
  );
});
