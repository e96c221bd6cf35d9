// A streamed DKIM verifier usable at once, before the checks that make it are loaded (mailauth is
// loaded at the first message where the checks run): its chunks are kept in order and handed on
// once it exists; if it cannot be made, they are let go and finish() rejects (the check then
// verifies the message whole). No mailauth here: importing this loads nothing.
//
//   streamWhenReady(promiseOfStreamedDkim) → StreamedDkim
import type { StreamedDkim } from './verify.ts';

export function streamWhenReady(made: Promise<StreamedDkim>): StreamedDkim {
  let ready: StreamedDkim | undefined;
  let queue: [Buffer, (() => void) | undefined][] = [];
  let aborted = false;
  const started = made.then((s) => {
    ready = s;
    for (const [chunk, taken] of queue) s.push(chunk, taken);
    queue = [];
    if (aborted) s.abort();
    return s;
  });
  // finish() rejects with it (the check then verifies the message whole); nobody waits for the queued chunks.
  started.catch(() => {
    for (const [, taken] of queue) taken?.();
    queue = [];
    aborted = true;
  });
  return {
    push: (chunk, taken) => (ready ? ready.push(chunk, taken) : aborted ? taken?.() : void queue.push([chunk, taken])),
    finish: async (message) => (await started).finish(message),
    abort: () => {
      aborted = true;
      queue = [];
      ready?.abort();
    },
  };
}
