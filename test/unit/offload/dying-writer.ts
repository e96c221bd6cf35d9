// A Maildir writer thread that can be made to die, for writers.test.ts: the real thread
// (writer-thread.ts, its listener first), and a write named "die" ends it with exit code 3 before
// that write, or any other still waiting for its fsync, is answered.
import { parentPort } from 'node:worker_threads';
import '../../../src/offload/writer-thread.ts';
import type { WriteBatch } from '../../../src/offload/writers.ts';

parentPort?.on('message', (requests: WriteBatch) => {
  if (requests.some((r) => r.name === 'die')) process.exit(3);
});
