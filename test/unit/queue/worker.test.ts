import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type { Courier, DeliveryJob, Outcome } from '../../../src/core/delivery.ts';
import { MIGRATIONS_DIR, openDb } from '../../../src/db/open.ts';
import { StorageHealth } from '../../../src/db/storage-fault.ts';
import type { NewMessage } from '../../../src/queue/message.ts';
import { QueueStore } from '../../../src/queue/store.ts';
import { QueueWorker, type WorkerDeps } from '../../../src/queue/worker.ts';
import { captureLog } from '../../helpers/log.ts';
import { waitFor } from '../../helpers/wait.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-worker-'));
after(() => rmSync(dir, { recursive: true, force: true }));
/** The synchronous SQLite store as the worker sees it: the async contract, each call the store's (as sqlite-contract.ts does). */
function contract(store: QueueStore): WorkerDeps['store'] {
  return {
    onEnqueued: (listener) => store.onEnqueued(listener),
    handOff: (transport, taker) => store.handOff(transport, taker),
    claim: async (transport, now, limit) => store.claim(transport, now, limit),
    complete: async (job, outcomes, now, options) => store.complete(job, outcomes, now, options),
    nextDue: async (transport) => store.nextDue(transport),
  };
}
const retry = { minBackoffMs: 60_000, maxBackoffMs: 60_000, maxLifetimeMs: 86_400_000 };

function message(id: string, receivedAt: number): NewMessage {
  return {
    id,
    receivedAt,
    sender: '',
    body: Buffer.from('Subject: x\r\n\r\nx\r\n'),
    smtputf8: false,
    eightBit: false,
    origin: 'smtp',
    recipients: [{ rcpt: `${id}@example.test`, address: `${id}@example.test`, transport: 'local' }],
  };
}

test('concurrency bounds the messages in flight, and every message is delivered', { timeout: 10_000 }, async () => {
  const store = new QueueStore(openDb(path.join(dir, 'a'), MIGRATIONS_DIR), retry);
  let inFlight = 0;
  let most = 0;
  const delivered: string[] = [];
  const courier: Courier = {
    async deliver(job: DeliveryJob) {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 20));
      inFlight--;
      delivered.push(job.queueId);
      return new Map<number, Outcome>(job.recipients.map((r) => [r.id, { kind: 'delivered' }]));
    },
  };
  await Promise.all(['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((id) => store.enqueue(message(id, Date.now()))));
  const worker = new QueueWorker({ store: contract(store), transport: 'local', courier, log: captureLog().log, now: Date.now, concurrency: 2 });
  worker.start();
  await waitFor(() => delivered.length === 7, { timeoutMs: 5000, what: 'seven deliveries' });
  await worker.stop();
  assert.equal(most, 2);
});

test('a transient failure past the queue lifetime is logged as bounced, a young one as deferred', { timeout: 10_000 }, async () => {
  const store = new QueueStore(openDb(path.join(dir, 'b'), MIGRATIONS_DIR), retry);
  const now = Date.now();
  await store.enqueue(message('old', now - retry.maxLifetimeMs - 1));
  await store.enqueue(message('young', now));
  const courier: Courier = { deliver: async (job) => new Map(job.recipients.map((r) => [r.id, { kind: 'transient', reason: 'busy' }])) };
  const { log, records } = captureLog();
  const worker = new QueueWorker({ store: contract(store), transport: 'local', courier, log, now: () => now, concurrency: 4 });
  worker.start();
  await waitFor(() => records.filter((r) => r['queueId'] === 'old' || r['queueId'] === 'young').length === 2, { timeoutMs: 5000, what: 'two records' });
  await worker.stop();
  const event = (id: string) => records.find((r) => r['queueId'] === id)?.['event'];
  assert.equal(event('old'), 'bounced');
  assert.equal(records.find((r) => r['queueId'] === 'old')?.['expired'], true);
  assert.equal(event('young'), 'deferred');
});

test('a fresh message goes straight to a worker with room (no claim); the rest wait queued and are claimed as slots free up', { timeout: 10_000 }, async () => {
  const db = openDb(path.join(dir, 'c'), MIGRATIONS_DIR);
  const store = new QueueStore(db, retry);
  const claims: number[] = [];
  const claim = store.claim.bind(store);
  store.claim = (transport, now, limit) => {
    const jobs = claim(transport, now, limit);
    claims.push(jobs.length);
    return jobs;
  };
  const started: string[] = [];
  const gates: (() => void)[] = [];
  const courier: Courier = {
    async deliver(job: DeliveryJob) {
      started.push(job.queueId);
      await new Promise<void>((resolve) => gates.push(resolve));
      return new Map<number, Outcome>(job.recipients.map((r) => [r.id, { kind: 'delivered' }]));
    },
  };
  const worker = new QueueWorker({ store: contract(store), transport: 'local', courier, log: captureLog().log, now: Date.now, concurrency: 1 });
  worker.start();
  // The start-up claim holds the free slot until its promise settles (a turn of the loop).
  await new Promise(setImmediate);
  const startupClaims = claims.length;
  await Promise.all(['h1', 'h2', 'h3'].map((id) => store.enqueue(message(id, Date.now()))));
  const state = (id: string) => db.prepare<[string], { state: string }>('SELECT state FROM recipients WHERE message_id = ?').get(id)?.state;
  await waitFor(() => started.length === 1, { timeoutMs: 5000, what: 'the first delivery' });
  assert.deepEqual(started, ['h1']);
  assert.deepEqual(
    claims.slice(startupClaims).filter((n) => n > 0),
    [],
    'h1 was handed over, not claimed',
  );
  assert.deepEqual([state('h1'), state('h2'), state('h3')], ['active', 'queued', 'queued']);
  for (let n = 1; n <= 3; n++) {
    await waitFor(() => gates.length === n, { timeoutMs: 5000, what: `delivery ${n}` });
    gates[n - 1]?.();
  }
  await waitFor(() => state('h3') === undefined, { timeoutMs: 5000, what: 'h3 delivered and removed' });
  await worker.stop();
  assert.deepEqual(started, ['h1', 'h2', 'h3']);
  assert.equal(claims.slice(startupClaims).filter((n) => n > 0).length, 2, 'h2 and h3 were claimed');
});

/** What better-sqlite3 throws when the file system is full. */
const diskFull = () => Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });

/** Unhandled errors during a test: a store call that throws out of a timer crashed the daemon. */
function watchUnhandled(t: { after: (fn: () => void) => void }): unknown[] {
  const seen: unknown[] = [];
  const onError = (err: unknown) => seen.push(err);
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  t.after(() => {
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onError);
  });
  return seen;
}

test('SQLITE_FULL from complete and from claim: retried with backoff, logged once when it starts and once when it ends, delivered', {
  timeout: 10_000,
}, async (t) => {
  const unhandled = watchUnhandled(t);
  const db = openDb(path.join(dir, 'full'), MIGRATIONS_DIR);
  const store = new QueueStore(db, retry);
  await store.enqueue(message('m1', Date.now()));
  await store.enqueue(message('m2', Date.now()));
  let claimFaults = 2;
  let completeFaults = 3;
  const claim = store.claim.bind(store);
  store.claim = (...args) => {
    if (claimFaults > 0) {
      claimFaults--;
      throw diskFull();
    }
    return claim(...args);
  };
  const complete = store.complete.bind(store);
  store.complete = (...args) => {
    if (completeFaults > 0) {
      completeFaults--;
      throw diskFull();
    }
    return complete(...args);
  };
  const delivered: string[] = [];
  const courier: Courier = {
    async deliver(job) {
      delivered.push(job.queueId);
      return new Map<number, Outcome>(job.recipients.map((r) => [r.id, { kind: 'delivered' }]));
    },
  };
  const { log, records } = captureLog();
  const storage = new StorageHealth({ log, now: Date.now, minBackoffMs: 10, maxBackoffMs: 40 });
  const worker = new QueueWorker({ store: contract(store), transport: 'local', courier, log, now: Date.now, concurrency: 1, storage });
  worker.start();
  await waitFor(() => records.filter((r) => r['event'] === 'delivered').length === 2, { timeoutMs: 5000, what: 'both delivered once the disk takes writes' });
  await worker.stop();
  assert.deepEqual(unhandled, []);
  assert.deepEqual([claimFaults, completeFaults], [0, 0], 'every fault was met');
  assert.deepEqual(delivered, ['m1', 'm2'], 'each delivered once: the outcome was kept and recorded, not the delivery repeated');
  const storageRecords = records.filter((r) => r['event'] === 'storage');
  // Claim faults and complete faults in turn: one episode each, each logged when it starts and when it ends.
  assert.ok(storageRecords.length >= 2, JSON.stringify(storageRecords));
  for (let i = 0; i < storageRecords.length; i += 2) {
    assert.equal(storageRecords[i]?.['state'], 'failing');
    assert.equal(storageRecords[i + 1]?.['state'], 'recovered');
  }
  assert.equal(storage.failing, false);
  assert.equal(store.claim('local', Date.now() + retry.maxBackoffMs, 10).length, 0, 'nothing left in the queue');
  db.close();
});

test('stopped while the disk refuses an outcome: stop() returns, the recipients stay active for recover()', { timeout: 10_000 }, async (t) => {
  const unhandled = watchUnhandled(t);
  const db = openDb(path.join(dir, 'full-stop'), MIGRATIONS_DIR);
  const store = new QueueStore(db, retry);
  await store.enqueue(message('s1', Date.now()));
  store.complete = () => {
    throw diskFull();
  };
  const courier: Courier = { deliver: async (job) => new Map<number, Outcome>(job.recipients.map((r) => [r.id, { kind: 'delivered' }])) };
  const { log, records } = captureLog();
  const worker = new QueueWorker({
    store: contract(store),
    transport: 'local',
    courier,
    log,
    now: Date.now,
    concurrency: 1,
    storage: new StorageHealth({ log, now: Date.now, minBackoffMs: 60_000 }),
  });
  worker.start();
  await waitFor(() => records.some((r) => r['event'] === 'storage' && r['state'] === 'failing'), { timeoutMs: 5000, what: 'the fault to be logged' });
  await worker.stop();
  assert.deepEqual(unhandled, []);
  assert.equal(store.recover(), 1, 'queued again at the next start');
  db.close();
});

test('delivered, deferred and bounced records name the delivery agent of each address, and each is counted once', { timeout: 10_000 }, async () => {
  const store = new QueueStore(openDb(path.join(dir, 'agent'), MIGRATIONS_DIR), retry);
  const now = Date.now();
  await store.enqueue(message('lmtp', now));
  await store.enqueue(message('maildir', now));
  const courier: Courier = {
    deliver: async (job) =>
      new Map<number, Outcome>(job.recipients.map((r) => [r.id, job.queueId === 'lmtp' ? { kind: 'delivered' } : { kind: 'transient', reason: 'busy' }])),
  };
  const { log, records } = captureLog();
  const agent = (address: string) => (address.startsWith('lmtp@') ? 'lmtp' : 'maildir');
  const counted: string[] = [];
  const worker = new QueueWorker({
    store: contract(store),
    transport: 'local',
    courier,
    log,
    now: () => now,
    concurrency: 4,
    agent,
    counted: (outcome, a) => counted.push(`${outcome} ${a}`),
  });
  worker.start();
  await waitFor(() => records.filter((r) => r['queueId'] === 'lmtp' || r['queueId'] === 'maildir').length === 2, { timeoutMs: 5000, what: 'two records' });
  await worker.stop();
  // The hourly counts (local/delivery-stats.ts) hear of each recipient once, with its agent.
  assert.deepEqual(counted.sort(), ['deferred maildir', 'delivered lmtp']);
  const record = (id: string) => records.find((r) => r['queueId'] === id);
  assert.equal(record('lmtp')?.['event'], 'delivered');
  assert.equal(record('lmtp')?.['agent'], 'lmtp');
  assert.equal(record('maildir')?.['event'], 'deferred');
  assert.equal(record('maildir')?.['agent'], 'maildir');
});

/** A store over the network as the worker sees it: every call answers after `delayMs`, no hand-off. */
function slowStore(delayMs: number, jobs: DeliveryJob[]) {
  const listeners = new Set<(t: 'local' | 'remote') => void>();
  const later = <T>(value: () => T): Promise<T> => new Promise((resolve) => setTimeout(() => resolve(value()), delayMs));
  let claims = 0;
  let inClaim = 0;
  let mostAtOnce = 0;
  const completed: string[] = [];
  const store: WorkerDeps['store'] = {
    onEnqueued: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    claim: async (_transport, _now, limit) => {
      claims++;
      mostAtOnce = Math.max(mostAtOnce, ++inClaim);
      // What is queued when the claim reads the table (at its start), handed out when it answers.
      const taken = jobs.splice(0, limit);
      return later(() => {
        inClaim--;
        return taken;
      });
    },
    complete: (job) =>
      later(() => {
        completed.push(job.queueId);
        return undefined;
      }),
    nextDue: () => later(() => undefined),
  };
  return {
    store,
    enqueue(job: DeliveryJob) {
      jobs.push(job);
      for (const l of listeners) l('local');
    },
    stats: () => ({ claims, mostAtOnce, completed }),
  };
}

const fakeJob = (queueId: string): DeliveryJob => ({
  queueId,
  sender: '',
  receivedAt: Date.now(),
  size: 10,
  body: Buffer.from('x\r\n'),
  smtputf8: false,
  eightBit: false,
  recipients: [{ id: Number(queueId.slice(1)), rcpt: `${queueId}@example.test`, address: `${queueId}@example.test`, attempts: 0 }],
});

test('an asynchronous store (PostgreSQL): one claim at a time, and a message queued while a claim is under way is claimed next, not left for the idle timer', {
  timeout: 10_000,
}, async () => {
  const slow = slowStore(30, []);
  const delivered: string[] = [];
  const courier: Courier = {
    async deliver(job) {
      delivered.push(job.queueId);
      return new Map<number, Outcome>(job.recipients.map((r) => [r.id, { kind: 'delivered' }]));
    },
  };
  const worker = new QueueWorker({ store: slow.store, transport: 'local', courier, log: captureLog().log, now: Date.now, concurrency: 4 });
  worker.start();
  // The start-up claim is under way (it read an empty table): this message comes after its read.
  slow.enqueue(fakeJob('m1'));
  await waitFor(() => delivered.includes('m1'), { timeoutMs: 2000, what: 'm1 delivered well before the 60 s idle timer' });
  for (const id of ['m2', 'm3', 'm4', 'm5', 'm6']) slow.enqueue(fakeJob(id));
  await waitFor(() => slow.stats().completed.length === 6, { timeoutMs: 5000, what: 'six outcomes recorded' });
  await worker.stop();
  assert.deepEqual([...delivered].sort(), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'], 'each delivered once');
  assert.equal(slow.stats().mostAtOnce, 1, 'never two claims at once (they would claim past the free slots)');
});
