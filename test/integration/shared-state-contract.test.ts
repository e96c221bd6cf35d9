// The shared-state contracts (users, attempts, the MTA-STS cache, TLS reports received and sent:
// src/shared-state/stores.ts): one suite per store, run against data_dir's SQLite and against
// PostgreSQL (a real server started for this file), so both keep the same semantics. "Two nodes"
// are two openings of the same database (PostgreSQL: each with its own pool, as two machines).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Config } from '../../src/config/types.ts';
import { MIGRATIONS_DIR, openDb } from '../../src/db/open.ts';
import type { AttemptRecord, AttemptsCursor } from '../../src/outbound/attempts-store.ts';
import { openPool } from '../../src/queue/pg/connect.ts';
import { MIGRATIONS, migrate } from '../../src/queue/pg/schema.ts';
import { openSharedStores, SharedSchemaBehind, type SharedStores } from '../../src/shared-state/stores.ts';
import type { TlsReport } from '../../src/tlsrpt/parse.ts';
import { type Postgres, startPostgres } from '../helpers/postgres.ts';
import { type Scope, tempDir } from '../helpers/tmp.ts';

let server: Postgres | undefined;
const stops: (() => unknown)[] = [];
before(async () => {
  server = await startPostgres({ after: (fn) => stops.unshift(fn) });
});
after(async () => {
  for (const stop of stops) await stop();
});

/** A database and a way to open the stores on it (a node; call twice for two nodes). */
type Opener = () => Promise<SharedStores>;

let databases = 0;
const backends: { name: string; database: (scope: Scope) => Promise<Opener> }[] = [
  {
    name: 'SQLite',
    async database(scope) {
      const dir = await tempDir(scope, 'sealpost-shared-');
      return async () => {
        const db = openDb(dir, MIGRATIONS_DIR);
        const stores = await openSharedStores({ store: { kind: 'sqlite' } }, { db });
        scope.after(async () => {
          await stores.close();
          db.close();
        });
        return stores;
      };
    },
  },
  {
    name: 'PostgreSQL',
    async database(scope) {
      assert.ok(server, 'the PostgreSQL server started');
      const url = await server.createDatabase(`shared_${process.pid}_${++databases}`);
      const store: Config['store'] = { kind: 'postgres', url, passwordFile: server.passwordFile, leaseMs: 60_000 };
      const admin = openPool(store, 1);
      await migrate(admin);
      await admin.end();
      return async () => {
        const stores = await openSharedStores({ store }, {});
        scope.after(() => stores.close());
        return stores;
      };
    },
  },
];

function attempt(queueId: string, at: number, extra: Partial<AttemptRecord> = {}): AttemptRecord {
  return {
    queueId,
    at,
    domain: 'dest.test',
    rcpts: ['a@dest.test'],
    mx: 'mx.dest.test',
    ip: '192.0.2.1',
    port: 25,
    policy: 'may',
    policySource: 'default',
    result: 'delivered',
    ms: 12,
    ...extra,
  };
}

/** Every field an attempt can carry. */
const FULL: AttemptRecord = {
  queueId: 'FULL',
  at: 1_700_000_000_123,
  domain: 'dest.test',
  rcpts: ['a@dest.test', 'b@dest.test'],
  mx: 'mx.dest.test',
  ip: '2001:db8::25',
  port: 25,
  policy: 'dane',
  policySource: 'mta-sts',
  tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', verified: false, error: 'certificate has expired' },
  downgrade: 'handshake failed',
  result: 'mixed',
  reply: { code: 451, enhanced: '4.3.0', text: 'try later' },
  error: 'one recipient deferred',
  ms: 1234,
  transport: 'relay',
  dane: { tlsa: 2, usable: 1, matched: '3 1 1', error: null, records: ['3 1 1 abcd'] },
  source: '192.0.2.7',
  stsPolicy: { id: 'id1', mode: 'enforce', mx: ['mx.dest.test'], maxAge: 86_400 },
  stsProblem: { kind: 'sts-policy-fetch-error', detail: 'HTTP 404' },
};

const REPORT: TlsReport = {
  organization: 'Company-X',
  contact: 'sts-reporting@company-x.example',
  reportId: '5065427c-23d3-47ca-b6e0-946ea0e8c4be',
  start: Date.UTC(2016, 3, 1),
  end: Date.UTC(2016, 3, 1, 23, 59, 59),
  policies: [
    {
      type: 'sts',
      domain: 'company-y.example',
      mxHosts: ['*.mail.company-y.example'],
      successes: 5326,
      failures: 303,
      details: [
        {
          resultType: 'certificate-expired',
          sendingMtaIp: '2001:db8:abcd:0012::1',
          receivingMx: 'mx1.mail.company-y.example',
          receivingIp: '203.0.113.56',
          sessions: 100,
          reasonCode: '',
        },
        {
          resultType: 'starttls-not-supported',
          sendingMtaIp: '2001:db8:abcd:0013::1',
          receivingMx: 'mx2.mail.company-y.example',
          receivingIp: '203.0.113.57',
          sessions: 200,
          reasonCode: 'x',
        },
      ],
    },
    { type: 'no-policy-found', domain: 'company-y.example', mxHosts: [], successes: 1, failures: 0, details: [] },
  ],
};

for (const backend of backends) {
  describe(`shared state contract: ${backend.name}`, { timeout: 120_000 }, () => {
    test('users: add, change, list, remove; a user added on one node is known to the other', { timeout: 30_000 }, async (t) => {
      const open = await backend.database(t);
      const a = await open();
      const b = await open();
      assert.equal(await a.users.add('alice@example.test', 'h1', 1000), true);
      assert.equal(await a.users.add('alice@example.test', 'h2', 2000), false, 'no silent replacement');
      assert.equal(await b.users.passwordHash('alice@example.test'), 'h1', 'the other node sees it at once');
      assert.equal(await b.users.setPassword('alice@example.test', 'h3', 3000), true);
      assert.equal(await b.users.setPassword('nobody@example.test', 'h3', 3000), false);
      assert.equal(await a.users.add('Bob@example.test', 'hb', 4000), true);
      assert.deepEqual(await a.users.list(), [
        { address: 'Bob@example.test', createdAt: 4000, updatedAt: 4000 },
        { address: 'alice@example.test', createdAt: 1000, updatedAt: 3000 },
      ]);
      assert.equal(await a.users.passwordHash('alice@example.test'), 'h3');
      assert.equal(await a.users.remove('alice@example.test'), true);
      assert.equal(await b.users.remove('alice@example.test'), false);
      assert.equal(await b.users.passwordHash('alice@example.test'), undefined);
    });

    test('attempts: the rows of one turn are written together, read back whole, by any node', { timeout: 30_000 }, async (t) => {
      const open = await backend.database(t);
      const a = await open();
      const b = await open();
      a.attempts.record(attempt('Q1', 2000));
      a.attempts.record(FULL);
      a.attempts.record(attempt('Q1', 1000, { result: 'transient', reply: { code: 421, text: 'busy' } }));
      // A read writes what is queued first: this node sees its own attempts at once.
      assert.deepEqual(
        (await a.attempts.forMessage('Q1')).map((r) => [r.at, r.result]),
        [
          [1000, 'transient'],
          [2000, 'delivered'],
        ],
      );
      assert.deepEqual(await b.attempts.forMessage('FULL'), [FULL], 'every field, read by the other node');
      assert.deepEqual(await b.attempts.forMessage('none'), []);
      b.attempts.record(attempt('Q2', 3000));
      await b.attempts.flushed();
      assert.equal((await a.attempts.forMessage('Q2')).length, 1, 'written at the end of the turn, seen by the other node');
    });

    test('attempts: pages of a range, every row once, in (at, id) order', { timeout: 30_000 }, async (t) => {
      const store = (await (await backend.database(t))()).attempts;
      const at = [5, 10, 10, 10, 10, 10, 11, 12, 12, 20, 30];
      for (const [i, ms] of at.entries()) store.record(attempt(`Q${i}`, ms));
      for (const size of [1, 2, 3, 100]) {
        const seen: string[] = [];
        let after: AttemptsCursor | undefined;
        for (let pages = 0; pages < 50; pages++) {
          const page = await store.page(10, 30, after, size);
          seen.push(...page.attempts.map((a) => a.queueId));
          if (!page.next) break;
          after = page.next;
        }
        assert.deepEqual(seen, ['Q1', 'Q2', 'Q3', 'Q4', 'Q5', 'Q6', 'Q7', 'Q8', 'Q9'], `pages of ${size}`);
      }
    });

    test('attempts: recent failures newest first, the connection share, pruning oldest first', { timeout: 30_000 }, async (t) => {
      const store = (await (await backend.database(t))()).attempts;
      store.record(attempt('OK', 100, { tls: { version: 'TLSv1.3', cipher: 'c', verified: true } }));
      store.record(attempt('F1', 200, { result: 'transient', reply: { code: 451, text: 'later' } }));
      store.record(attempt('F2', 300, { result: 'permanent', tls: { version: 'TLSv1.2', cipher: 'c', verified: false } }));
      // Refused connection: the host's ip but no session, no TLS: not a connection in the share.
      store.record(attempt('REFUSED', 400, { result: 'transient', error: 'ECONNREFUSED' }));
      store.record(attempt('DNS', 500, { result: 'transient', mx: '', ip: '', error: 'no MX' }));
      assert.deepEqual(
        (await store.recentFailures(3)).map((a) => a.queueId),
        ['DNS', 'REFUSED', 'F2'],
      );
      assert.deepEqual(await store.connectionShare(0), { connections: 3, tls: 2, verified: 1 });
      assert.deepEqual(await store.connectionShare(150), { connections: 2, tls: 1, verified: 0 });
      // The status page's outbound chart: per hour, connections as above and the results counted.
      store.record(attempt('LATER', 3_600_000 + 5, { result: 'permanent', reply: { code: 550, text: 'no' } }));
      assert.deepEqual(await store.hourly(0), [
        { hour: 0, connections: 3, tls: 2, delivered: 1, transient: 3, permanent: 1, mixed: 0 },
        { hour: 3_600_000, connections: 1, tls: 0, delivered: 0, transient: 0, permanent: 1, mixed: 0 },
      ]);
      assert.deepEqual(await store.hourly(3_600_000), [{ hour: 3_600_000, connections: 1, tls: 0, delivered: 0, transient: 0, permanent: 1, mixed: 0 }]);
      assert.equal(await store.pruneSome(450, 2), 2, 'a batch');
      assert.deepEqual(
        (await store.page(0, 1000, undefined, 10)).attempts.map((a) => a.queueId),
        ['F2', 'REFUSED', 'DNS'],
        'the oldest went first',
      );
      assert.equal(await store.pruneSome(450, 10), 2, 'the rest before the time, short of the batch: done');
      assert.equal(await store.pruneSome(450, 10), 0);
    });

    test('attempts: two nodes pruning at once delete every old row once, and no new one', { timeout: 60_000 }, async (t) => {
      const open = await backend.database(t);
      const a = await open();
      const b = await open();
      for (let i = 0; i < 3000; i++) a.attempts.record(attempt(`OLD${i}`, 1000 + i));
      for (let i = 0; i < 10; i++) a.attempts.record(attempt(`NEW${i}`, 100_000 + i));
      await a.attempts.flushed();
      const prune = async (n: SharedStores): Promise<number> => {
        let deleted = 0;
        for (;;) {
          const got = await n.attempts.pruneSome(50_000, 200);
          deleted += got;
          if (got < 200) return deleted;
        }
      };
      const [byA, byB] = await Promise.all([prune(a), prune(b)]);
      // One may end early when the other holds the rest (SKIP LOCKED): a round after both is empty.
      const rest = (await prune(a)) + (await prune(b));
      assert.equal(byA + byB + rest, 3000, `deleted ${byA} + ${byB} + ${rest}`);
      assert.deepEqual(
        (await b.attempts.page(0, 200_000, undefined, 100)).attempts.map((r) => r.queueId),
        Array.from({ length: 10 }, (_, i) => `NEW${i}`),
      );
    });

    test('MTA-STS cache: put, get until it expires, replaced, deleted; shared by the nodes', { timeout: 30_000 }, async (t) => {
      const open = await backend.database(t);
      const a = await open();
      const b = await open();
      const policy = { mode: 'enforce' as const, mx: ['mx.sts.test', '*.sts.test'], maxAge: 100 };
      assert.deepEqual(await a.sts.put('sts.test', 'id1', policy, 1000), { ...policy, id: 'id1', fetchedAt: 1000, expiresAt: 101_000 });
      assert.deepEqual(await b.sts.get('sts.test', 100_999), { ...policy, id: 'id1', fetchedAt: 1000, expiresAt: 101_000 });
      assert.equal(await b.sts.get('sts.test', 101_000), undefined, 'expired at fetched_at + max_age');
      await b.sts.put('sts.test', 'id2', { mode: 'testing', mx: ['x.sts.test'], maxAge: 10 }, 5000);
      assert.equal((await a.sts.get('sts.test', 6000))?.id, 'id2');
      assert.equal(await a.sts.get('other.test', 0), undefined);
    });

    test('TLS reports received: stored once per organization and report-id, read back with their details', { timeout: 30_000 }, async (t) => {
      const open = await backend.database(t);
      const a = await open();
      const b = await open();
      // Two nodes deliver the same report at once: it is stored once.
      const states = await Promise.all([
        a.tlsReports.add(REPORT, { receivedAt: 1, queueId: 'Q1' }),
        b.tlsReports.add(REPORT, { receivedAt: 2, queueId: 'Q2' }),
      ]);
      assert.deepEqual(states.sort(), ['duplicate', 'stored']);
      assert.equal(await a.tlsReports.add({ ...REPORT, organization: 'Company-Z' }, { receivedAt: 3, queueId: 'Q3' }), 'stored');
      const rows = await b.tlsReports.reports(0);
      assert.deepEqual(
        rows.map((p) => [p.organization, p.type, p.domain, p.successes, p.failures, p.start, p.end]),
        [
          ['Company-X', 'sts', 'company-y.example', 5326, 303, REPORT.start, REPORT.end],
          ['Company-X', 'no-policy-found', 'company-y.example', 1, 0, REPORT.start, REPORT.end],
          ['Company-Z', 'sts', 'company-y.example', 5326, 303, REPORT.start, REPORT.end],
          ['Company-Z', 'no-policy-found', 'company-y.example', 1, 0, REPORT.start, REPORT.end],
        ],
      );
      assert.deepEqual(rows[0]?.details, REPORT.policies[0]?.details);
      assert.deepEqual(rows[1]?.details, []);
      assert.deepEqual(await a.tlsReports.reports(REPORT.start + 1), [], 'reports that start before `since` are left out');
    });

    test("TLS reports sent: a domain's day is claimed by one node only, however many claim it at once", { timeout: 30_000 }, async (t) => {
      const open = await backend.database(t);
      const nodes = [await open(), await open(), await open()];
      const report = { domain: 'dest.test', day: '2026-12-01', reportId: 'r1', at: 5000, sessions: 3, failures: 1 };
      const claims = await Promise.all(nodes.map((n) => n.tlsrptSent.claim(report)));
      assert.equal(claims.filter(Boolean).length, 1, `exactly one claim won: ${JSON.stringify(claims)}`);
      const [a, b] = nodes as [SharedStores, SharedStores];
      assert.equal(await a.tlsrptSent.claim(report), false, 'and never again');
      assert.deepEqual([...(await b.tlsrptSent.doneFor('2026-12-01'))], ['dest.test']);
      assert.deepEqual([...(await b.tlsrptSent.doneFor('2026-12-02'))], []);
      const destinations = [{ uri: 'mailto:tlsrpt@dest.test', result: 'queued' as const, queueId: 'R1' }];
      assert.equal(await b.tlsrptSent.finish('dest.test', '2026-12-01', destinations), 'sent');
      assert.equal(await a.tlsrptSent.claim({ ...report, domain: 'fail.test', at: 6000 }), true);
      assert.equal(await a.tlsrptSent.finish('fail.test', '2026-12-01', [{ uri: 'https://x/', result: 'failed', error: 'HTTP 500' }]), 'failed');
      assert.deepEqual(await b.tlsrptSent.list(), [
        {
          domain: 'fail.test',
          day: '2026-12-01',
          reportId: 'r1',
          state: 'failed',
          at: 6000,
          sessions: 3,
          failures: 1,
          destinations: [{ uri: 'https://x/', result: 'failed', error: 'HTTP 500' }],
        },
        { domain: 'dest.test', day: '2026-12-01', reportId: 'r1', state: 'sent', at: 5000, sessions: 3, failures: 1, destinations },
      ]);
      assert.deepEqual(await a.tlsrptSent.lastDay(), { day: '2026-12-01', sent: ['dest.test'], failed: ['fail.test'] });
      await a.tlsrptSent.markMessage('R1', 5000);
      await a.tlsrptSent.markMessage('R1', 5000);
      await b.tlsrptSent.markMessage('R0', 100);
      assert.deepEqual([...(await b.tlsrptSent.reportMessages(1000))], ['R1']);
      await b.tlsrptSent.pruneBefore(5500);
      assert.deepEqual([...(await a.tlsrptSent.reportMessages(0))], []);
      assert.deepEqual(
        (await a.tlsrptSent.list()).map((r) => r.domain),
        ['fail.test'],
      );
    });
  });
}

test('PostgreSQL: stores opened on a database whose schema is behind are refused with the fix', { timeout: 60_000 }, async () => {
  assert.ok(server);
  const url = await server.createDatabase(`shared_${process.pid}_behind`);
  const store: Config['store'] = { kind: 'postgres', url, passwordFile: server.passwordFile, leaseMs: 60_000 };
  const admin = openPool(store, 1);
  try {
    await migrate(admin, MIGRATIONS.slice(0, 1));
  } finally {
    await admin.end();
  }
  await assert.rejects(
    openSharedStores({ store }, {}),
    (err: unknown) => err instanceof SharedSchemaBehind && /version 1.*store init/.test((err as Error).message),
  );
});

test('PostgreSQL away: a batch of attempts is dropped and told, a policy fetched still applies, reads reject (never a wrong answer)', {
  timeout: 60_000,
}, async () => {
  assert.ok(server);
  const url = await server.createDatabase(`shared_${process.pid}_away`);
  const store: Config['store'] = { kind: 'postgres', url, passwordFile: server.passwordFile, leaseMs: 60_000 };
  const pool = openPool(store, 2);
  await migrate(pool);
  const lost: unknown[] = [];
  const stores = await openSharedStores({ store }, { pool, onAttemptsError: (err) => lost.push(err) });
  // The database answers no more (as when it is stopped: every query fails).
  await pool.end();
  stores.attempts.record(attempt('Q1', 1000));
  stores.attempts.record(attempt('Q2', 1000));
  await stores.attempts.flushed();
  assert.equal(lost.length, 1, 'one batch, one report');
  const policy = { mode: 'enforce' as const, mx: ['mx.sts.test'], maxAge: 100 };
  assert.deepEqual(await stores.sts.put('sts.test', 'id1', policy, 1000), { ...policy, id: 'id1', fetchedAt: 1000, expiresAt: 101_000 });
  await assert.rejects(stores.sts.get('sts.test', 2000));
  await assert.rejects(stores.users.passwordHash('alice@example.test'));
  await assert.rejects(stores.tlsrptSent.claim({ domain: 'd.test', day: '2026-12-01', reportId: 'r', at: 1, sessions: 1, failures: 0 }));
  await stores.close();
});
