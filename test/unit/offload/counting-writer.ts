// A Maildir writer thread that tells how its writes came, for writers.test.ts: the real thread
// (writer-thread.ts, its listener first), and each message's count of writes appended to
// batches.log in the first write's Maildir.
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { parentPort } from 'node:worker_threads';
import '../../../src/offload/writer-thread.ts';
import type { WriteBatch } from '../../../src/offload/writers.ts';

parentPort?.on('message', (requests: WriteBatch) => {
  const first = requests[0];
  if (!first) return;
  mkdirSync(first.dir, { recursive: true });
  appendFileSync(path.join(first.dir, 'batches.log'), `${requests.length}\n`);
});
