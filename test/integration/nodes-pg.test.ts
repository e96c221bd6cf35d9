// Two Sealpost nodes (127.0.0.11 and 127.0.0.12) sharing one PostgreSQL queue: mail accepted on
// either is delivered exactly once, locally over LMTP to a real Dovecot the nodes share and
// remotely to a real Postfix receiver; the operator's commands work from either node; PostgreSQL
// stopped under a trickle of mail gives 451s and no 250, and everything acknowledged is delivered
// once it is back. Loopback only (netless), needs root (postgres, dovecot, postfix).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';
import type { SealpostDaemon } from '../helpers/daemon.ts';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { type Dovecot, startDovecot } from '../helpers/dovecot.ts';
import { type SealpostNodes, startNodes } from '../helpers/nodes.ts';
import { freePort } from '../helpers/ports.ts';
import { type PostfixReceiver, startPostfixReceiver } from '../helpers/postfix.ts';
import { type Postgres, startPostgres } from '../helpers/postgres.ts';
import type { Overrides, SealpostToml } from '../helpers/sealpost-config.ts';
import { swaksSend } from '../helpers/swaks.ts';
import type { Scope } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

let server: Postgres | undefined;
let dns: DnsServer | undefined;
const stops: (() => unknown)[] = [];
before(async () => {
  server = await startPostgres({ after: (fn) => stops.unshift(fn) });
  dns = await startDnsServer();
});
after(async () => {
  await dns?.close();
  for (const stop of stops) await stop();
});

const LOCAL = ['dora@lmtp.test', 'erin@lmtp.test'];

interface Peers {
  dovecot: Dovecot;
  postfix: PostfixReceiver;
  cluster: SealpostNodes;
}

/** Dovecot (LMTP on TCP) for lmtp.test, Postfix as the MX of remote.test, two nodes. */
async function twoNodes(t: Scope, name: string, extra: Overrides<SealpostToml> = {}, perNode?: (index: number) => Overrides<SealpostToml>): Promise<Peers> {
  assert.ok(server && dns);
  const dovecot = await startDovecot(
    t,
    LOCAL.map((address) => ({ address })),
  );
  const port = await freePort('127.0.0.70');
  const postfix = await startPostfixReceiver(t, {
    name: `remote-${name}`,
    hostname: 'mx.remote.test',
    listen: { host: '127.0.0.70', port },
    domains: ['remote.test'],
    mainCf: { inet_interfaces: 'all' },
  });
  t.after(() => postfix.stop());
  dns.zone.set('remote.test', { MX: [{ preference: 10, exchange: 'mx.remote.test' }] });
  dns.zone.set('mx.remote.test', { A: ['127.0.0.70'] });
  const cluster = await startNodes(t, server, {
    count: 2,
    config: {
      dns: { servers: [dns.address] },
      ...extra,
      domain: [{ name: 'lmtp.test', mailboxes: ['dora', 'erin', 'postmaster'], delivery: `lmtp:127.0.0.1:${dovecot.lmtpPort}` }, ...(extra.domain ?? [])],
      outbound: { port, tls_default: 'may', ...extra.outbound },
    },
    ...(perNode ? { perNode } : {}),
  });
  return { dovecot, postfix, cluster };
}

/** Sends one message through `node`; returns the SMTP exchange's result and its queue id if accepted. */
async function send(node: SealpostDaemon, host: string, to: readonly string[], subject: string) {
  const sent = await swaksSend({ host, port: node.smtpPort, from: 'sender@outside.test', to, subject });
  return { ...sent, queueId: /queued as (\S+)/.exec(sent.stdout)?.[1] };
}

test('two nodes on one PostgreSQL (one with session processes): mail accepted on either is delivered exactly once, over LMTP to Dovecot and to a Postfix MX', {
  timeout: 240_000,
}, async (t) => {
  // node2 with two session processes: its primary commits their messages through the same store.
  const { dovecot, postfix, cluster } = await twoNodes(t, 'once', {}, (i) => (i === 1 ? { server: { processes: 2 } } : {}));
  const subjects: string[] = [];
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    const n = i % 2;
    const node = cluster.nodes[n];
    assert.ok(node);
    const subject = `multi ${i} via node${n + 1}`;
    const sent = await send(node, cluster.host(n), [LOCAL[i % 2] as string, `r${i}@remote.test`], subject);
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    assert.ok(sent.queueId, sent.stdout);
    subjects.push(subject);
    ids.push(sent.queueId);
  }
  const remote = await postfix.waitForMessages(10, 60_000);
  await waitFor(
    async () => {
      const got = (await Promise.all(LOCAL.map((a) => dovecot.readMaildir(a)))).flat();
      return got.length >= 10;
    },
    { timeoutMs: 60_000, what: 'ten local deliveries in Dovecot' },
  );
  // Every message's recipients are delivered once: no node delivered what the other did.
  const deliveredRecords = () => cluster.nodes.flatMap((node) => node.findLogs({ event: 'delivered' }));
  await waitFor(() => deliveredRecords().length >= 20, { timeoutMs: 30_000, what: 'twenty delivered records' });
  const delivered = deliveredRecords();
  assert.equal(delivered.length, 20, JSON.stringify(delivered.map((d) => [d['queueId'], d['to']])));
  assert.equal(new Set(delivered.map((d) => `${d['queueId']} ${d['to']}`)).size, 20);
  assert.deepEqual(new Set(delivered.map((d) => d['queueId'])), new Set(ids));
  assert.deepEqual(remote.map((m) => m.subject).sort(), [...subjects].sort());
  const local = (await Promise.all(LOCAL.map((a) => dovecot.readMaildir(a)))).flat();
  assert.deepEqual(local.map((m) => m.subject).sort(), [...subjects].sort());
  // Both nodes took part in delivering (the shared queue, not each its own).
  for (const [i, node] of cluster.nodes.entries()) assert.ok(node.findLogs({ event: 'received' }).length > 0, `node${i + 1} accepted mail`);
  // Nothing left in the shared queue, nothing after a while either (no second delivery).
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.equal((await postfix.messages()).length, 10);
  // SIGTERM: each node finishes, closes its store and pool, and exits cleanly.
  for (const node of cluster.nodes) {
    const exit = await node.stop();
    assert.equal(exit.code, 0, node.stderr());
    assert.ok(node.findLogs({ event: 'daemon', state: 'stopped' }).length === 1);
  }
});

test('PostgreSQL stopped under a trickle of mail: 451 4.3.0 and no 250 while it is down, the nodes stay up, and everything acknowledged is delivered once it is back', {
  timeout: 300_000,
}, async (t) => {
  assert.ok(server);
  const pgServer = server;
  const { dovecot, postfix, cluster } = await twoNodes(t, 'down');
  interface Sent {
    i: number;
    began: number;
    ended: number;
    code: number;
    queueId: string | undefined;
    stdout: string;
  }
  const results: Sent[] = [];
  let trickling = true;
  let i = 0;
  const trickle = (async () => {
    while (trickling) {
      const n = i % 2;
      const node = cluster.nodes[n];
      assert.ok(node);
      const began = Date.now();
      const sent = await send(node, cluster.host(n), [LOCAL[i % 2] as string, `t${i}@remote.test`], `trickle ${i}`);
      results.push({ i, began, ended: Date.now(), code: sent.code ?? -1, queueId: sent.queueId, stdout: sent.stdout });
      i++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  await waitFor(() => results.filter((r) => r.queueId).length >= 4, { timeoutMs: 30_000, what: 'mail accepted before the stop' });
  await pgServer.stop();
  const downAt = Date.now();
  await waitFor(() => results.filter((r) => r.began > downAt).length >= 6, { timeoutMs: 60_000, what: 'six messages tried while PostgreSQL is down' });
  // The operator's commands say the database does not answer, and where they looked.
  const list = await cluster.nodes[0]?.cli(['queue', 'list']);
  assert.equal(list?.code, 1, list?.stdout);
  assert.match(
    list?.stderr ?? '',
    /^sealpost queue list: the PostgreSQL queue at postgres:\/\/sealpost@127\.0\.0\.1:\d+\/\S+ does not answer \(.*\); check store\.url, the password \(store\.password_file or PGPASSFILE\), and that PostgreSQL runs/m,
  );
  const upBegan = Date.now();
  await pgServer.start();
  const upAt = Date.now();
  await waitFor(() => results.filter((r) => r.began > upAt && r.queueId).length >= 4, { timeoutMs: 60_000, what: 'mail accepted again after the start' });
  trickling = false;
  await trickle;

  const whileDown = results.filter((r) => r.began > downAt && r.ended < upBegan);
  assert.ok(whileDown.length >= 6, `${whileDown.length} tried while down`);
  for (const r of whileDown) {
    assert.equal(r.queueId, undefined, `no 250 without a COMMIT: trickle ${r.i}\n${r.stdout}`);
    assert.match(r.stdout, /<\*\* 451 4\.3\.0 Queue database unavailable/, `trickle ${r.i}: ${r.stdout}\n${cluster.nodes.map((n) => n.stderr()).join('\n')}`);
  }
  // The nodes stayed up and say so once the database answers again.
  for (const node of cluster.nodes) assert.ok(node.pid() !== undefined, 'the node is still running');
  const acknowledged = results.filter((r) => r.queueId);
  const subjects = acknowledged.map((r) => `trickle ${r.i}`).sort();
  const remote = await postfix.waitForMessages(acknowledged.length, 90_000);
  await waitFor(async () => (await Promise.all(LOCAL.map((a) => dovecot.readMaildir(a)))).flat().length >= acknowledged.length, {
    timeoutMs: 90_000,
    what: 'every acknowledged message in Dovecot',
  });
  const local = (await Promise.all(LOCAL.map((a) => dovecot.readMaildir(a)))).flat();
  // Every acknowledged message arrived (at least once; one in flight at the stop may come twice).
  const remoteSubjects = remote.map((m) => m.subject ?? '');
  const localSubjects = local.map((m) => m.subject ?? '');
  for (const s of subjects) {
    assert.ok(remoteSubjects.includes(s), `${s} delivered to the Postfix MX`);
    assert.ok(localSubjects.includes(s), `${s} delivered to Dovecot`);
  }
  const duplicates = remoteSubjects.length + localSubjects.length - 2 * new Set(remoteSubjects).size;
  t.diagnostic(`${acknowledged.length} acknowledged, ${whileDown.length} refused while down, ${duplicates} duplicate deliveries`);
  // Nothing refused was delivered.
  for (const r of whileDown) assert.ok(!remoteSubjects.includes(`trickle ${r.i}`), `trickle ${r.i} was refused and not delivered`);
  // One record each when the episode began and ended, per node that noticed.
  for (const [n, node] of cluster.nodes.entries()) {
    if (node.findLogs({ event: 'storage', state: 'failing' }).length === 0) continue;
    await waitFor(() => node.findLogs({ event: 'storage', state: 'recovered' }).length > 0, {
      timeoutMs: 15_000,
      what: `node${n + 1} to log the database back`,
    });
  }
});

test("the operator from either node: sealpost send commits to the shared queue; held via node1 shows held in node2's queue list, claims show their node and lease, nodes and status list both, release from a stopped node's config wakes the other (NOTIFY), a silent node is marked gone", {
  timeout: 300_000,
}, async (t) => {
  assert.ok(dns);
  // Deferred mail waits an hour: nothing but the operator (and NOTIFY) moves it.
  const metricsPort = await freePort('127.0.0.11');
  // down.test: an LMTP server that is not there (its deliveries deferred, with their error).
  const closedLmtp = await freePort();
  const extra: Overrides<SealpostToml> = {
    queue: { min_backoff: '1h', max_backoff: '2h' },
    outbound: { command_timeout_s: 120 },
    domain: [{ name: 'down.test', mailboxes: ['u'], delivery: `lmtp:127.0.0.1:${closedLmtp}` }],
  };
  const { dovecot, postfix, cluster } = await twoNodes(t, 'cli', extra, (i) => (i === 0 ? { listen: { metrics: [`127.0.0.11:${metricsPort}`] } } : {}));
  const [a, b] = cluster.nodes;
  assert.ok(a && b);
  // deferred.test: SERVFAIL (a transient failure); slow.test: an MX that accepts and never greets.
  dns.zone.set('deferred.test', { rcode: 'SERVFAIL' });
  const silent = net.createServer(() => undefined);
  const sockets = new Set<net.Socket>();
  silent.on('connection', (s) => sockets.add(s));
  await new Promise<void>((resolve) => silent.listen(postfix.port, '127.0.0.71', resolve));
  const closeSilent = async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
  };
  t.after(() => (silent.listening ? closeSilent() : undefined));
  dns.zone.set('slow.test', { MX: [{ preference: 10, exchange: 'mx.slow.test' }] });
  dns.zone.set('mx.slow.test', { A: ['127.0.0.71'] });

  const held = await send(a, cluster.host(0), ['x@deferred.test'], 'to hold');
  assert.ok(held.queueId, held.stdout);
  const heldId = held.queueId;
  await waitFor(() => cluster.nodes.some((n) => n.findLogs({ event: 'deferred', queueId: heldId }).length > 0), {
    timeoutMs: 30_000,
    what: 'the first attempt deferred',
  });
  const hold = await a.cli(['queue', 'hold', heldId]);
  assert.equal(hold.code, 0, hold.stderr);
  assert.match(hold.stdout, /^1 queued recipient: hold done$/m);
  const listB = await b.cli(['queue', 'list']);
  assert.equal(listB.code, 0, listB.stderr);
  assert.match(listB.stdout, new RegExp(`^${heldId} .* → x@deferred\\.test \\[held, 1 attempt\\]$`, 'm'));

  const slow = await send(b, cluster.host(1), ['y@slow.test'], 'claimed');
  assert.ok(slow.queueId, slow.stdout);
  const slowId = slow.queueId;
  const claimed = await waitFor(
    async () => {
      const list = await a.cli(['queue', 'list', '--json']);
      const page = JSON.parse(list.stdout) as { messages: { id: string; recipients: { state: string; owner?: string; leaseUntil?: number }[] }[] };
      const r = page.messages.find((m) => m.id === slowId)?.recipients[0];
      return r?.state === 'active' && r;
    },
    { timeoutMs: 30_000, what: 'the slow message claimed, seen from node1' },
  );
  assert.ok(claimed.owner && cluster.names.includes(claimed.owner), JSON.stringify(claimed));
  assert.ok((claimed.leaseUntil ?? 0) > Date.now(), 'the lease runs');
  const show = await a.cli(['queue', 'show', slowId]);
  assert.match(show.stdout, new RegExp(`y@slow\\.test: active, claimed by ${claimed.owner} until \\d{4}-`));

  const nodes = await b.cli(['nodes', '--json']);
  assert.equal(nodes.code, 0, nodes.stderr);
  const listed = JSON.parse(nodes.stdout) as { nodes: { name: string; gone: boolean; claims: number; heartbeatAgeMs: number }[] };
  assert.deepEqual(
    listed.nodes.map((n) => [n.name, n.gone]),
    [
      ['node1', false],
      ['node2', false],
    ],
  );
  assert.equal(listed.nodes.find((n) => n.name === claimed.owner)?.claims, 1);
  assert.ok(listed.nodes.every((n) => n.heartbeatAgeMs < 10_000));
  const nodesText = await a.cli(['nodes']);
  assert.match(nodesText.stdout, /^node1 {2}live {2}heartbeat \d+s ago/m);
  assert.match(nodesText.stdout, /^-- 2 nodes, 2 live/m);

  const down = await send(a, cluster.host(0), ['u@down.test'], 'lmtp down');
  assert.ok(down.queueId, down.stdout);
  const downId = down.queueId;
  await waitFor(() => cluster.nodes.some((n) => n.findLogs({ event: 'deferred', queueId: downId }).length > 0), {
    timeoutMs: 30_000,
    what: 'the LMTP delivery deferred',
  });
  const status = await a.cli(['status', '--json']);
  const report = JSON.parse(status.stdout) as {
    queue: { messages: number; recipients: Record<string, Record<string, number>> };
    queueDatabase: { url: string; nodes: { name: string }[] };
    lastErrors: { queueId: string; to: string; result: string }[];
  };
  assert.equal(report.queue.messages, 3);
  assert.deepEqual(report.queue.recipients['remote'], { active: 1, held: 1 });
  assert.deepEqual(report.queue.recipients['local'], { queued: 1 });
  // The local recipient's error is the shared queue's, whichever node tried it.
  const localError = report.lastErrors.find((e) => e.queueId === downId);
  assert.equal(localError?.to, 'u@down.test', JSON.stringify(report.lastErrors));
  assert.equal(localError?.result, 'transient');
  assert.deepEqual(
    report.queueDatabase.nodes.map((n) => n.name),
    ['node1', 'node2'],
  );
  assert.match((await b.cli(['status'])).stdout, /^queue \(PostgreSQL postgres:\/\/sealpost@127\.0\.0\.1:\d+\/\S+\)$\n {2}3 messages/m);

  // node1's queue gauges count the shared queue (refreshed every 10 s), not its node-local database.
  await waitFor(
    async () => {
      const text = await (await fetch(`http://127.0.0.11:${metricsPort}/metrics`)).text();
      return /^sealpost_queue_messages 3$/m.test(text) && /^sealpost_queue_recipients\{transport="remote",state="held"\} 1$/m.test(text);
    },
    { timeoutMs: 25_000, intervalMs: 500, what: "node1's metrics to show the shared queue's three messages, one held" },
  );

  // sealpost send on a node commits to the shared queue (not the node-local database).
  const sent = await b.cli(['send', '-f', 'ops@outside.test', 'dora@lmtp.test'], 'Subject: by send\n\nfrom a local program\n');
  assert.equal(sent.code, 0, sent.stderr);
  const sentId = /^queued as (\S+)$/m.exec(sent.stdout)?.[1];
  assert.ok(sentId, sent.stdout);
  await waitFor(async () => (await dovecot.readMaildir('dora@lmtp.test')).some((m) => m.subject === 'by send'), {
    timeoutMs: 30_000,
    what: 'the sent message in Dovecot',
  });
  await waitFor(() => cluster.nodes.flatMap((n) => n.findLogs({ event: 'delivered', queueId: sentId })).length === 1, {
    timeoutMs: 10_000,
    what: 'one delivered record of the sent message',
  });

  // The slow MX goes away (the claim is deferred an hour); node2 stops. Released with node2's
  // config, the message is node1's to try at once: only NOTIFY tells it (its timer says an hour).
  await closeSilent();
  await waitFor(() => cluster.nodes.some((n) => n.findLogs({ event: 'deferred', queueId: slowId }).length > 0), {
    timeoutMs: 30_000,
    what: 'the slow message deferred',
  });
  await b.stop();
  const since = a.logs().length;
  const release = await b.cli(['queue', 'release', heldId]);
  assert.equal(release.code, 0, release.stderr);
  assert.match(release.stdout, /^1 held recipient: release done$/m);
  const again = await a.waitForLog((r) => r.event === 'deferred' && r['queueId'] === heldId && r['attempt'] === 2, { since, timeoutMs: 10_000 });
  assert.equal(again['to'], 'x@deferred.test');
  // node2 is silent now: gone once 3 leases (3 × 6 s) have passed without its heartbeat.
  await waitFor(
    async () => {
      const r = JSON.parse((await a.cli(['nodes', '--json'])).stdout) as { nodes: { name: string; gone: boolean }[] };
      return r.nodes.find((n) => n.name === 'node2')?.gone === true && r.nodes.find((n) => n.name === 'node1')?.gone === false;
    },
    { timeoutMs: 40_000, intervalMs: 1000, what: 'node2 marked gone, node1 live' },
  );
});

test('a node killed with claims in flight queues them again when it starts (recover by its node name), before its lease would have run out', {
  timeout: 180_000,
}, async (t) => {
  assert.ok(server && dns);
  const port = await freePort('127.0.0.70');
  const postfix = await startPostfixReceiver(t, {
    name: 'remote-recover',
    hostname: 'mx.remote.test',
    listen: { host: '127.0.0.70', port },
    domains: ['recover.test'],
    mainCf: { inet_interfaces: 'all' },
  });
  t.after(() => postfix.stop());
  // First an MX that accepts and never greets: the delivery hangs with its claim held.
  const silent = net.createServer(() => undefined);
  const sockets = new Set<net.Socket>();
  silent.on('connection', (s) => sockets.add(s));
  await new Promise<void>((resolve) => silent.listen(port, '127.0.0.71', resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    if (silent.listening) await new Promise((resolve) => silent.close(resolve));
  });
  dns.zone.set('recover.test', { MX: [{ preference: 10, exchange: 'mx.recover.test' }] });
  dns.zone.set('mx.recover.test', { A: ['127.0.0.71'] });
  const { nodes } = await startNodes(t, server, {
    count: 1,
    lease: '60s',
    config: {
      domain: [{ name: 'lmtp.test', mailboxes: ['dora'], delivery: 'lmtp:127.0.0.1:24' }],
      dns: { servers: [dns.address] },
      outbound: { port, tls_default: 'may', command_timeout_s: 300 },
    },
  });
  const [node] = nodes;
  assert.ok(node);
  const sent = await send(node, '127.0.0.11', ['z@recover.test'], 'recovered');
  assert.ok(sent.queueId, sent.stdout);
  const id = sent.queueId;
  await waitFor(
    async () => {
      const page = JSON.parse((await node.cli(['queue', 'list', '--json'])).stdout) as { messages: { id: string; recipients: { owner?: string }[] }[] };
      return page.messages.find((m) => m.id === id)?.recipients[0]?.owner === 'node1';
    },
    { timeoutMs: 30_000, what: 'the message claimed by node1' },
  );
  await node.kill9();
  // The MX answers now; the claim is still node1's, leased for a minute.
  dns.zone.set('mx.recover.test', { A: ['127.0.0.70'] });
  const since = node.logs().length;
  const restartedAt = Date.now();
  await node.restart();
  const recovered = await node.waitForLog({ event: 'daemon', state: 'recovered' }, { since });
  assert.equal(recovered['recipients'], 1);
  assert.equal(recovered['node'], 'node1');
  await node.waitForLog({ event: 'delivered', queueId: id }, { since, timeoutMs: 30_000 });
  assert.ok(Date.now() - restartedAt < 60_000, 'delivered before the lease would have let any claim take it over');
  const [message] = await postfix.waitForMessages(1, 10_000);
  assert.equal(message?.subject, 'recovered');
});
