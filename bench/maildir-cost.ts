// The cost of a Maildir write in the writer threads (offload/writers.ts), a micro-measurement, not
// a timed test: 20 writes in flight (the local worker's concurrency) into a temp dir, with 1, 2
// and 4 threads (each count in turn, --rounds times, added up; every thread started, whatever its
// load). For each: the CPU (user + system,
// from /proc/self/task/*/stat by thread name) of the maildir-writer threads per message, of the
// busiest of them, of libuv's pool (the fsyncs) and of the event loop (the posting), and the rate
// at which the busiest thread would be saturated (messages ÷ its CPU seconds).
//   node bench/maildir-cost.ts [--messages 2000] [--size 10240] [--threads 1,2,4] [--rounds 2]
//                              [--mailboxes 1] [--in-flight 20] [--dir DIR]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startMaildirWriters } from '../src/offload/writers.ts';
import { threadsOf } from './proc.ts';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '2000' },
    size: { type: 'string', default: '10240' },
    threads: { type: 'string', default: '1,2,4' },
    rounds: { type: 'string', default: '2' },
    mailboxes: { type: 'string', default: '1' },
    'in-flight': { type: 'string', default: '20' },
    dir: { type: 'string', default: tmpdir() },
  },
});
const MESSAGES = Number(values.messages);
const SIZE = Number(values.size);
const COUNTS = values.threads.split(',').map(Number);
const ROUNDS = Number(values.rounds);
const MAILBOXES = Number(values.mailboxes);
const IN_FLIGHT = Number(values['in-flight']);
/** CPU milliseconds (user + system) of each thread of this process, by thread id, with its name (proc.ts). */
function threadCpu(): Map<number, { name: string; ms: number }> {
  return new Map((threadsOf(process.pid) ?? []).map((t) => [t.tid, { name: t.name, ms: t.cpuMs }]));
}

interface Figures {
  messages: number;
  wallMs: number;
  writerMs: number;
  busiestMs: number;
  poolMs: number;
  loopMs: number;
  threadsSeen: number;
}

async function run(threads: number, root: string): Promise<Figures> {
  const writers = startMaildirWriters({ threads, busyUtilization: -1, extraIdleMs: 600_000, lastIdleMs: 600_000, trim: () => undefined });
  const dirs = Array.from({ length: MAILBOXES }, (_, i) => path.join(root, `t${threads}`, `box${i}`));
  const body = Buffer.alloc(SIZE, 'x');
  const trace = (i: number) => Buffer.from(`Return-Path: <a@remote.test>\r\nDelivered-To: box${i % MAILBOXES}@example.test\r\n`);
  let n = 0;
  const writeMany = async (count: number, tag: string) => {
    let next = 0;
    const lane = async () => {
      while (next < count) {
        const i = next++;
        await writers.write(dirs[i % MAILBOXES] as string, `${Math.floor(Date.now() / 1000)}.${tag}${n++}.bench,S=${SIZE}`, [trace(i), body]);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  };
  // Every thread started and every Maildir made before the measurement.
  await writeMany(IN_FLIGHT * threads * 2, 'warm');
  const before = threadCpu();
  const loopBefore = process.cpuUsage();
  const began = performance.now();
  await writeMany(MESSAGES, 'm');
  const wallMs = performance.now() - began;
  const loop = process.cpuUsage(loopBefore);
  const after = threadCpu();
  await writers.close();
  const used = (name: string) =>
    [...after]
      .filter(([, t]) => t.name === name)
      .map(([tid, t]) => t.ms - (before.get(tid)?.ms ?? 0))
      .filter((ms) => ms > 0);
  const writer = used('maildir-writer');
  const main = [...after].find(([, t]) => t.name === 'MainThread');
  const mainMs = main ? main[1].ms - (before.get(main[0])?.ms ?? 0) : 0;
  return {
    messages: MESSAGES,
    wallMs,
    writerMs: writer.reduce((a, b) => a + b, 0),
    busiestMs: Math.max(0, ...writer),
    poolMs: used('libuv-worker').reduce((a, b) => a + b, 0),
    // process.cpuUsage() is the whole process: the loop is the main thread's own ticks.
    loopMs: mainMs || (loop.user + loop.system) / 1000,
    threadsSeen: writer.length,
  };
}

const root = mkdtempSync(path.join(values.dir, 'sealpost-maildir-cost-'));
try {
  const totals = new Map<number, Figures>();
  for (let r = 0; r < ROUNDS; r++) {
    for (const threads of r % 2 === 0 ? COUNTS : [...COUNTS].reverse()) {
      const f = await run(threads, root);
      const t = totals.get(threads);
      totals.set(
        threads,
        t
          ? {
              messages: t.messages + f.messages,
              wallMs: t.wallMs + f.wallMs,
              writerMs: t.writerMs + f.writerMs,
              busiestMs: t.busiestMs + f.busiestMs,
              poolMs: t.poolMs + f.poolMs,
              loopMs: t.loopMs + f.loopMs,
              threadsSeen: Math.max(t.threadsSeen, f.threadsSeen),
            }
          : f,
      );
      rmSync(path.join(root, `t${threads}`), { recursive: true, force: true });
    }
  }
  console.log(`${MESSAGES} messages of ${SIZE} B × ${ROUNDS} rounds, ${IN_FLIGHT} in flight, ${MAILBOXES} mailbox(es), in ${values.dir}`);
  console.log('threads  writers ms/msg  busiest ms/msg  saturates at msg/s  libuv pool ms/msg  loop ms/msg  wall msg/s');
  for (const threads of COUNTS) {
    const f = totals.get(threads) as Figures;
    const per = (ms: number) => (ms / f.messages).toFixed(3).padStart(14);
    console.log(
      `${String(threads).padStart(7)}  ${per(f.writerMs)}  ${per(f.busiestMs)}  ${String(Math.round((f.messages * 1000) / f.busiestMs)).padStart(18)}  ${per(f.poolMs).padStart(17)}  ${per(f.loopMs).padStart(11)}  ${String(Math.round((f.messages * 1000) / f.wallMs)).padStart(10)}`,
    );
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
