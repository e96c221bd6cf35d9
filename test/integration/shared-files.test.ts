// The files every node shares ([store] kind = "postgres", src/shared-files/) against a real
// PostgreSQL: two data_dirs kept in step (NOTIFY at once, the poll as fallback, a sync at start),
// writes atomic on disk with their modes, removals followed, the first exclusive writer winning
// (one SRS secret for all),
// rows outside certs/acme/**, dkim/** and srs/** refused, LISTEN made again after its connection breaks;
// and the ACME challenge tables and renewer lock of several nodes.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createChallengeTable } from '../../src/acme/responder.ts';
import { clientConfig, openPool, type PgSettings } from '../../src/queue/pg/connect.ts';
import { migrate } from '../../src/queue/pg/schema.ts';
import { sharedAlpnChallenges, sharedChallengeTable } from '../../src/shared-files/challenges.ts';
import { ACME_LOCK, sessionLock } from '../../src/shared-files/lock.ts';
import { type SharedFiles, startSharedFiles } from '../../src/shared-files/sync.ts';
import { loadSrsSecrets } from '../../src/srs/secret.ts';
import { createAlpnChallenges } from '../../src/tls/alpn-challenges.ts';
import { generateSelfSigned } from '../../src/tls/self-signed.ts';
import { captureLog } from '../helpers/log.ts';
import { type Postgres, startPostgres } from '../helpers/postgres.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

let server: Postgres | undefined;
const stops: (() => unknown)[] = [];
before(async () => {
  server = await startPostgres({ after: (fn) => stops.unshift(fn) });
});
after(async () => {
  for (const stop of stops) await stop();
});

let databases = 0;
async function database(t: { after(fn: () => unknown): void }): Promise<{ settings: PgSettings; pool: pg.Pool }> {
  assert.ok(server, 'the PostgreSQL server started');
  const url = await server.createDatabase(`files_${process.pid}_${++databases}`);
  const settings = { url, passwordFile: server.passwordFile };
  const pool = openPool(settings, 4);
  t.after(() => pool.end().catch(() => undefined));
  await migrate(pool);
  return { settings, pool };
}

interface Node {
  dataDir: string;
  shared: SharedFiles;
  changes: string[][];
  records: Record<string, unknown>[];
}

async function node(t: { after(fn: () => unknown): void }, settings: PgSettings, name: string, pollMs = 600_000): Promise<Node> {
  const dataDir = await tempDir(t, `sealpost-${name}-`);
  const pool = openPool(settings, 3);
  const changes: string[][] = [];
  const { log, records } = captureLog();
  const shared = await startSharedFiles({
    pool,
    makeClient: () => new pg.Client(clientConfig(settings)),
    dataDir,
    node: name,
    log,
    now: Date.now,
    onChange: (paths) => void changes.push(paths),
    pollMs,
  });
  t.after(async () => {
    await shared.close();
    await pool.end().catch(() => undefined);
  });
  return { dataDir, shared, changes, records };
}

const modeOf = async (file: string) => (await stat(file)).mode & 0o777;

test('a file written on one node reaches the other at once (NOTIFY), atomically, with its mode; removals follow', { timeout: 60_000 }, async (t) => {
  const { settings } = await database(t);
  // Polling every 10 minutes: what arrives within seconds came by NOTIFY.
  const a = await node(t, settings, 'mx1');
  const b = await node(t, settings, 'mx2');
  const key = 'certs/acme/account.key';
  const meta = 'certs/acme/mx.example.test/meta.json';
  const dkim = 'dkim/example.test/s1.pem';
  await a.shared.files.write(path.join(a.dataDir, key), 'ACCOUNT KEY 1\n', 0o600);
  await a.shared.files.write(path.join(a.dataDir, meta), '{"names":[]}\n', 0o644);
  await a.shared.files.write(path.join(a.dataDir, dkim), 'DKIM KEY\n', 0o600, { exclusive: true });
  // The writer's own disk has them too.
  assert.equal(await readFile(path.join(a.dataDir, dkim), 'utf8'), 'DKIM KEY\n');
  await waitFor(async () => (await readFile(path.join(b.dataDir, dkim), 'utf8').catch(() => '')) === 'DKIM KEY\n', {
    what: 'the DKIM key on mx2',
    timeoutMs: 10_000,
  });
  await waitFor(async () => (await readFile(path.join(b.dataDir, meta), 'utf8').catch(() => '')) === '{"names":[]}\n', {
    what: 'meta.json on mx2',
    timeoutMs: 10_000,
  });
  assert.equal(await readFile(path.join(b.dataDir, key), 'utf8'), 'ACCOUNT KEY 1\n');
  assert.equal(await modeOf(path.join(b.dataDir, key)), 0o600);
  assert.equal(await modeOf(path.join(b.dataDir, meta)), 0o644);
  assert.equal(await modeOf(path.join(b.dataDir, dkim)), 0o600);
  assert.equal(await modeOf(path.join(b.dataDir, 'dkim')), 0o700, 'folders made 0700');
  assert.ok(b.changes.flat().includes(dkim), `mx2 was told of the change: ${JSON.stringify(b.changes)}`);

  // A change replaces the file by a rename (a new inode; readers see the old file or the new one), no temp file left.
  const before = (await stat(path.join(b.dataDir, key))).ino;
  await a.shared.files.write(path.join(a.dataDir, key), 'ACCOUNT KEY 2\n', 0o600);
  await waitFor(async () => (await readFile(path.join(b.dataDir, key), 'utf8')) === 'ACCOUNT KEY 2\n', {
    what: 'the new account key on mx2',
    timeoutMs: 10_000,
  });
  assert.notEqual((await stat(path.join(b.dataDir, key))).ino, before, 'replaced by rename, not rewritten in place');
  assert.deepEqual(
    (await readdir(path.join(b.dataDir, 'certs/acme'))).filter((f) => f.includes('.tmp-')),
    [],
  );

  // A mode change alone is followed too.
  await a.shared.files.write(path.join(a.dataDir, meta), '{"names":[]}\n', 0o640);
  await waitFor(async () => (await modeOf(path.join(b.dataDir, meta))) === 0o640, { what: 'the new mode on mx2', timeoutMs: 10_000 });

  await a.shared.files.remove(path.join(a.dataDir, dkim));
  await waitFor(
    async () =>
      !(await stat(path.join(b.dataDir, dkim)).then(
        () => true,
        () => false,
      )),
    { what: 'the removal on mx2', timeoutMs: 10_000 },
  );
  await assert.rejects(stat(path.join(a.dataDir, dkim)), /ENOENT/);
});

test("the first exclusive writer wins on every node; the loser gets EEXIST and the winner's copy", { timeout: 60_000 }, async (t) => {
  const { settings } = await database(t);
  const a = await node(t, settings, 'mx1');
  const b = await node(t, settings, 'mx2');
  const rel = 'dkim/example.test/s2.pem';
  await a.shared.files.write(path.join(a.dataDir, rel), 'FIRST\n', 0o600, { exclusive: true });
  await assert.rejects(b.shared.files.write(path.join(b.dataDir, rel), 'SECOND\n', 0o600, { exclusive: true }), { code: 'EEXIST' });
  assert.equal(await readFile(path.join(b.dataDir, rel), 'utf8'), 'FIRST\n');
  assert.equal(await readFile(path.join(a.dataDir, rel), 'utf8'), 'FIRST\n');
});

test('the SRS secret two nodes make at their first start is one secret: the first made, the other node loads it', { timeout: 60_000 }, async (t) => {
  const { settings } = await database(t);
  const a = await node(t, settings, 'mx1');
  const b = await node(t, settings, 'mx2');
  // Both start at once with no secret (srs/secret.ts makes one when absent, through the node's writer).
  const [first, second] = await Promise.all([
    loadSrsSecrets(path.join(a.dataDir, 'srs/secret'), a.shared.files),
    loadSrsSecrets(path.join(b.dataDir, 'srs/secret'), b.shared.files),
  ]);
  assert.ok(first.ok && second.ok, 'both loaded a secret');
  assert.deepEqual(first.secrets, second.secrets, 'an SRS address one node makes verifies on the other');
  assert.equal([first.created, second.created].filter(Boolean).length, 1, 'exactly one node made it');
  assert.equal(await modeOf(path.join(b.dataDir, 'srs/secret')), 0o600);
});

test('a node starting later gets every file before it starts; the poll finds a change no NOTIFY told of', { timeout: 60_000 }, async (t) => {
  const { settings, pool } = await database(t);
  const a = await node(t, settings, 'mx1');
  await a.shared.files.write(path.join(a.dataDir, 'certs/acme/mx.example.test/fullchain-1.pem'), 'CHAIN\n', 0o644);
  await a.shared.files.write(path.join(a.dataDir, 'certs/acme/mx.example.test/meta.json'), '{}\n', 0o644);
  const c = await node(t, settings, 'mx3', 300);
  // Already there when startSharedFiles resolved: before anything of the node loads them.
  assert.equal(await readFile(path.join(c.dataDir, 'certs/acme/mx.example.test/fullchain-1.pem'), 'utf8'), 'CHAIN\n');
  assert.equal(await readFile(path.join(c.dataDir, 'certs/acme/mx.example.test/meta.json'), 'utf8'), '{}\n');
  await pool.query(`UPDATE shared_files SET content = 'CHAIN 2\n' WHERE path = 'certs/acme/mx.example.test/fullchain-1.pem'`);
  await waitFor(async () => (await readFile(path.join(c.dataDir, 'certs/acme/mx.example.test/fullchain-1.pem'), 'utf8')) === 'CHAIN 2\n', {
    what: 'the poll to bring the change',
    timeoutMs: 10_000,
  });
});

test('rows outside certs/acme/**, dkim/** and srs/** are never written, wherever they point', { timeout: 60_000 }, async (t) => {
  const { settings, pool } = await database(t);
  const a = await node(t, settings, 'mx1');
  const evil = ['../outside', 'dkim/../queue.db', 'certs/acme/../../escaped', 'queue.db', '/tmp/absolute', 'certs/acme/status.json', 'dkim/ok.test/good.pem'];
  for (const p of evil) await pool.query(`INSERT INTO shared_files (path, content, mode, updated_at, updated_by) VALUES ($1, 'x', 420, 0, 'test')`, [p]);
  await pool.query(`NOTIFY sealpost_files, 'x'`);
  await waitFor(async () => (await readFile(path.join(a.dataDir, 'dkim/ok.test/good.pem'), 'utf8').catch(() => '')) === 'x', {
    what: 'the good row',
    timeoutMs: 10_000,
  });
  const parent = path.dirname(a.dataDir);
  for (const p of ['outside', 'escaped']) await assert.rejects(stat(path.join(parent, p)), /ENOENT/, p);
  for (const p of ['queue.db', 'certs/acme/status.json', 'escaped']) await assert.rejects(stat(path.join(a.dataDir, p)), /ENOENT/, p);
  await assert.rejects(stat('/tmp/absolute'), /ENOENT/);
  await waitFor(() => a.records.find((r) => r['action'] === 'refused'), { what: 'the refusal logged', timeoutMs: 5000 });
  const refused = a.records.find((r) => r['action'] === 'refused')?.['paths'] as string[];
  assert.deepEqual([...refused].sort(), evil.filter((p) => p !== 'dkim/ok.test/good.pem').sort());
  // Writes through the writer outside the shared set stay local only.
  await mkdir(path.join(a.dataDir, 'certs/acme'), { recursive: true });
  await a.shared.files.write(path.join(a.dataDir, 'certs/acme/status.json'), '{}', 0o644);
  assert.equal(await readFile(path.join(a.dataDir, 'certs/acme/status.json'), 'utf8'), '{}');
  assert.equal((await pool.query(`SELECT 1 FROM shared_files WHERE path = 'certs/acme/status.json' AND updated_by <> 'test'`)).rowCount, 0);
});

test('LISTEN is made again after its connection breaks', { timeout: 60_000 }, async (t) => {
  const { settings, pool } = await database(t);
  const a = await node(t, settings, 'mx1');
  const b = await node(t, settings, 'mx2');
  const listening = async () =>
    (await pool.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE query ILIKE 'LISTEN%' AND datname = current_database()`)).rows.map((r) => r.pid);
  const pids = await waitFor(async () => ((await listening()).length === 2 ? listening() : undefined), { what: 'two LISTEN sessions', timeoutMs: 10_000 });
  await pool.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [pids]);
  await waitFor(async () => (await listening()).filter((p) => !pids.includes(p)).length === 2, { what: 'LISTEN made again', timeoutMs: 15_000 });
  await a.shared.files.write(path.join(a.dataDir, 'dkim/example.test/s3.pem'), 'AFTER\n', 0o600);
  await waitFor(async () => (await readFile(path.join(b.dataDir, 'dkim/example.test/s3.pem'), 'utf8').catch(() => '')) === 'AFTER\n', {
    what: 'the file after the break (NOTIFY again, the poll is 10 min)',
    timeoutMs: 10_000,
  });
});

test('HTTP-01 key authorizations and TLS-ALPN-01 certificates published by one node are found by another; only one node holds the renewer lock, another takes it when its session ends', {
  timeout: 60_000,
}, async (t) => {
  const { settings, pool } = await database(t);
  const orderer = sharedChallengeTable(createChallengeTable(), pool, Date.now);
  const other = sharedChallengeTable(createChallengeTable(), pool, Date.now);
  await orderer.set('tok_1', 'tok_1.thumb');
  assert.equal(orderer.get('tok_1'), 'tok_1.thumb');
  assert.equal(other.get('tok_1'), undefined, "not in the other node's memory");
  assert.equal(await other.lookup?.('tok_1'), 'tok_1.thumb');
  await orderer.delete('tok_1');
  assert.equal(await other.lookup?.('tok_1'), undefined);

  // TLS-ALPN-01: the challenge certificate, as a context the other node's HTTPS listener can serve.
  const alpnOrderer = sharedAlpnChallenges(createAlpnChallenges(), pool, Date.now);
  const alpnOther = sharedAlpnChallenges(createAlpnChallenges(), pool, Date.now);
  const material = await generateSelfSigned('mx.example.test', Date.now());
  await alpnOrderer.set('MX.example.test', { keyPem: material.keyPem, certPem: material.certPem });
  assert.equal(alpnOther.get('mx.example.test'), undefined);
  assert.ok(await alpnOther.lookup?.('mx.example.test'), 'a context from the shared table');
  await alpnOrderer.delete('mx.example.test');
  assert.equal(await alpnOther.lookup?.('mx.example.test'), undefined);

  const makeClient = () => new pg.Client(clientConfig(settings));
  const one = sessionLock(makeClient, ACME_LOCK);
  const two = sessionLock(makeClient, ACME_LOCK);
  t.after(() => Promise.all([one.close(), two.close()]));
  assert.equal(await one.held(), true);
  assert.equal(await two.held(), false);
  assert.equal(await one.held(), true, 'still held at the next look');
  // The holder's session ends (its node died): the lock goes with it.
  // pg_terminate_backend only signals: the session ends (and its lock goes) a moment later. The
  // holder is not asked meanwhile (its node died): asked before its session is gone it still holds
  // the lock, rightly, and asked after, it may take the lock again over a new session.
  await pool.query(`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()`);
  await waitFor(() => two.held(), { what: 'another node to take the lock at a later look', timeoutMs: 10_000 });
  assert.equal(await one.held(), false);
});
