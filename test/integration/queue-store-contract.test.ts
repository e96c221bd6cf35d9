// The queue-store contract (src/queue/contract.ts): one suite, run against the SQLite store and the
// PostgreSQL store (a real server started for this file), so both keep the same semantics.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Outcome } from '../../src/core/delivery.ts';
import type { QueueStoreContract } from '../../src/queue/contract.ts';
import type { NewMessage } from '../../src/queue/message.ts';
import type { NoticeInput } from '../../src/queue/notices.ts';
import { type Postgres, startPostgres } from '../helpers/postgres.ts';
import { queuedMessage as message, pgQueue, type QueueDatabase, TEST_RETRY as retry, sqliteQueue } from '../helpers/queue-stores.ts';
import type { Scope } from '../helpers/tmp.ts';

let server: Postgres | undefined;
// Started once for the file, stopped after every test (the stores' pools are closed by their tests).
const stops: (() => unknown)[] = [];
before(async () => {
  server = await startPostgres({ after: (fn) => stops.unshift(fn) });
});
after(async () => {
  for (const stop of stops) await stop();
});

const backends: { name: string; database: (scope: Scope) => Promise<QueueDatabase> }[] = [
  { name: 'SQLite', database: (scope) => sqliteQueue(scope) },
  {
    name: 'PostgreSQL',
    database: (scope) => {
      assert.ok(server, 'the PostgreSQL server started');
      return pgQueue(scope, server);
    },
  },
];

const transient = (reason: string): Outcome => ({ kind: 'transient', reason });

for (const backend of backends) {
  describe(`queue store contract: ${backend.name}`, { timeout: 120_000 }, () => {
    let database: QueueDatabase;
    let store: QueueStoreContract;
    const fresh = async (scope: Scope): Promise<QueueStoreContract> => {
      database = await backend.database(scope);
      store = await database.open();
      return store;
    };

    test('messages enqueued in one tick commit together, survive a restart, and are claimed once', { timeout: 30_000 }, async (t) => {
      await fresh(t);
      let wakeups = 0;
      store.onEnqueued(() => wakeups++);
      await Promise.all([1, 2, 3].map((n) => store.enqueue(message(`M${n}`, [`u${n}@example.test`]))));
      assert.equal(wakeups, 1, 'one batch, one wake-up');
      await store.close();
      const reopened = await database.open();
      const jobs = await reopened.claim('local', 1000, 10);
      assert.deepEqual(jobs.map((j) => j.queueId).sort(), ['M1', 'M2', 'M3']);
      assert.equal(jobs[0]?.body.toString().startsWith('Subject: M'), true);
      assert.equal((await reopened.claim('local', 1000, 10)).length, 0, 'claimed work is not handed out twice');
      assert.deepEqual(await reopened.counts(), { queued: 0, active: 3, held: 0, messages: 3 });
      assert.equal(await reopened.recover(), 3, 'after a crash, in-flight work is queued again');
      assert.equal((await reopened.claim('local', 1000, 10)).length, 3);
    });

    test('a duplicate id fails alone; its batch neighbours commit', { timeout: 30_000 }, async (t) => {
      await fresh(t);
      await store.enqueue(message('D', ['a@example.test']));
      const results = await Promise.allSettled([store.enqueue(message('D', ['b@example.test'])), store.enqueue(message('E', ['c@example.test']))]);
      assert.equal(results[0].status, 'rejected');
      assert.equal(results[1].status, 'fulfilled');
      assert.deepEqual(await store.counts(), { queued: 2, active: 0, held: 0, messages: 2 });
    });

    test('a claim takes all due recipients of up to `limit` messages, the most overdue first', { timeout: 30_000 }, async (t) => {
      await fresh(t);
      await store.enqueue(message('OLD', ['a@example.test', 'b@example.test'], 500));
      await store.enqueue(message('NEW', ['c@example.test'], 900));
      await store.enqueue(message('LATER', ['d@example.test'], 5000));
      const [first, ...rest] = await store.claim('local', 1000, 1);
      assert.equal(rest.length, 0);
      assert.equal(first?.queueId, 'OLD');
      assert.deepEqual(
        first.recipients.map((r) => [r.rcpt, r.attempts]),
        [
          ['a@example.test', 0],
          ['b@example.test', 0],
        ],
      );
      assert.deepEqual(
        (await store.claim('local', 1000, 10)).map((j) => j.queueId),
        ['NEW'],
        'not LATER before its time',
      );
      assert.equal((await store.claim('remote', 10_000, 10)).length, 0, 'by transport');
      assert.equal(await store.nextDue('local'), 5000);
      assert.equal(await store.nextDue('remote'), undefined);
    });

    test('outcomes: delivered, deferred with backoff, expired and permanent failures bounce once', { timeout: 30_000 }, async (t) => {
      await fresh(t);
      await store.enqueue(message('X', ['ok@example.test', 'later@example.test', 'bad@example.test']));
      const [job] = await store.claim('local', 1000, 10);
      assert.ok(job);
      const [ok, later, bad] = job.recipients;
      assert.ok(ok && later && bad);
      const bounces: string[][] = [];
      const bounce = (n: NoticeInput) => {
        bounces.push([n.kind, ...n.recipients.map((r) => r.rcpt).sort()]);
        return undefined;
      };
      const first = await store.complete(
        job,
        new Map([
          [ok.id, { kind: 'delivered' as const }],
          [later.id, transient('disk full')],
          [bad.id, { kind: 'permanent' as const, reason: 'no such user', enhanced: '5.1.1' }],
        ]),
        2000,
        { notice: bounce },
      );
      assert.equal(first, undefined, 'one recipient is still queued');
      assert.equal(await store.nextDue('local'), 2000 + 60_000);
      assert.deepEqual(await store.counts(), { queued: 1, active: 0, held: 0, messages: 1 });
      assert.equal((await store.claim('local', 2000 + 59_999, 10)).length, 0, 'not before its time');
      const [retryJob] = await store.claim('local', 2000 + 60_000, 10);
      assert.deepEqual(
        retryJob?.recipients.map((r) => [r.rcpt, r.attempts]),
        [['later@example.test', 1]],
      );
      assert.ok(retryJob);
      const done = await store.complete(retryJob, new Map([[later.id, transient('still full')]]), 1000 + retry.maxLifetimeMs, { notice: bounce });
      assert.ok(done, 'the message is finished once nothing is left to try');
      assert.deepEqual(done.failed.map((f) => f.rcpt).sort(), ['bad@example.test', 'later@example.test']);
      assert.match(done.failed.find((f) => f.rcpt === 'bad@example.test')?.reason ?? '', /^5\.1\.1 no such user$/);
      assert.match(done.failed.find((f) => f.rcpt === 'later@example.test')?.reason ?? '', /maximum lifetime/);
      assert.deepEqual(bounces, [['failed', 'bad@example.test', 'later@example.test']]);
      assert.equal((await store.claim('local', Number.MAX_SAFE_INTEGER, 10)).length, 0);
      assert.deepEqual(await store.counts(), { queued: 0, active: 0, held: 0, messages: 0 });
    });

    test('the DSN of a finished message is queued with the outcome and announced', { timeout: 30_000 }, async (t) => {
      await fresh(t);
      await store.enqueue(message('B', ['gone@example.test']));
      const [job] = await store.claim('local', 1000, 10);
      assert.ok(job);
      const woken: string[] = [];
      store.onEnqueued((t) => woken.push(t));
      const dsn: NewMessage = {
        ...message('B-DSN', [], 1000),
        sender: '',
        origin: 'bounce',
        recipients: [{ rcpt: 'sender@remote.test', address: 'sender@remote.test', transport: 'remote' }],
      };
      const done = await store.complete(job, new Map([[job.recipients[0]?.id ?? 0, { kind: 'permanent' as const, reason: 'no such user' }]]), 1500, {
        notice: () => dsn,
      });
      assert.ok(done);
      assert.deepEqual(woken, ['remote']);
      const [queued] = await store.claim('remote', 1500, 10);
      assert.equal(queued?.queueId, 'B-DSN');
      assert.equal(queued.sender, '');
    });

    test('one delayed notice once recipients wait longer than the warning time', { timeout: 30_000 }, async (t) => {
      await fresh(t);
      await store.enqueue(message('W', ['slow@example.test'], 0));
      const notices: string[] = [];
      const notice = (n: NoticeInput) => {
        notices.push(`${n.kind} ${n.queueId} ${n.recipients[0]?.reason}`);
        const dsn = message(`N${notices.length}`, [], 0);
        return {
          ...dsn,
          sender: '',
          origin: 'bounce' as const,
          recipients: [{ rcpt: 's@remote.test', address: 's@remote.test', transport: 'remote' as const }],
        };
      };
      const options = { notice, delayWarningMs: 10_000 };
      const attempt = async (at: number) => {
        const [job] = (await store.claim('local', at, 1)).filter((j) => j.queueId === 'W');
        assert.ok(job, `W due at ${at}`);
        await store.complete(job, new Map([[job.recipients[0]?.id ?? 0, transient('busy')]]), at, options);
      };
      await attempt(5_000);
      assert.deepEqual(notices, [], 'not before the warning time');
      await attempt(5_000 + 60_000);
      await attempt(5_000 + 180_000);
      assert.deepEqual(notices, ['delayed W busy'], 'exactly one notice');
      const queued = (await store.claim('remote', Number.MAX_SAFE_INTEGER, 10)).map((j) => j.queueId);
      assert.deepEqual(queued, ['N1'], 'the notice was queued with the outcome');
    });

    test('the operator: hold, release, retry now, delete', { timeout: 30_000 }, async (t) => {
      await fresh(t);
      await store.enqueue(message('H', ['a@example.test', 'b@example.test']));
      await store.enqueue(message('K', ['c@example.test']));
      assert.equal(await store.hold('H'), 2);
      assert.equal(await store.hold('nope'), 0);
      assert.deepEqual(await store.counts(), { queued: 1, active: 0, held: 2, messages: 2 });
      assert.deepEqual(
        (await store.claim('local', 10_000, 10)).map((j) => j.queueId),
        ['K'],
        'a held message is not claimed',
      );
      assert.equal(await store.release('H', 20_000), 2);
      assert.equal(await store.release('H', 20_000), 0, 'nothing held any more');
      assert.equal((await store.claim('local', 19_999, 10)).length, 0, 'released: due from the release time');
      const [held] = await store.claim('local', 20_000, 10);
      assert.equal(held?.queueId, 'H');
      await store.complete(held, new Map(held.recipients.map((r) => [r.id, transient('try later')])), 20_000);
      const due = await store.nextDue('local');
      assert.ok(due !== undefined && due >= 80_000, `deferred: due ${due}`);
      assert.equal(await store.retryNow('H', 21_000), 2);
      assert.equal(await store.nextDue('local'), 21_000);
      assert.equal(await store.retryNow(undefined, 22_000), 2, 'all queued recipients (K is active)');
      assert.equal(await store.delete('H'), 1);
      assert.equal(await store.delete('H'), 0);
      assert.deepEqual(await store.counts(), { queued: 0, active: 1, held: 0, messages: 1 });
    });

    test('an outcome for a message the operator deleted meanwhile changes nothing', { timeout: 30_000 }, async (t) => {
      await fresh(t);
      await store.enqueue(message('Z', ['a@example.test']));
      const [job] = await store.claim('local', 1000, 10);
      assert.ok(job);
      assert.equal(await store.delete('Z'), 1);
      const finished = await store.complete(job, new Map([[job.recipients[0]?.id ?? 0, { kind: 'delivered' as const }]]), 2000);
      assert.ok(finished === undefined || finished.failed.length === 0, 'no DSN for a deleted message');
      assert.deepEqual(await store.counts(), { queued: 0, active: 0, held: 0, messages: 0 });
    });

    test('the body bytes, 8-bit flags and the RFC 8689 tls_required flag go into the claimed job as enqueued', { timeout: 30_000 }, async (t) => {
      await fresh(t);
      const bytes = Buffer.concat([Buffer.from('Subject: caf\u00e9\r\n\r\n', 'utf8'), Buffer.from([0, 1, 0xff, 0x80, 13, 10])]);
      await store.enqueue({ ...message('R', ['a@example.test']), body: bytes, smtputf8: true, eightBit: true, tlsRequired: 'requiretls' });
      await store.enqueue({ ...message('N', ['b@example.test']), tlsRequired: 'no' });
      await store.enqueue(message('P', ['c@example.test']));
      const jobs = new Map((await store.claim('local', 1000, 10)).map((j) => [j.queueId, j]));
      assert.deepEqual([...jobs].map(([id, j]) => [id, j.tlsRequired]).sort(), [
        ['N', 'no'],
        ['P', undefined],
        ['R', 'requiretls'],
      ]);
      const r = jobs.get('R');
      assert.ok(r);
      assert.ok(Buffer.isBuffer(r.body) && r.body.equals(bytes), 'the body, byte for byte');
      assert.deepEqual([r.size, r.smtputf8, r.eightBit, r.sender, r.receivedAt], [bytes.length, true, true, 'sender@remote.test', 1000]);
      assert.deepEqual([jobs.get('P')?.smtputf8, jobs.get('P')?.eightBit], [false, false]);
    });
  });
}
