import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { MIGRATIONS_DIR, openDb } from '../../../src/db/open.ts';
import { CLAIM_MESSAGE_SQL, DUE_MESSAGES_SQL, QueueStore } from '../../../src/queue/store.ts';
import { queuedMessage as message } from '../../helpers/queue-stores.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const retry = { minBackoffMs: 60_000, maxBackoffMs: 3_600_000, maxLifetimeMs: 86_400_000 };

test('messages enqueued in one tick commit together and survive a reopen', async () => {
  const db = openDb(path.join(dir, 'a'), MIGRATIONS_DIR);
  const store = new QueueStore(db, retry);
  let wakeups = 0;
  store.onEnqueued(() => wakeups++);
  await Promise.all([1, 2, 3].map((n) => store.enqueue(message(`M${n}`, [`u${n}@example.test`]))));
  assert.equal(wakeups, 1, 'one batch, one wake-up');
  db.close();
  const reopened = new QueueStore(openDb(path.join(dir, 'a'), MIGRATIONS_DIR), retry);
  const jobs = reopened.claim('local', 1000, 10);
  assert.deepEqual(jobs.map((j) => j.queueId).sort(), ['M1', 'M2', 'M3']);
  assert.equal(jobs[0]?.body.toString().startsWith('Subject: M'), true);
  assert.equal(reopened.claim('local', 1000, 10).length, 0, 'claimed work is not handed out twice');
  assert.equal(reopened.recover(), 3, 'after a crash, in-flight work is queued again');
  assert.equal(reopened.claim('local', 1000, 10).length, 3);
});

test('a duplicate id fails alone; its batch neighbours commit', async () => {
  const store = new QueueStore(openDb(path.join(dir, 'b'), MIGRATIONS_DIR), retry);
  await store.enqueue(message('D', ['a@example.test']));
  const results = await Promise.allSettled([store.enqueue(message('D', ['b@example.test'])), store.enqueue(message('E', ['c@example.test']))]);
  assert.equal(results[0].status, 'rejected');
  assert.equal(results[1].status, 'fulfilled');
});

test('outcomes: delivered, deferred with backoff, expired and permanent failures bounce once', async () => {
  const store = new QueueStore(openDb(path.join(dir, 'c'), MIGRATIONS_DIR), retry);
  await store.enqueue(message('X', ['ok@example.test', 'later@example.test', 'bad@example.test']));
  const [job] = store.claim('local', 1000, 10);
  assert.ok(job);
  const [ok, later, bad] = job.recipients;
  assert.ok(ok && later && bad);
  const bounces: string[][] = [];
  const bounce = (n: { kind: string; recipients: readonly { rcpt: string }[] }) => {
    bounces.push([n.kind, ...n.recipients.map((r) => r.rcpt).sort()]);
    return undefined;
  };
  const first = store.complete(
    job,
    new Map([
      [ok.id, { kind: 'delivered' as const }],
      [later.id, { kind: 'transient' as const, reason: 'disk full' }],
      [bad.id, { kind: 'permanent' as const, reason: 'no such user', enhanced: '5.1.1' }],
    ]),
    2000,
    { notice: bounce },
  );
  assert.equal(first, undefined, 'one recipient is still queued');
  assert.equal(store.nextDue('local'), 2000 + 60_000);
  assert.equal(store.claim('local', 2000 + 59_999, 10).length, 0, 'not before its time');
  const [retryJob] = store.claim('local', 2000 + 60_000, 10);
  assert.deepEqual(
    retryJob?.recipients.map((r) => [r.rcpt, r.attempts]),
    [['later@example.test', 1]],
  );
  assert.ok(retryJob);
  const done = store.complete(retryJob, new Map([[later.id, { kind: 'transient' as const, reason: 'still full' }]]), 1000 + retry.maxLifetimeMs, {
    notice: bounce,
  });
  assert.ok(done, 'the message is finished once nothing is left to try');
  assert.deepEqual(done.failed.map((f) => f.rcpt).sort(), ['bad@example.test', 'later@example.test']);
  assert.match(done.failed.find((f) => f.rcpt === 'later@example.test')?.reason ?? '', /maximum lifetime/);
  assert.deepEqual(bounces, [['failed', 'bad@example.test', 'later@example.test']]);
  assert.equal(store.claim('local', Number.MAX_SAFE_INTEGER, 10).length, 0);
});

test('one delayed notice once recipients wait longer than the warning time, queued with the outcome', async () => {
  const store = new QueueStore(openDb(path.join(dir, 'd'), MIGRATIONS_DIR), retry);
  await store.enqueue(message('W', ['slow@example.test'], 0));
  const notices: string[] = [];
  const notice = (n: { kind: string; queueId: string; recipients: readonly { reason: string }[] }) => {
    notices.push(`${n.kind} ${n.queueId} ${n.recipients[0]?.reason}`);
    const dsn = message(`N${notices.length}`, [], 0);
    return { ...dsn, sender: '', origin: 'bounce' as const, recipients: [{ rcpt: 's@remote.test', address: 's@remote.test', transport: 'remote' as const }] };
  };
  const options = { notice, delayWarningMs: 10_000 };
  const attempt = (at: number) => {
    const [job] = store.claim('local', at, 1).filter((j) => j.queueId === 'W');
    assert.ok(job, `W due at ${at}`);
    store.complete(job, new Map([[job.recipients[0]?.id ?? 0, { kind: 'transient' as const, reason: 'busy' }]]), at, options);
  };
  attempt(5_000);
  assert.deepEqual(notices, [], 'not before the warning time');
  attempt(5_000 + 60_000);
  attempt(5_000 + 180_000);
  assert.deepEqual(notices, ['delayed W busy'], 'exactly one notice');
  const queued = store.claim('remote', Number.MAX_SAFE_INTEGER, 10).map((j) => j.queueId);
  assert.ok(queued.includes('N1'), 'the notice was queued with the outcome');
});

test('a claim walks the due index only up to its limit, then finds each message by id', () => {
  const db = openDb(path.join(dir, 'plan'), MIGRATIONS_DIR);
  const plan = (sql: string) =>
    db
      .prepare<Record<string, unknown>, { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
      .all({ transport: 'remote', now: 0, limit: 1, messageId: 'M' })
      .map((r) => r.detail);
  // Ordered by the index itself: no sort of every due row before the limit applies.
  assert.deepEqual(
    plan(DUE_MESSAGES_SQL).filter((d) => /recipients_due|ORDER BY/.test(d)),
    ['SEARCH recipients USING INDEX recipients_due (transport=? AND next_attempt_at<?)'],
  );
  // By message id, not by walking the due index (which would visit every due row per claim).
  assert.deepEqual(plan(CLAIM_MESSAGE_SQL), ['SEARCH recipients USING INDEX recipients_message (message_id=?)']);
  db.close();
});

test('RFC 8689: the tls_required flag goes with the message into its claimed job', { timeout: 5000 }, async () => {
  const store = new QueueStore(openDb(path.join(dir, 'tls'), MIGRATIONS_DIR), retry);
  await store.enqueue({ ...message('R', ['a@example.test']), tlsRequired: 'requiretls' });
  await store.enqueue({ ...message('N', ['b@example.test']), tlsRequired: 'no' });
  await store.enqueue(message('P', ['c@example.test']));
  const jobs = new Map(store.claim('local', 1000, 10).map((j) => [j.queueId, j.tlsRequired]));
  assert.deepEqual([...jobs].sort(), [
    ['N', 'no'],
    ['P', undefined],
    ['R', 'requiretls'],
  ]);
});

test('completeSoon: the outcomes of one tick in one transaction; a message delivered to every recipient at once is deleted outright', async () => {
  const db = openDb(path.join(dir, 'soon'), MIGRATIONS_DIR);
  const store = new QueueStore(db, retry);
  await Promise.all([
    store.enqueue(message('S1', ['a@example.test', 'b@example.test'])),
    store.enqueue(message('S2', ['c@example.test'])),
    store.enqueue(message('S3', ['d@example.test', 'e@example.test'])),
  ]);
  const jobs = new Map(store.claim('local', 1000, 10).map((j) => [j.queueId, j]));
  const [s1, s2, s3] = ['S1', 'S2', 'S3'].map((id) => jobs.get(id));
  assert.ok(s1 && s2 && s3);
  const delivered = (job: typeof s1) => new Map(job.recipients.map((r) => [r.id, { kind: 'delivered' as const }]));
  // complete() is the one-transaction-per-job path (completeSoon's fallback): not taken here.
  let single = 0;
  const complete = store.complete.bind(store);
  store.complete = (...args) => (single++, complete(...args));
  const [first, second, third] = await Promise.all([
    store.completeSoon(s1, delivered(s1), 2000),
    store.completeSoon(s2, delivered(s2), 2000),
    store.completeSoon(s3, new Map([[s3.recipients[0]?.id ?? 0, { kind: 'delivered' as const }]]), 2000),
  ]);
  assert.equal(single, 0, 'one transaction for the three');
  assert.equal(first?.queueId, 'S1');
  assert.deepEqual(first?.failed, []);
  assert.equal(second?.queueId, 'S2');
  assert.equal(third, undefined, 'S3 has a recipient with no outcome (deferred): it stays');
  const rows = db.prepare('SELECT message_id, state FROM recipients ORDER BY id').all();
  assert.deepEqual(rows, [
    { message_id: 'S3', state: 'delivered' },
    { message_id: 'S3', state: 'queued' },
  ]);
  assert.deepEqual(db.prepare('SELECT id FROM messages').pluck().all(), ['S3']);
  // A job whose writes fail (a value SQLite cannot bind) fails alone: the batch falls back to one transaction each.
  await store.enqueue(message('S4', ['f@example.test']));
  const again = new Map(store.claim('local', 1_000_000_000, 10).map((j) => [j.queueId, j]));
  const [s3again, s4] = [again.get('S3'), again.get('S4')];
  assert.ok(s3again && s4);
  const unbindable = { kind: 'delivered' as const, detail: {} as unknown as string };
  const results = await Promise.allSettled([
    store.completeSoon(s4, delivered(s4), 3000),
    store.completeSoon(s3again, new Map(s3again.recipients.map((r) => [r.id, unbindable])), 3000),
  ]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected'],
  );
  assert.equal(single, 2, 'the batch failed, then each was tried alone');
  assert.deepEqual(db.prepare('SELECT id FROM messages').pluck().all(), ['S3']);
});
