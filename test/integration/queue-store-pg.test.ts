// The PostgreSQL queue store with more than one node (two stores on one database, as two Sealpost
// machines would be): concurrent claims never share a recipient, a node that stops renewing loses
// its claims to another after the lease, NOTIFY wakes an idle node, migrations run once.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { clientConfig, openPool } from '../../src/queue/pg/connect.ts';
import { MIGRATIONS, migrate, SchemaTooNew } from '../../src/queue/pg/schema.ts';
import { PG_CLAIM_SQL, PgQueueStore, SchemaMismatch } from '../../src/queue/pg/store.ts';
import { type Postgres, startPostgres } from '../helpers/postgres.ts';
import { pgQueue, queuedMessage, TEST_RETRY } from '../helpers/queue-stores.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitFor, waitForLine } from '../helpers/wait.ts';

let server: Postgres | undefined;
const stops: (() => unknown)[] = [];
before(async () => {
  server = await startPostgres({ after: (fn) => stops.unshift(fn) });
});
after(async () => {
  for (const stop of stops) await stop();
});
const pgServer = (): Postgres => {
  assert.ok(server, 'the PostgreSQL server started');
  return server;
};

const message = (id: string, recipients: string[], receivedAt?: number) => queuedMessage(id, recipients, receivedAt, 'remote');

test('two nodes claiming at once never get the same recipient, and together get them all', { timeout: 120_000 }, async (t) => {
  const queue = await pgQueue(t, pgServer());
  const a = await queue.open({ node: 'node-a' });
  const b = await queue.open({ node: 'node-b' });
  const total = 300;
  await Promise.all(Array.from({ length: total }, (_, i) => (i % 2 ? a : b).enqueue(message(`C${i}`, [`x${i}@a.test`, `y${i}@b.test`], 1000 + i))));
  const claimed = new Map<string, number[]>([
    ['node-a', []],
    ['node-b', []],
  ]);
  const drain = async (node: string, store: typeof a): Promise<void> => {
    for (;;) {
      const jobs = await store.claim('remote', 10_000, 7);
      if (jobs.length === 0) return;
      for (const job of jobs) claimed.get(node)?.push(...job.recipients.map((r) => r.id));
    }
  };
  await Promise.all([drain('node-a', a), drain('node-b', b), drain('node-a', a), drain('node-b', b)]);
  const ofA = claimed.get('node-a') ?? [];
  const ofB = claimed.get('node-b') ?? [];
  const all = [...ofA, ...ofB];
  assert.equal(new Set(all).size, all.length, 'no recipient claimed twice');
  assert.equal(all.length, 2 * total, 'every recipient claimed');
  assert.ok(ofA.length > 0 && ofB.length > 0, `both nodes got work (a ${ofA.length}, b ${ofB.length})`);
  const owners = new Map((await a.claims()).map((c) => [c.recipientId, c.owner]));
  for (const id of ofA) assert.equal(owners.get(id), 'node-a');
  for (const id of ofB) assert.equal(owners.get(id), 'node-b');
});

test('a node that stops renewing loses its claims after the lease; the other takes the work over', { timeout: 60_000 }, async (t) => {
  const queue = await pgQueue(t, pgServer());
  const a = await queue.open({ node: 'node-a', leaseMs: 60_000 });
  const b = await queue.open({ node: 'node-b', leaseMs: 60_000 });
  await a.enqueue(message('L', ['one@a.test', 'two@a.test']));
  const [job] = await a.claim('remote', 1000, 10);
  assert.equal(job?.recipients.length, 2);
  assert.equal((await b.claim('remote', 30_000, 10)).length, 0, 'leased to node-a');
  assert.equal(await a.renew(50_000), 2, 'the heartbeat renews both claims');
  assert.equal((await b.claim('remote', 70_000, 10)).length, 0, 'renewed until 110 000');
  assert.equal(await b.recover(), 0, "a starting node recovers only its own claims, not another's");
  assert.equal(await b.nextDue('remote'), 110_000, "node-b is due to look again when node-a's lease runs out");
  // node-a stops renewing (it hangs or died): past the lease, node-b claims the same recipients.
  const [taken] = await b.claim('remote', 110_001, 10);
  assert.deepEqual(
    taken?.recipients.map((r) => r.id),
    job.recipients.map((r) => r.id),
  );
  assert.deepEqual(
    (await b.claims()).map((c) => [c.owner, c.leaseUntil]),
    [
      ['node-b', 170_001],
      ['node-b', 170_001],
    ],
  );
  // node-a comes back and reports its (late) outcome: the claims are node-b's, nothing changes.
  assert.equal(await a.complete(job, new Map(job.recipients.map((r) => [r.id, { kind: 'delivered' as const }])), 111_000), undefined);
  assert.equal(await a.renew(111_000), 0, 'node-a holds no claim any more');
  assert.deepEqual(await b.counts(), { queued: 0, active: 2, held: 0, messages: 1 });
  const done = await b.complete(taken, new Map(taken.recipients.map((r) => [r.id, { kind: 'delivered' as const }])), 112_000);
  assert.deepEqual(done?.failed, [], 'node-b ends the message');
  assert.deepEqual(await a.counts(), { queued: 0, active: 0, held: 0, messages: 0 });
});

test('with the heartbeat running a claim stays; once the node stops, another takes it within the lease', { timeout: 60_000 }, async (t) => {
  const queue = await pgQueue(t, pgServer());
  const leaseMs = 4000;
  const a = await queue.open({ node: 'node-a', leaseMs, heartbeat: true });
  const b = await queue.open({ node: 'node-b', leaseMs, heartbeat: true });
  await a.enqueue(message('HB', ['one@a.test']));
  const [job] = await a.claim('remote', Date.now(), 10);
  assert.ok(job);
  // Two lease times with node-a alive: its heartbeat (every third of the lease) keeps the claim.
  const until = Date.now() + 2 * leaseMs;
  while (Date.now() < until) {
    assert.equal((await b.claim('remote', Date.now(), 10)).length, 0, 'node-a is alive: its claim stays');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const stoppedAt = Date.now();
  await a.close(); // the heartbeat stops, as when the node dies
  const [taken] = await waitFor(
    async () => {
      const jobs = await b.claim('remote', Date.now(), 10);
      return jobs.length > 0 && jobs;
    },
    { what: "node-b taking over node-a's claim", timeoutMs: 4 * leaseMs, intervalMs: 100 },
  );
  const tookMs = Date.now() - stoppedAt;
  assert.deepEqual(
    taken?.recipients.map((r) => r.id),
    job.recipients.map((r) => r.id),
  );
  assert.ok(tookMs <= leaseMs + 2500, `taken over ${tookMs} ms after node-a stopped (lease ${leaseMs} ms)`);
});

test('NOTIFY wakes an idle node at once, and again after PostgreSQL restarts', { timeout: 120_000 }, async (t) => {
  const queue = await pgQueue(t, pgServer());
  const a = await queue.open({ node: 'node-a' });
  const b = await queue.open({ node: 'node-b' });
  const woken: string[] = [];
  b.onEnqueued((transport) => woken.push(transport));
  const ownWakeups: string[] = [];
  a.onEnqueued((transport) => ownWakeups.push(transport));
  await a.enqueue(message('N1', ['one@a.test']));
  await waitFor(() => woken.length > 0, { what: 'node-b woken by NOTIFY', timeoutMs: 5000 });
  assert.deepEqual(woken, ['remote']);
  assert.deepEqual(ownWakeups, ['remote'], 'the enqueuing node is told once, directly, not again by its own NOTIFY');
  assert.equal((await b.claim('remote', 1000, 10))[0]?.queueId, 'N1', 'and finds the message');

  await pgServer().stop();
  await pgServer().start();
  // The pools reconnect on their next query; the LISTEN connection is made again by itself.
  await waitFor(
    async () => {
      await a.enqueue(message(`N2-${Date.now()}`, ['two@a.test']));
      return woken.length > 1;
    },
    { what: 'node-b woken by NOTIFY after the restart', timeoutMs: 30_000, intervalMs: 500 },
  );
});

test('a LISTEN connection that broke: once made again, the node looks for work (what was notified meanwhile was lost)', { timeout: 60_000 }, async (t) => {
  const queue = await pgQueue(t, pgServer());
  const a = await queue.open({ node: 'node-a' });
  const b = await queue.open({ node: 'node-b' });
  const woken: string[] = [];
  b.onEnqueued((transport) => woken.push(transport));
  // node-b's LISTEN connection is cut (as a server restart or a network break would); node-a
  // commits before it is made again (a pause of 1 s), so node-b misses that NOTIFY.
  const admin = new pg.Client(clientConfig({ url: queue.url, passwordFile: pgServer().passwordFile }));
  await admin.connect();
  t.after(() => admin.end());
  const cut = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`);
  assert.equal(cut.rowCount, 2, 'both nodes listen');
  const listening = async () =>
    Number(
      (
        await admin.query<{ n: string }>(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`,
        )
      ).rows[0]?.n,
    );
  await waitFor(async () => (await listening()) === 0, { what: 'the LISTEN connections gone', timeoutMs: 5000, intervalMs: 20 });
  await a.enqueue(message('L1', ['one@a.test']));
  await waitFor(() => woken.length > 0, { what: 'node-b told to look once LISTEN is made again', timeoutMs: 10_000 });
  assert.equal((await b.claim('remote', Date.now(), 10))[0]?.queueId, 'L1', 'and finds the message');
});

test('migrations run once when nodes start together; a node refuses a schema older or newer than its own', { timeout: 60_000 }, async () => {
  const pgs = pgServer();
  const url = await pgs.createDatabase(`migrate_${process.pid}`);
  const pools = [openPool({ url, passwordFile: pgs.passwordFile }), openPool({ url, passwordFile: pgs.passwordFile })];
  try {
    const [unmigrated] = pools;
    assert.ok(unmigrated);
    await assert.rejects(
      PgQueueStore.open({ pool: unmigrated, node: 'n', retry: TEST_RETRY, leaseMs: 60_000, heartbeat: false }),
      /schema is at version 0, this Sealpost needs \d+: run sealpost store init/,
    );
    const applied = await Promise.all(pools.map((p) => migrate(p)));
    assert.deepEqual(applied.map((a) => a.length).sort(), [0, MIGRATIONS.length], 'one node applied them, the other found nothing to do');
    const [first] = pools;
    assert.ok(first);
    const node = (pool: typeof first) => PgQueueStore.open({ pool, node: 'n', retry: TEST_RETRY, leaseMs: 60_000, heartbeat: false });
    const current = await node(first);
    await current.close();
    await first.query('INSERT INTO sealpost_schema (version) VALUES ($1)', [MIGRATIONS.length + 1]);
    await assert.rejects(node(first), (err: Error) => {
      assert.ok(err instanceof SchemaMismatch);
      assert.match(err.message, /newer than this Sealpost knows .*: another node runs a newer release; upgrade this node before starting it/);
      return true;
    });
    await assert.rejects(migrate(first), (err: Error) => {
      assert.ok(err instanceof SchemaTooNew);
      assert.match(err.message, /schema is at version \d+, newer than this Sealpost knows .* upgrade this node/);
      return true;
    });
  } finally {
    await Promise.all(pools.map((p) => p.end()));
  }
});

test('a spooled body goes whole into the row, and its spool file is removed once committed', { timeout: 60_000 }, async (t) => {
  const queue = await pgQueue(t, pgServer());
  const a = await queue.open({ node: 'node-a' });
  const dir = await tempDir(t);
  const file = path.join(dir, 'spooled');
  const head = Buffer.from('Received: by mx\r\nSubject: big\r\n\r\n');
  const rest = randomBytes(3 * 1024 * 1024);
  // The file holds the header block too; the row's prefix replaces it (offset: where the rest starts).
  await writeFile(file, Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), rest]));
  const offset = Buffer.byteLength('Subject: big\r\n\r\n');
  await a.enqueue({ ...message('BIG', ['one@a.test']), body: { kind: 'spooled', prefix: head, file, offset, size: head.length + rest.length } });
  await waitFor(async () => !(await stat(file).catch(() => undefined)), { what: 'the spool file removed', timeoutMs: 5000 });
  const [job] = await a.claim('remote', 1000, 1);
  assert.ok(job && Buffer.isBuffer(job.body));
  assert.equal(job.size, head.length + rest.length);
  assert.ok(job.body.equals(Buffer.concat([head, rest])), 'prefix, then the file from its offset');
});

test('while PostgreSQL is down nothing is acknowledged; after it is back intake and claims go on, nothing lost', { timeout: 120_000 }, async (t) => {
  const queue = await pgQueue(t, pgServer());
  const a = await queue.open({ node: 'node-a' });
  await a.enqueue(message('BEFORE', ['one@a.test']));
  await pgServer().stop();
  try {
    await assert.rejects(a.enqueue(message('DURING', ['two@a.test'])), 'no acknowledgement without a COMMIT');
  } finally {
    await pgServer().start();
  }
  await waitFor(
    async () => {
      await a.enqueue(message('AFTER', ['three@a.test']));
      return true;
    },
    { what: 'intake after the restart', timeoutMs: 30_000, intervalMs: 500 },
  );
  const ids = (await a.claim('remote', 10_000, 10)).map((j) => j.queueId).sort();
  assert.deepEqual(ids, ['AFTER', 'BEFORE'], 'the message refused while down was not stored; the others were');
});

test('kill -9 of a node in the middle of its deliveries: another node takes its claims over after the lease', { timeout: 90_000 }, async (t) => {
  const pgs = pgServer();
  const queue = await pgQueue(t, pgs);
  // A lease of 4 s renewed every 1.3 s: a renewal may come late on a loaded machine without losing the claim.
  const leaseMs = 4000;
  const b = await queue.open({ node: 'node-b', leaseMs, heartbeat: true });
  await Promise.all(Array.from({ length: 20 }, (_, i) => b.enqueue(message(`K${i}`, [`r${i}@a.test`], 1000 + i))));
  const child = spawn(
    process.execPath,
    [path.join(import.meta.dirname, '../helpers/pg-node.ts'), queue.url, pgs.passwordFile, 'node-a', String(leaseMs), '8'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = once(child, 'exit');
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const line = await waitForLine(child.stdout, /^\[.*\]$/m, 30_000);
  const ofA = JSON.parse(line) as number[];
  assert.equal(ofA.length, 8, 'node-a claimed 8 recipients');
  // node-a is alive and renewing: node-b gets only the other 12, over two lease times.
  const ofB = (await b.claim('remote', Date.now(), 100)).flatMap((j) => j.recipients.map((r) => r.id));
  assert.equal(ofB.length, 12);
  const until = Date.now() + 2 * leaseMs;
  while (Date.now() < until) {
    assert.deepEqual(await b.claim('remote', Date.now(), 100), [], "node-a's claims stay while it renews");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  child.kill('SIGKILL');
  await exited;
  const killedAt = Date.now();
  const taken = await waitFor(
    async () => {
      const jobs = await b.claim('remote', Date.now(), 100);
      return jobs.length > 0 && jobs.flatMap((j) => j.recipients.map((r) => r.id));
    },
    { what: "node-b taking over the killed node's claims", timeoutMs: 4 * leaseMs, intervalMs: 100 },
  );
  const tookMs = Date.now() - killedAt;
  assert.deepEqual(taken.sort(), [...ofA].sort(), 'exactly the killed node’s recipients, none lost');
  t.diagnostic(`claims of the killed node taken over ${tookMs} ms after the kill (lease ${leaseMs} ms)`);
  assert.ok(tookMs <= leaseMs + 2500, `taken over ${tookMs} ms after the kill (lease ${leaseMs} ms)`);
  assert.deepEqual(await b.counts(), { queued: 0, active: 20, held: 0, messages: 20 });
});

test('a claim walks the due index in order up to its limit: no sort of every due row', { timeout: 60_000 }, async (t) => {
  const pgs = pgServer();
  const queue = await pgQueue(t, pgs);
  const a = await queue.open({ node: 'node-a' });
  await Promise.all(Array.from({ length: 3000 }, (_, i) => a.enqueue(message(`P${i}`, [`r${i}@a.test`], 1000 + i))));
  const pool = openPool({ url: queue.url, passwordFile: pgs.passwordFile }, 1);
  t.after(() => pool.end());
  await pool.query('ANALYZE recipients');
  const { rows } = await pool.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${PG_CLAIM_SQL}`, ['remote', 1_000_000, 10, 'node-a', 2_000_000]);
  const plan = rows.map((r) => r['QUERY PLAN']).join('\n');
  assert.match(plan, /Index Scan using recipients_due on recipients/, plan);
  assert.match(plan, /Index Scan using recipients_lease on recipients/, plan);
  // The sort a group of at most 2 × limit messages needs is fine; one over the due rows is not.
  assert.doesNotMatch(plan, /Sort Key: recipients\.next_attempt_at|Seq Scan on recipients/, plan);
  const jobs = await a.claim('remote', 1_000_000, 10);
  assert.deepEqual(
    jobs.map((j) => j.queueId),
    Array.from({ length: 10 }, (_, i) => `P${i}`),
    'the 10 most overdue, oldest first',
  );
});

test('the heartbeat renews only claims whose outcome is still to come: one whose outcome could not be recorded runs out and is claimed again', {
  timeout: 60_000,
}, async (t) => {
  const queue = await pgQueue(t, pgServer());
  const a = await queue.open({ node: 'node-a', leaseMs: 60_000 });
  await a.enqueue(message('R', ['one@a.test']));
  const [job] = await a.claim('remote', 1000, 10);
  assert.ok(job);
  assert.equal(await a.renew(2000), 1, 'in flight: renewed (until 62 000)');
  // The outcome's transaction fails (here its DSN cannot be made; in life the database went away).
  const outcomes = new Map(job.recipients.map((r) => [r.id, { kind: 'permanent' as const, reason: '550 no such user' }]));
  await assert.rejects(
    a.complete(job, outcomes, 3000, {
      notice: () => {
        throw new Error('the database went away');
      },
    }),
  );
  assert.equal(await a.renew(4000), 0, 'not renewed any more: no delivery of it is under way');
  assert.deepEqual(await a.claim('remote', 61_000, 10), [], 'still leased until 62 000');
  const [again] = await a.claim('remote', 62_001, 10);
  assert.deepEqual(
    again?.recipients.map((r) => r.id),
    job.recipients.map((r) => r.id),
    'claimed again once the lease ran out',
  );
});

test('a pooled client the server ends while it is checked out, between queries, does not end the process', { timeout: 30_000 }, async () => {
  const pgs = pgServer();
  const settings = { url: await pgs.createDatabase(`checked_out_${process.pid}`), passwordFile: pgs.passwordFile };
  const pool = openPool(settings, 2);
  const admin = openPool(settings, 1);
  try {
    // Checked out with no listener of its own (as any pool.connect() caller that forgets one):
    // pg-pool has taken its idle listener off, and the server's 57P01 arrives with no query running.
    const client = await pool.connect();
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    // Not events.once: it would listen for 'error' itself.
    const ended = new Promise<void>((resolve) => client.on('end', () => resolve()));
    try {
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
      await ended;
    } finally {
      client.release(true);
    }
    // The pool makes a new connection for the next query.
    assert.equal((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
  } finally {
    await pool.end();
    await admin.end();
  }
});
