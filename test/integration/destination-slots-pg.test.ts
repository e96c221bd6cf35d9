// [outbound] concurrency_per_destination across nodes, counted in PostgreSQL (queue/pg/slots.ts):
// two nodes (two pools, two slot sets) on one database never hold more slots of a destination than
// the limit together; a dead node's slots are free once its lease runs out; a release wakes a
// waiting node at once (NOTIFY); two remote couriers delivering to one receiver open no more
// sessions together than the limit; two Sealpost daemons on one database deliver to a destination
// no more at once than its limit.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { parseNextHop } from '../../src/config/transport.ts';
import type { NextHop } from '../../src/config/types.ts';
import { createNodeResolver } from '../../src/dns/node-resolver.ts';
import { createLogger } from '../../src/log/log.ts';
import { RemoteCourier } from '../../src/outbound/courier.ts';
import { clientConfig, openPool } from '../../src/queue/pg/connect.ts';
import { migrate } from '../../src/queue/pg/schema.ts';
import { PgDestinationSlots, type PgDestinationSlotsDeps } from '../../src/queue/pg/slots.ts';
import { startNodes } from '../helpers/nodes.ts';
import { freePort } from '../helpers/ports.ts';
import { type Postgres, startPostgres } from '../helpers/postgres.ts';
import { sendOne } from '../helpers/smtp-send.ts';
import type { Scope } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';
import { job, outboundConfig } from './outbound-setup.ts';

let server: Postgres | undefined;
const stops: (() => unknown)[] = [];
before(async () => {
  server = await startPostgres({ after: (fn) => stops.unshift(fn) });
});
after(async () => {
  for (const stop of stops) await stop();
});

let databases = 0;

/** A fresh migrated database and how to open a node's slots on it (own pool, LISTEN). */
async function slotsDatabase(scope: Scope): Promise<(node: string, extra?: Partial<PgDestinationSlotsDeps>) => Promise<PgDestinationSlots>> {
  assert.ok(server, 'the PostgreSQL server started');
  const settings = { url: await server.createDatabase(`slots_${process.pid}_${++databases}`), passwordFile: server.passwordFile };
  const admin = openPool(settings, 1);
  await migrate(admin);
  await admin.end();
  return async (node, extra = {}) => {
    const pool = openPool(settings, 8);
    const slots = await PgDestinationSlots.open({
      pool,
      node,
      leaseMs: 60_000,
      listenClient: () => new pg.Client(clientConfig(settings)),
      ...extra,
    });
    scope.after(async () => {
      await slots.close();
      await pool.end().catch(() => undefined);
    });
    return slots;
  };
}

test('two nodes together hold no more slots of a destination than the limit, and every waiter gets one', { timeout: 60_000 }, async (t) => {
  const open = await slotsDatabase(t);
  const nodes = [await open('node-a'), await open('node-b')];
  const limit = 3;
  let running = 0;
  let most = 0;
  const owners = new Set<string>();
  await Promise.all(
    Array.from({ length: 40 }, async (_, i) => {
      const node = nodes[i % 2] as PgDestinationSlots;
      const release = await node.acquire('dest.test', limit);
      running++;
      most = Math.max(most, running);
      owners.add(i % 2 ? 'node-b' : 'node-a');
      await sleep(5 + (i % 4) * 5);
      running--;
      release();
    }),
  );
  assert.equal(most, limit, 'the limit was reached and never passed');
  assert.deepEqual([...owners].sort(), ['node-a', 'node-b'], 'both nodes delivered');
  // Another destination has its own slots.
  const a = await (nodes[0] as PgDestinationSlots).acquire('other.test', 1);
  const b = (nodes[1] as PgDestinationSlots).acquire('elsewhere.test', 1);
  (await b)();
  a();
});

test("a dead node's slots are free once its lease runs out, not before", { timeout: 60_000 }, async (t) => {
  const open = await slotsDatabase(t);
  const leaseMs = 1500;
  // Heartbeat off: the node stops renewing, as a node killed with SIGKILL does.
  const dead = await open('node-dead', { leaseMs, heartbeat: false });
  const alive = await open('node-b', { leaseMs, pollMs: 30_000 });
  const started = Date.now();
  await dead.acquire('dest.test', 2);
  await dead.acquire('dest.test', 2);
  await dead.close();
  const release = await alive.acquire('dest.test', 2);
  const waited = Date.now() - started;
  assert.ok(waited >= leaseMs - 50, `waited ${waited} ms for a lease of ${leaseMs} ms`);
  assert.ok(waited < leaseMs + 2000, `took over within the lease and a margin (${waited} ms)`);
  const held = await alive.held();
  assert.deepEqual(
    held.map((h) => h.owner).sort(),
    ['node-b', 'node-dead'],
    'one expired slot taken over (either: the pick is random); the other stays the dead node’s row until needed',
  );
  release();
});

test('a release on one node wakes the node waiting for that destination at once (NOTIFY)', { timeout: 60_000 }, async (t) => {
  const open = await slotsDatabase(t);
  const a = await open('node-a');
  // A poll of 30 s: only the NOTIFY can end the wait within the deadline below.
  const b = await open('node-b', { pollMs: 30_000 });
  const releaseA = await a.acquire('dest.test', 1);
  let gotAt = 0;
  const waiting = b.acquire('dest.test', 1).then((release) => {
    gotAt = Date.now();
    return release;
  });
  await sleep(300);
  assert.equal(gotAt, 0, 'node b waits while node a holds the only slot');
  const releasedAt = Date.now();
  releaseA();
  const releaseB = await waiting;
  assert.ok(gotAt - releasedAt < 2000, `woken ${gotAt - releasedAt} ms after the release`);
  releaseB();
  // Restarting a node frees the slots it held when it stopped.
  await b.acquire('dest.test', 1);
  const again = await open('node-b');
  assert.deepEqual(await again.held(), [], 'node-b restarted: its old slot is gone');
});

test('two remote couriers sharing the slots deliver no more messages to a destination at once than the limit together', { timeout: 90_000 }, async (t) => {
  const open = await slotsDatabase(t);
  // Transactions in progress (MAIL FROM to the reply after DATA): what the limit counts. Idle
  // pooled sessions hold no slot.
  let busy = 0;
  let most = 0;
  let delivered = 0;
  const receiver = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    onMailFrom(_a, _s, cb) {
      busy++;
      most = Math.max(most, busy);
      cb();
    },
    onData(stream, _s, cb) {
      stream.resume();
      stream.on('end', () => {
        delivered++;
        // Slow enough that without shared slots both couriers' deliveries overlap.
        setTimeout(() => {
          busy--;
          cb();
        }, 150);
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => receiver.listen(port, '127.0.0.1', () => resolve()));
  t.after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
  const relay = parseNextHop(`smtp:[127.0.0.1]:${port}`) as NextHop;
  const limit = 2;
  const couriers = await Promise.all(
    ['node-a', 'node-b'].map(async (node) => {
      const courier = new RemoteCourier({
        hostname: 'sender.sealpost.test',
        outbound: () => outboundConfig(port, { concurrencyPerDestination: limit, relay }),
        // A relay by IP address: no lookups.
        resolver: createNodeResolver({ servers: ['127.0.0.1'], timeoutMs: 500 }),
        trust: tls.createSecureContext(),
        log: createLogger('silent', 'stdout'),
        sharedSlots: await open(node),
        idleMs: 0,
      });
      t.after(() => courier.close());
      return courier;
    }),
  );
  const results = await Promise.all(
    Array.from({ length: 12 }, (_, i) => (couriers[i % 2] as RemoteCourier).deliver(job([`r${i}@dest.test`], `Subject: ${i}\n\nbody\n`))),
  );
  for (const r of results) assert.equal(r.get(1)?.kind, 'delivered', JSON.stringify(r.get(1)));
  assert.equal(delivered, 12);
  assert.equal(most, limit, `${limit} deliveries at once across both nodes at most; saw ${most}`);
});

test('two Sealpost nodes with concurrency_per_destination = 1 deliver to a destination one message at a time between them', { timeout: 120_000 }, async (t) => {
  assert.ok(server, 'the PostgreSQL server started');
  let busy = 0;
  let most = 0;
  const delivered: string[] = [];
  const receiver = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    logger: false,
    onMailFrom(_a, _s, cb) {
      busy++;
      most = Math.max(most, busy);
      cb();
    },
    onData(stream, _s, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        delivered.push(/^Subject: (.*)$/m.exec(Buffer.concat(chunks).toString())?.[1]?.trim() ?? '');
        setTimeout(() => {
          busy--;
          cb();
        }, 200);
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => receiver.listen(port, '127.0.0.1', () => resolve()));
  t.after(() => new Promise<void>((resolve) => receiver.close(() => resolve())));
  const cluster = await startNodes(t, server, {
    count: 2,
    config: { outbound: { relay: `smtp:[127.0.0.1]:${port}`, relay_tls: 'none', concurrency_per_destination: 1 }, store: { allow_local_maildir: true } },
  });
  const sent = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      sendOne({
        host: cluster.host(i % 2),
        port: (cluster.nodes[i % 2] as (typeof cluster.nodes)[number]).smtpPort,
        from: 'sender@example.test',
        to: `r${i}@dest.test`,
        subject: `slot-${i}`,
      }),
    ),
  );
  assert.deepEqual(
    sent.map((s) => s.code),
    Array(8).fill(250),
  );
  await waitFor(() => delivered.length >= 8, { timeoutMs: 60_000, what: '8 messages at the receiver' });
  assert.deepEqual([...delivered].sort(), Array.from({ length: 8 }, (_, i) => `slot-${i}`).sort(), 'each delivered once');
  assert.equal(most, 1, `one delivery at a time across both nodes; saw ${most}`);
});
