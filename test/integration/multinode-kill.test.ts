// Three Sealpost nodes (127.0.0.11-13) sharing one PostgreSQL queue, delivering to a real Postfix
// receiver: in each of 10 trials a batch of messages is accepted on every node, and a node is
// killed with SIGKILL while it holds claims of that batch (Postfix pauses a second before its reply
// to each message, so deliveries are in flight). Every acknowledged message must reach the
// receiver at least once (none lost), the dead node's claims must be taken over within the lease
// and a margin, and the duplicates (messages the dead node had handed over before it could record
// them, no more than the claims it held) are counted and printed. The killed node is started
// again before the next trial.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openPool } from '../../src/queue/pg/connect.ts';
import { startNodes } from '../helpers/nodes.ts';
import { freePort } from '../helpers/ports.ts';
import { type PostfixReceiver, startPostfixReceiver } from '../helpers/postfix.ts';
import { type Postgres, startPostgres } from '../helpers/postgres.ts';
import { sendOne } from '../helpers/smtp-send.ts';
import { waitFor } from '../helpers/wait.ts';

const TRIALS = 10;
const BATCH = 9;
/** [store] lease: the least the config allows (renewed every third of it). */
const LEASE_MS = 5000;
/** What the takeover may take past the lease: the other nodes' next claim, on a loaded machine. */
const MARGIN_MS = 4000;

let server: Postgres | undefined;
let receiver: PostfixReceiver | undefined;
const stops: (() => unknown)[] = [];
before(async () => {
  server = await startPostgres({ after: (fn) => stops.unshift(fn) });
  // A second after each body, before the reply: every delivery is in flight long enough to be killed
  // in, and a node killed then has handed the message over without knowing it (a duplicate).
  receiver = await startPostfixReceiver(
    { after: (fn) => stops.unshift(fn) },
    { listen: { port: await freePort() }, domains: ['remote.test'], mainCf: { smtpd_end_of_data_restrictions: 'sleep 1' } },
  );
});
after(async () => {
  for (const stop of stops) await stop();
});

interface Trial {
  victim: string;
  acknowledged: number;
  claimsAtKill: number;
  takeoverMs: number;
  duplicates: number;
}

test(`kill -9 one of three nodes in the middle of a batch, ${TRIALS} times: nothing acknowledged is lost, the leases are taken over`, {
  timeout: 240_000,
}, async (t) => {
  assert.ok(server && receiver, 'PostgreSQL and the Postfix receiver started');
  const rx = receiver;
  const cluster = await startNodes(t, server, {
    count: 3,
    lease: `${LEASE_MS / 1000}s`,
    config: {
      // Every remote domain to the receiver; four deliveries at a time across the nodes.
      outbound: { relay: `smtp:[127.0.0.1]:${rx.port}`, relay_tls: 'none', concurrency_per_destination: 4 },
      queue: { min_backoff: '1s', max_backoff: '2s' },
      // Only remote mail here; the test domain's Maildir is never delivered to.
      store: { allow_local_maildir: true },
    },
  });
  const pool = openPool({ url: cluster.url, passwordFile: server.passwordFile }, 2);
  t.after(() => pool.end());
  const activeOf = async (owner: string): Promise<number> =>
    Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM recipients WHERE state = 'active' AND owner = $1`, [owner])).rows[0]?.n);
  const open = async (): Promise<number> =>
    Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM recipients WHERE state IN ('queued', 'active', 'held')`)).rows[0]?.n);
  const copies = async (): Promise<Map<string, number>> => {
    const seen = new Map<string, number>();
    for (const m of await rx.messages()) if (m.subject) seen.set(m.subject, (seen.get(m.subject) ?? 0) + 1);
    return seen;
  };

  const trials: Trial[] = [];
  for (let trial = 0; trial < TRIALS; trial++) {
    // The batch, spread over the three nodes; only the messages answered 250 count.
    const sent = await Promise.all(
      Array.from({ length: BATCH }, (_, i) =>
        sendOne({
          host: cluster.host(i % 3),
          port: (cluster.nodes[i % 3] as (typeof cluster.nodes)[number]).smtpPort,
          from: 'sender@example.test',
          to: `r${trial}x${i}@remote.test`,
          subject: `kill-${trial}-${i}`,
        }).then((r) => ({ subject: `kill-${trial}-${i}`, ...r })),
      ),
    );
    const acknowledged = sent.filter((s) => s.code === 250).map((s) => s.subject);
    assert.equal(acknowledged.length, BATCH, `every node accepts while all run: ${JSON.stringify(sent.filter((s) => s.code !== 250))}`);
    // In the middle of the batch: a node holds claims (deliveries in flight). Each trial prefers the
    // next node in turn, else the one holding most (whichever claimed first got the batch).
    const holding = await waitFor(
      async () => {
        const { rows } = await pool.query<{ owner: string; n: string }>(
          `SELECT owner, count(*) AS n FROM recipients WHERE state = 'active' GROUP BY owner ORDER BY 2 DESC`,
        );
        return rows.length > 0 ? rows : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 20, what: `a node to hold claims of trial ${trial}` },
    );
    const preferred = cluster.names[trial % 3] as string;
    const victim = holding.some((r) => r.owner === preferred) ? preferred : (holding[0]?.owner as string);
    const node = cluster.nodes[cluster.names.indexOf(victim)];
    assert.ok(node, `${victim} is one of the nodes`);
    const claimsAtKill = Number(holding.find((r) => r.owner === victim)?.n);
    const killedAt = Date.now();
    await node.kill9();
    // The others take the dead node's claims over once its lease runs out.
    await waitFor(async () => (await activeOf(victim)) === 0, {
      timeoutMs: LEASE_MS + MARGIN_MS + 10_000,
      intervalMs: 50,
      what: `${victim}'s claims taken over`,
    });
    const takeoverMs = Date.now() - killedAt;
    // Started again meanwhile (it recovers nothing of its own: the others have its claims).
    const restarted = node.restart();
    const delivered = await waitFor(
      async () => {
        const seen = await copies();
        return acknowledged.every((s) => (seen.get(s) ?? 0) >= 1) ? seen : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200, what: `the ${acknowledged.length} acknowledged messages of trial ${trial} at the receiver` },
    );
    await restarted;
    await waitFor(async () => (await open()) === 0, { timeoutMs: 30_000, what: 'the queue empty' });
    const duplicates = acknowledged.reduce((n, s) => n + ((delivered.get(s) ?? 0) - 1), 0);
    trials.push({ victim, acknowledged: acknowledged.length, claimsAtKill, takeoverMs, duplicates });
  }
  // Late copies (a duplicate that arrived after its trial's check) are counted at the end.
  const final = await copies();
  const lost = trials.length * BATCH - [...final.keys()].filter((s) => s.startsWith('kill-')).length;
  const duplicates = [...final.entries()].filter(([s]) => s.startsWith('kill-')).reduce((n, [, c]) => n + c - 1, 0);
  const table = trials.map(
    (x, i) => `trial ${i}: killed ${x.victim} holding ${x.claimsAtKill} claims; taken over after ${x.takeoverMs} ms; ${x.duplicates} duplicate(s)`,
  );
  t.diagnostic(`${table.join('\n')}\nacknowledged ${trials.length * BATCH}, lost ${lost}, duplicates ${duplicates}`);
  console.log(`multinode-kill: ${table.join('\n')}\nmultinode-kill: acknowledged ${trials.length * BATCH}, lost ${lost}, duplicates ${duplicates}`);
  assert.equal(lost, 0, 'no acknowledged message lost');
  for (const [i, x] of trials.entries()) {
    assert.ok(
      x.takeoverMs <= LEASE_MS + MARGIN_MS,
      `trial ${i}: ${x.victim}'s claims taken over after ${x.takeoverMs} ms (lease ${LEASE_MS} ms + ${MARGIN_MS} ms)`,
    );
    // Only a delivery the dead node had under way can be made twice.
    const twice = [...final.entries()].filter(([s]) => s.startsWith(`kill-${i}-`)).reduce((n, [, c]) => n + c - 1, 0);
    assert.ok(twice <= x.claimsAtKill, `trial ${i}: ${twice} duplicates, more than the ${x.claimsAtKill} claims ${x.victim} held`);
  }
});
