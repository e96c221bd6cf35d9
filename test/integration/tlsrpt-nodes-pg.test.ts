// The daily TLS reports (tlsrpt/service.ts) with three nodes on one PostgreSQL: each node runs the
// day's report at the same moment over the attempts every node recorded (shared-state/stores.ts);
// each domain's report is sent by exactly one of them (the tlsrpt_sent claim), counts the sessions
// of every node, and leaves out the attempts of report messages another node queued.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Config } from '../../src/config/types.ts';
import { createDkimSigner } from '../../src/dkim/signer.ts';
import { createLogger } from '../../src/log/log.ts';
import type { AttemptRecord } from '../../src/outbound/attempts-store.ts';
import { openPool } from '../../src/queue/pg/connect.ts';
import { migrate } from '../../src/queue/pg/schema.ts';
import { openSharedStores } from '../../src/shared-state/stores.ts';
import { reportDay, type TlsrptDeps } from '../../src/tlsrpt/service.ts';
import { captureLog } from '../helpers/log.ts';
import { type Postgres, startPostgres } from '../helpers/postgres.ts';
import { fakeResolver } from '../unit/dns/fake-resolver.ts';

let server: Postgres | undefined;
const stops: (() => unknown)[] = [];
before(async () => {
  server = await startPostgres({ after: (fn) => stops.unshift(fn) });
});
after(async () => {
  for (const stop of stops) await stop();
});

const DAY = Date.UTC(2026, 11, 1);
const attempt = (queueId: string, domain: string): AttemptRecord => ({
  queueId,
  at: DAY + 3_600_000,
  domain,
  rcpts: [`a@${domain}`],
  mx: `mx.${domain}`,
  ip: '192.0.2.1',
  port: 25,
  policy: 'may',
  policySource: 'default',
  tls: { version: 'TLSv1.3', cipher: 'c', verified: true },
  result: 'delivered',
  reply: { code: 250, text: 'ok' },
  ms: 3,
});

test("three nodes run the day's TLS reports at once: each domain's report is sent once, with every node's sessions", { timeout: 60_000 }, async (t) => {
  assert.ok(server);
  const url = await server.createDatabase(`tlsrpt_nodes_${process.pid}`);
  const store: Config['store'] = { kind: 'postgres', url, passwordFile: server.passwordFile, leaseMs: 60_000 };
  const admin = openPool(store, 1);
  await migrate(admin);
  await admin.end();
  const nodes = await Promise.all(['node1', 'node2', 'node3'].map(async (name) => ({ name, stores: await openSharedStores({ store }, {}) })));
  t.after(async () => {
    for (const n of nodes) await n.stores.close();
  });
  const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
  // mail.test was delivered to by two nodes; ours.test only by node2, with node1's report message.
  a.stores.attempts.record(attempt('Q1', 'mail.test'));
  b.stores.attempts.record(attempt('Q2', 'mail.test'));
  a.stores.attempts.record(attempt('Q3', 'web.test'));
  await a.stores.tlsrptSent.markMessage('R1', DAY - 86_400_000);
  b.stores.attempts.record(attempt('R1', 'ours.test'));
  await Promise.all(nodes.map((n) => n.stores.attempts.flushed()));

  const sent: { node: string; kind: 'mail' | 'post'; to: string; sessions: number }[] = [];
  const resolveTxt = fakeResolver({
    '_smtp._tls.mail.test': { TXT: ['v=TLSRPTv1; rua=mailto:rua@mail.test'] },
    '_smtp._tls.web.test': { TXT: ['v=TLSRPTv1; rua=https://r.web.test/tlsrpt'] },
    '_smtp._tls.ours.test': { TXT: ['v=TLSRPTv1; rua=mailto:rua@ours.test'] },
  }).resolveTxt;
  const deps = (node: (typeof nodes)[0]): TlsrptDeps => {
    let ids = 0;
    return {
      organization: 'Org',
      contact: 'postmaster@org.test',
      hostname: 'mx.org.test',
      from: 'tlsrpt-noreply@org.test',
      signer: createDkimSigner([]),
      now: () => DAY + 86_400_000 + 1000,
      newId: () => `${node.name}-${++ids}`,
      route: (address) => ({ kind: 'remote', address }),
      enqueue: async (m) => void sent.push({ node: node.name, kind: 'mail', to: m.recipients[0]?.address ?? '', sessions: 0 }),
      post: async (u) => {
        sent.push({ node: node.name, kind: 'post', to: u.href, sessions: 0 });
        return { ok: true, status: 200 };
      },
      attempts: node.stores.attempts,
      store: node.stores.tlsrptSent,
      resolveTxt,
      log: createLogger('info', captureLog('info').stream),
      retentionMs: 30 * 86_400_000,
    };
  };
  const runs = await Promise.all(nodes.map((n) => reportDay(DAY, deps(n))));
  assert.equal(
    runs.reduce((n, r) => n + r.reports, 0),
    2,
    `two reports in all: ${JSON.stringify(runs)}`,
  );
  assert.deepEqual(sent.map((s) => [s.kind, s.to]).sort(), [
    ['mail', 'rua@mail.test'],
    ['post', 'https://r.web.test/tlsrpt'],
  ]);
  const reports = await a.stores.tlsrptSent.list();
  assert.deepEqual(
    reports.map((r) => [r.domain, r.state, r.sessions]).sort(),
    [
      ['mail.test', 'sent', 2],
      ['web.test', 'sent', 1],
    ],
    "mail.test's report counts both nodes' sessions; ours.test (a report message of node1) is not reported on",
  );
  // The next look of any node (a restart, the next timer) finds the day done.
  const again = await Promise.all(nodes.map((n) => reportDay(DAY, deps(n))));
  assert.deepEqual(
    again.map((r) => r.reports),
    [0, 0, 0],
  );
  assert.equal(sent.length, 2);
});
