// The offload thread's own memory: after a burst of checks its heap is collected once the thread
// is quiet (quiet-gc.ts in the thread), not left grown until the next burst.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { VerifySettings } from '../../../src/mailauth/inbound.ts';
import type { Answer, Request } from '../../../src/offload/client.ts';
import { checkSettings, senderDns } from '../../helpers/checks-fixture.ts';
import { waitFor } from '../../helpers/wait.ts';

/** A DKIM-signed message (so the checks read and hash the whole body) of about `size` bytes. */
function signedMessage(size: number, n: number): Buffer {
  const line = `${'x'.repeat(76)}\r\n`;
  const head =
    `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=sender.test; s=s${n}; h=from:to:subject; bh=AAAA; b=AAAA\r\n` +
    'From: a@sender.test\r\nTo: b@example.test\r\nSubject: burst\r\n\r\n';
  return Buffer.from(head + line.repeat(Math.ceil(size / line.length)));
}

test('after a burst of checks the thread collects its heap once it is quiet', { timeout: 60_000 }, async () => {
  const dns = await senderDns();
  const settings: { verify: VerifySettings } = {
    verify: checkSettings(dns.address, 20_000),
  };
  // The thread as client.ts starts it, so the test can read its heap.
  const worker = new Worker(new URL('../../../src/offload/thread.ts', import.meta.url), {
    workerData: settings,
    resourceLimits: { maxYoungGenerationSizeMb: 8 },
  });
  try {
    await once(worker, 'online');
    const answers = new Map<number, (a: Answer) => void>();
    worker.on('message', (a: Answer) => answers.get(a.id)?.(a));
    const check = (id: number, message: Buffer) =>
      new Promise<Answer>((resolve) => {
        answers.set(id, resolve);
        const request: Request = { kind: 'verify', id, input: { message, ip: '192.0.2.1', helo: 'mail.sender.test', sender: 'a@sender.test' } };
        worker.postMessage(request);
      });
    // Enough work for the thread's loop to count as a burst (quiet-gc.ts: 500 ms busy), each
    // message's canonicalized body left as garbage.
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => check(i, signedMessage(4 * 1024 * 1024, i))));
    assert.ok(
      results.every((a) => a.ok),
      'every check answered',
    );
    const afterBurst = await worker.getHeapStatistics();
    await waitFor(async () => (await worker.getHeapStatistics()).total_heap_size < afterBurst.total_heap_size * 0.7, {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: `the thread's heap (${Math.round(afterBurst.total_heap_size / 2 ** 20)} MiB after the burst) to shrink by 30 %`,
    });
  } finally {
    await worker.terminate();
    await dns.close();
  }
});
