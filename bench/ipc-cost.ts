// The cost of [server] processes > 1 for the primary, per message (a micro-measurement, not a
// timed test): the CPU the primary spends receiving one message over the node:cluster channel
// (structured clone) and answering, against the CPU it spends committing one message to the
// queue (QueueStore.enqueue with its group commit), 20 messages in flight as with 20 sessions.
//   node bench/ipc-cost.ts [messages] [bodyBytes]     (loopback-free: no sockets, a temp data dir)
import cluster from 'node:cluster';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ToPrimary, ToWorker } from '../src/cluster/protocol.ts';
import { MIGRATIONS_DIR, openDb } from '../src/db/open.ts';
import { newQueueId } from '../src/queue/ids.ts';
import type { NewMessage } from '../src/queue/message.ts';
import { DEFAULT_RETRY } from '../src/queue/schedule.ts';
import { QueueStore } from '../src/queue/store.ts';

const N = Number(process.argv[2] ?? 5000);
const SIZE = Number(process.argv[3] ?? 10240);
const IN_FLIGHT = 20;

function message(i: number): NewMessage {
  return {
    id: newQueueId(),
    receivedAt: Date.now(),
    sender: 'carol@remote.test',
    body: Buffer.alloc(SIZE, 97 + (i % 26)),
    smtputf8: false,
    eightBit: false,
    origin: 'smtp',
    clientIp: '192.0.2.1',
    helo: 'client.remote.test',
    subject: `message ${i}`,
    recipients: [{ rcpt: 'alice@example.test', address: 'alice@example.test', transport: 'local' }],
  };
}

/** Runs `one` N times, IN_FLIGHT at once; the CPU (user + system) of this process per call, in µs, and the wall time. */
async function measure(one: (i: number) => Promise<void>): Promise<{ cpuUs: number; wallMs: number }> {
  const cpu = process.cpuUsage();
  const began = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < N) await one(next++);
    }),
  );
  const used = process.cpuUsage(cpu);
  return { cpuUs: (used.user + used.system) / N, wallMs: performance.now() - began };
}

if (cluster.isWorker) {
  // The session process's side: sends N messages as calls and waits for each answer.
  const waiting = new Map<number, () => void>();
  process.on('message', (m: ToWorker) => {
    if (m.t === 'answer') waiting.get(m.id)?.();
  });
  let id = 0;
  const result = await measure(
    (i) =>
      new Promise<void>((resolve) => {
        const callId = ++id;
        waiting.set(callId, resolve);
        process.send?.({ t: 'call', id: callId, call: { kind: 'enqueue', message: message(i) } } satisfies ToPrimary);
      }),
  );
  process.send?.({ t: 'note', note: { kind: 'failed', message: JSON.stringify(result) } } satisfies ToPrimary);
  process.disconnect();
} else {
  // IPC: the primary answers each call at once (no queue): its CPU is the channel's cost.
  cluster.setupPrimary({ serialization: 'advanced' });
  const worker = cluster.fork();
  const cpu = process.cpuUsage();
  const began = performance.now();
  const sender = await new Promise<string>((resolve) => {
    worker.on('message', (m: ToPrimary) => {
      if (m.t === 'call') worker.send({ t: 'answer', id: m.id, ok: true, value: null } satisfies ToWorker);
      else if (m.note.kind === 'failed') resolve(m.note.message);
    });
  });
  const used = process.cpuUsage(cpu);
  const ipc = { cpuUs: (used.user + used.system) / N, wallMs: performance.now() - began };
  // The queue: the same messages committed in this process, as the primary does for every one.
  const dir = mkdtempSync(path.join(tmpdir(), 'sealpost-ipc-'));
  const db = openDb(dir, MIGRATIONS_DIR);
  const store = new QueueStore(db, DEFAULT_RETRY);
  const enqueue = await measure((i) => store.enqueue(message(i)));
  db.close();
  rmSync(dir, { recursive: true, force: true });
  const f = (n: number) => n.toFixed(1);
  process.stdout.write(
    `${N} messages of ${SIZE} bytes, ${IN_FLIGHT} in flight\n` +
      `primary CPU per message, IPC receive + answer: ${f(ipc.cpuUs)} µs (wall ${f(ipc.wallMs)} ms)\n` +
      `session process CPU per message, IPC send + answer: ${f(JSON.parse(sender).cpuUs)} µs\n` +
      `primary CPU per message, enqueue + group commit: ${f(enqueue.cpuUs)} µs (wall ${f(enqueue.wallMs)} ms)\n`,
  );
}
