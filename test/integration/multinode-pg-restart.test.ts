// PostgreSQL stopped and started again (pg_ctl stop -m fast, start) while mail flows to two
// Sealpost nodes sharing it and on to a real Postfix receiver: while it is down the nodes answer
// 451 or 421 (no 250 without a commit), they reconnect by themselves once it is back (both answer
// 250 again), and every message they acknowledged, before, during or after, reaches the receiver.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { openPool } from '../../src/queue/pg/connect.ts';
import { startNodes } from '../helpers/nodes.ts';
import { freePort } from '../helpers/ports.ts';
import { type PostfixReceiver, startPostfixReceiver } from '../helpers/postfix.ts';
import { type Postgres, startPostgres } from '../helpers/postgres.ts';
import { type SendResult, sendOne } from '../helpers/smtp-send.ts';
import { waitFor } from '../helpers/wait.ts';

let server: Postgres | undefined;
let receiver: PostfixReceiver | undefined;
const stops: (() => unknown)[] = [];
before(async () => {
  server = await startPostgres({ after: (fn) => stops.unshift(fn) });
  receiver = await startPostfixReceiver({ after: (fn) => stops.unshift(fn) }, { listen: { port: await freePort() }, domains: ['remote.test'] });
});
after(async () => {
  for (const stop of stops) await stop();
});

interface Reply extends SendResult {
  node: number;
  subject: string;
}

test('PostgreSQL restarted under load on two nodes: 451/421 while down, no 250 without a commit, reconnect, nothing lost', { timeout: 180_000 }, async (t) => {
  assert.ok(server && receiver, 'PostgreSQL and the Postfix receiver started');
  const pg = server;
  const rx = receiver;
  const cluster = await startNodes(t, pg, {
    count: 2,
    config: {
      outbound: { relay: `smtp:[127.0.0.1]:${rx.port}`, relay_tls: 'none' },
      queue: { min_backoff: '1s', max_backoff: '2s' },
      store: { allow_local_maildir: true },
    },
  });
  const replies: Reply[] = [];
  let sending = true;
  let seq = 0;
  // Two senders per node, one message after another, each answered before the next.
  const sender = async (node: number): Promise<void> => {
    while (sending) {
      const subject = `restart-${node}-${++seq}`;
      const r = await sendOne({
        host: cluster.host(node),
        port: (cluster.nodes[node] as (typeof cluster.nodes)[number]).smtpPort,
        from: 'sender@example.test',
        to: `r${seq}@remote.test`,
        subject,
        timeoutMs: 20_000,
      });
      replies.push({ ...r, node, subject });
      // A refusal: pause as a sending MTA would before trying again.
      if (r.code !== 250) await sleep(100);
    }
  };
  const senders = [0, 0, 1, 1].map((n) => sender(n));
  const ok = (node: number, since: number) => replies.some((r) => r.node === node && r.code === 250 && r.at > since);
  await waitFor(() => ok(0, 0) && ok(1, 0), { timeoutMs: 20_000, what: 'both nodes accepting before the restart' });
  await sleep(1000);
  await pg.stop();
  const downAt = Date.now();
  // Down long enough for every sender to be refused a few times.
  await waitFor(() => [0, 1].every((n) => replies.filter((r) => r.node === n && r.at > downAt && r.code !== 250).length >= 3), {
    timeoutMs: 30_000,
    what: 'both nodes refusing while PostgreSQL is down',
  });
  const upAt = Date.now();
  await pg.start();
  const startedAt = Date.now();
  // They reconnect by themselves: both acknowledge mail again.
  await waitFor(() => ok(0, startedAt) && ok(1, startedAt), { timeoutMs: 60_000, what: 'both nodes accepting again after the restart' }).catch((err) => {
    throw new Error(`${(err as Error).message}; the nodes' stderr: ${cluster.nodes.map((n) => n.stderr().slice(-1500)).join('\n---\n')}`);
  });
  await sleep(1000);
  sending = false;
  await Promise.all(senders);

  const down = replies.filter((r) => r.at > downAt && r.at < upAt);
  const codes = new Map<number, number>();
  for (const r of replies) codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
  t.diagnostic(`replies by code: ${JSON.stringify(Object.fromEntries(codes))}; while down: ${down.length}`);
  console.log(`multinode-pg-restart: replies by code ${JSON.stringify(Object.fromEntries(codes))}; while down ${down.length}`);
  assert.deepEqual(
    down.filter((r) => r.code === 250),
    [],
    'no 250 while PostgreSQL was down',
  );
  assert.deepEqual(
    down.filter((r) => r.code !== 451 && r.code !== 421),
    [],
    'while down, every refusal is a 451 or a 421',
  );
  assert.ok(down.some((r) => r.node === 0) && down.some((r) => r.node === 1), 'both nodes were asked while down');
  // Nothing acknowledged is lost: each 250 is at the receiver (once the queues drain).
  const acknowledged = replies.filter((r) => r.code === 250).map((r) => r.subject);
  assert.ok(acknowledged.length > 10, `mail flowed (${acknowledged.length} acknowledged)`);
  const pool = openPool({ url: cluster.url, passwordFile: pg.passwordFile }, 1);
  t.after(() => pool.end());
  const seen = await waitFor(
    async () => {
      const subjects = new Set((await rx.messages()).map((m) => m.subject));
      return acknowledged.every((s) => subjects.has(s)) ? subjects : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 500, what: `the ${acknowledged.length} acknowledged messages at the receiver` },
  ).catch(async (err) => {
    // Which are missing, and what their rows say (a claim renewed but never delivered, a lease …).
    const subjects = new Set((await rx.messages()).map((m) => m.subject));
    const missing = acknowledged.filter((s) => !subjects.has(s));
    const rows = await pool.query(
      `SELECT m.subject, r.state, r.owner, r.lease_until - $1::bigint AS lease_in, r.attempts, r.last_error FROM recipients r JOIN messages m ON m.id = r.message_id`,
      [Date.now()],
    );
    throw new Error(`${(err as Error).message}; missing ${JSON.stringify(missing)}; queue rows ${JSON.stringify(rows.rows)}`);
  });
  assert.ok(seen.size >= acknowledged.length);
  await waitFor(
    async () => Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM recipients WHERE state IN ('queued', 'active', 'held')`)).rows[0]?.n) === 0,
    { timeoutMs: 30_000, what: 'the queue empty' },
  );
});
