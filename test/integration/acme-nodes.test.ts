// ACME on two nodes sharing one PostgreSQL (src/shared-files/), in-process against a real Pebble:
// exactly one node (the renewer lock's holder) orders; the HTTP-01 validation reaches the other
// node, which answers from the shared challenge table; the other node serves the certificate
// within seconds of its commit, and a renewal too; a node that does not hold the lock refuses to
// order; when the holder goes, the other takes the lock over and orders.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { type AcmeManager, startAcme } from '../../src/acme/manager.ts';
import { createChallengeTable, startChallengeServer } from '../../src/acme/responder.ts';
import { validateConfig } from '../../src/config/schema.ts';
import type { Config } from '../../src/config/types.ts';
import { clientConfig, openPool } from '../../src/queue/pg/connect.ts';
import { migrate } from '../../src/queue/pg/schema.ts';
import { ACME_LOCK, sessionLock } from '../../src/shared-files/lock.ts';
import { type NodeSharing, startNodeSharing } from '../../src/shared-files/node.ts';
import { pickEntry } from '../../src/tls/names.ts';
import { startTls, type TlsService } from '../../src/tls/service.ts';
import { captureLog } from '../helpers/log.ts';
import { type Pebble, startPebble } from '../helpers/pebble.ts';
import { freePort } from '../helpers/ports.ts';
import { type Postgres, startPostgres } from '../helpers/postgres.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

const HOST = 'mx.example.test';
// Pebble resolves every name to node B: the validation always reaches the node that does not order.
const NODE_A_IP = '127.0.0.11';
const NODE_B_IP = '127.0.0.12';

interface TestNode {
  name: string;
  dataDir: string;
  sharing: NodeSharing;
  tls: TlsService;
  manager: AcmeManager;
  records: Record<string, unknown>[];
  /** The fingerprint of the ACME certificate the node's cert store serves for HOST. */
  serial(): string | undefined;
  stop(): Promise<void>;
}

describe('ACME on two nodes sharing PostgreSQL, against Pebble', { timeout: 240_000 }, () => {
  const cleanups: (() => unknown)[] = [];
  const scope = { after: (fn: () => unknown) => void cleanups.unshift(fn) };
  let pebble: Pebble;
  let postgres: Postgres;
  let url: string;
  let httpPort: number;
  const nodes: TestNode[] = [];

  async function startNode(name: string, ip: string): Promise<TestNode> {
    const dataDir = await tempDir(scope, `sealpost-${name}-`);
    const validated = validateConfig(
      {
        hostname: HOST,
        data_dir: dataDir,
        listen: { smtp: [`${ip}:2525`], acme_http: [`${ip}:${httpPort}`] },
        acme: { enabled: true, directory: pebble.directoryUrl, email: 'postmaster@example.test', ca_file: pebble.httpsCaFile },
        domain: [{ name: 'example.test', mailboxes: ['alice'] }],
      },
      dataDir,
    );
    assert.ok(validated.ok, JSON.stringify(!validated.ok && validated.problems));
    const config: Config = validated.config;
    const { log, records } = captureLog();
    const sharing = await startNodeSharing({ kind: 'postgres', url, passwordFile: postgres.passwordFile, node: name, leaseMs: 60_000 }, dataDir, {
      log,
      now: Date.now,
    });
    const service = await startTls(config, log, Date.now);
    const challenges = sharing.challenges(createChallengeTable());
    const responder = await startChallengeServer(config.listen.acmeHttp, challenges, log);
    const manager = await startAcme({
      config,
      store: service.store,
      challenges,
      log,
      clock: { now: Date.now },
      poll: { attempts: 30, minMs: 100, maxMs: 500 },
      retry: { minBackoffMs: 3_600_000, maxBackoffMs: 6 * 3_600_000, maxRetryAfterMs: 86_400_000 },
      files: sharing.files,
      leader: sharing.leader,
    });
    // What main.ts does: a certificate another node committed goes the ACME swap path.
    sharing.onChange(async (paths) => {
      if (paths.some((p) => p.startsWith('certs/acme/'))) await manager.reloadCache();
    });
    let stopped = false;
    const node: TestNode = {
      name,
      dataDir,
      sharing,
      tls: service,
      manager,
      records,
      serial: () => {
        const entry = pickEntry(HOST, service.store.current());
        return entry?.source === 'acme' ? entry.fingerprint : undefined;
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await manager.stop();
        await responder.close();
        service.stop();
        await sharing.close();
      },
    };
    scope.after(() => node.stop());
    return node;
  }

  before(async () => {
    postgres = await startPostgres(scope);
    url = await postgres.createDatabase('acme_nodes');
    const pool = openPool({ url, passwordFile: postgres.passwordFile }, 1);
    await migrate(pool);
    await pool.end();
    httpPort = await freePort();
    pebble = await startPebble(scope, { httpPort, answerIp: NODE_B_IP });
  });

  after(async () => {
    for (const fn of cleanups) await fn();
  });

  it('one node orders, the other answers the validation and serves the certificate; a renewal reaches it within seconds', async () => {
    // Node B starts while the lock is taken (by this test), so it is the one that does not order; node A starts once it is free.
    const blocker = sessionLock(() => new pg.Client(clientConfig({ url, passwordFile: postgres.passwordFile })), ACME_LOCK);
    assert.equal(await blocker.held(), true);
    const b = await startNode('mx2', NODE_B_IP);
    await waitFor(() => b.records.find((r) => r['action'] === 'standby'), { what: 'mx2 on standby', timeoutMs: 10_000 });
    await blocker.close();
    const a = await startNode('mx1', NODE_A_IP);
    nodes.push(a, b);
    await waitFor(() => a.serial(), { what: 'a certificate on mx1', timeoutMs: 60_000 });
    const first = a.serial();
    await waitFor(() => b.serial() === first || undefined, { what: 'the same certificate on mx2', timeoutMs: 10_000 });
    assert.ok(a.records.some((r) => r['action'] === 'renewer'));
    assert.equal(a.records.filter((r) => r['action'] === 'ordering').length, 1, 'mx1 ordered once');
    assert.equal(b.records.filter((r) => r['action'] === 'ordering').length, 0, 'mx2 never ordered');
    assert.ok(
      b.records.some((r) => r['action'] === 'challenge-served'),
      'Pebble validated at mx2, which answered from the shared table',
    );
    assert.ok(!a.records.some((r) => r['action'] === 'challenge-served'), 'nothing reached mx1');
    assert.ok(
      b.records.some((r) => r['action'] === 'loaded'),
      'mx2 logged the certificate it loaded',
    );

    // A renewal on the holder reaches the other node within seconds (NOTIFY; the poll is 30 s).
    const renewed = await a.manager.renewNow(true);
    assert.equal(renewed.kind, 'issued', JSON.stringify(renewed));
    const second = a.serial();
    assert.notEqual(second, first);
    const committed = Date.now();
    await waitFor(() => b.serial() === second || undefined, { what: 'the renewed certificate on mx2', timeoutMs: 10_000 });
    const lag = Date.now() - committed;
    assert.ok(lag < 5000, `mx2 served the renewal ${lag} ms after its commit`);
    process.stdout.write(`# renewal reached mx2 ${lag} ms after mx1 committed it\n`);

    // mx2 does not hold the lock: it refuses to order.
    const refused = await b.manager.renewNow(true);
    assert.equal(refused.kind, 'failed');
    assert.match(refused.kind === 'failed' ? refused.reason : '', /another node holds the ACME renewer lock/);
    assert.equal(b.records.filter((r) => r['action'] === 'ordering').length, 0);
  });

  it('when the holder goes, the other node takes the lock at its next look and orders', async () => {
    const [a, b] = nodes;
    assert.ok(a && b, 'the first test started both nodes');
    const before = b.serial();
    await a.stop(); // its session, and the lock with it, ends
    const outcome = await waitFor(
      async () => {
        const o = await b.manager.renewNow(true);
        return o.kind === 'issued' ? o : undefined;
      },
      { what: 'mx2 to take over and order', timeoutMs: 60_000, intervalMs: 500 },
    );
    assert.equal(outcome.kind, 'issued');
    assert.notEqual(b.serial(), before);
    assert.ok(
      b.records.some((r) => r['action'] === 'renewer'),
      'mx2 logged that it renews now',
    );
    assert.equal(path.basename(b.dataDir).startsWith('sealpost-mx2-'), true);
  });
});
