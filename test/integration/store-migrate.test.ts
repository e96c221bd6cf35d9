// `sealpost store migrate --to postgres://…` as an operator runs it: a data_dir a real daemon made
// (messages queued, a spooled one, one held, deferred ones with attempts, a submission user, a
// DKIM key, an ACME cache) copied into a fresh PostgreSQL database: every count equal, bodies
// byte-equal, the files in shared_files, a PostgreSQL queue store on the target claims the queued
// recipients; refused while the daemon runs and into a target that holds rows. The generic copy of
// a table only this test creates on both sides, and a failed copy that leaves nothing behind.
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { MIGRATIONS_DIR, openDb } from '../../src/db/open.ts';
import { openPool } from '../../src/queue/pg/connect.ts';
import { MIGRATIONS } from '../../src/queue/pg/schema.ts';
import { BOOKKEEPING_TABLES, NODE_LOCAL_TABLES } from '../../src/store-migrate/plan.ts';
import { startSealpost } from '../helpers/daemon.ts';
import { startDnsServer } from '../helpers/dns-server.ts';
import { freePort } from '../helpers/ports.ts';
import { type Postgres, startPostgres } from '../helpers/postgres.ts';
import { run } from '../helpers/proc.ts';
import { pgQueueAt } from '../helpers/queue-stores.ts';
import { mergeConfig, type Overrides, type SealpostToml, testDefaults, writeSealpostConfig } from '../helpers/sealpost-config.ts';
import { tempDir } from '../helpers/tmp.ts';
import { prepareWithCli, SEALPOST, smtpLines } from './submission-setup.ts';

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

/** `sealpost store migrate --to URL --config FILE`, the password from a PGPASSFILE (the config is still kind = "sqlite"). */
async function migrateCli(configFile: string, url: string, pgpass: string, extra: string[] = []) {
  return run(SEALPOST, ['store', 'migrate', '--to', url, '--config', configFile, ...extra], {
    timeoutMs: 120_000,
    env: { ...process.env, PGPASSFILE: pgpass },
  });
}

async function pgpassFile(dir: string, s: Postgres): Promise<string> {
  const file = path.join(dir, 'pgpass');
  await writeFile(file, `# test\n127.0.0.1:${s.port}:*:sealpost:${s.password}\n`, { mode: 0o600 });
  return file;
}

async function sendOne(port: number, rcpt: string, subject: string, body: string): Promise<string> {
  const s = await smtpLines(port);
  try {
    assert.match(await s.command(), /^220 /);
    assert.match(await s.command('EHLO client.example.test'), /^250/);
    assert.match(await s.command('MAIL FROM:<alice@example.test>'), /^250 /);
    assert.match(await s.command(`RCPT TO:<${rcpt}>`), /^250 /);
    assert.match(await s.command('DATA'), /^354 /);
    const reply = await s.command(`From: alice@example.test\r\nTo: ${rcpt}\r\nSubject: ${subject}\r\n\r\n${body}\r\n.`);
    const id = /queued as (\S+)/.exec(reply)?.[1];
    assert.ok(id, reply);
    await s.command('QUIT');
    return id;
  } finally {
    s.close();
  }
}

/** Every regular file under dir, by path relative to root. */
async function filesUnder(root: string, rel: string): Promise<Map<string, { content: Buffer; mode: number }>> {
  const found = new Map<string, { content: Buffer; mode: number }>();
  const entries = await readdir(path.join(root, rel), { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const child = `${rel}/${e.name}`;
    if (e.isDirectory()) for (const [k, v] of await filesUnder(root, child)) found.set(k, v);
    else if (e.isFile()) found.set(child, { content: await readFile(path.join(root, child)), mode: (await stat(path.join(root, child))).mode & 0o7777 });
  }
  return found;
}

test('a data_dir a real daemon made, migrated: every count, body and file equal; the target queue delivers it; refused while running and twice', {
  timeout: 300_000,
}, async (t) => {
  const s = pgServer();
  const dir = await tempDir(t, 'sealpost-migrate-');
  const dataDir = path.join(dir, 'data');
  const dns = await startDnsServer(
    new Map([
      ['remote.test', { MX: [{ preference: 10, exchange: 'mx.remote.test' }] }],
      ['mx.remote.test', { A: ['127.0.0.1'] }],
    ]),
  );
  t.after(() => dns.close());
  // Nothing listens on the outbound port: every remote message is deferred, with an attempts row.
  const overrides = {
    data_dir: dataDir,
    dns: { servers: [dns.address], timeout_ms: 1000 },
    domain: [{ name: 'example.test', mailboxes: ['alice', 'bob'], aliases: { postmaster: 'alice' }, dkim_selectors: ['s1'] }],
    outbound: { port: await freePort(), mta_sts: false, tls_default: 'may', connect_timeout_s: 2 },
    queue: { min_backoff: '30m', max_backoff: '1h' },
  } as Overrides<SealpostToml>;
  const { configFile } = await prepareWithCli(dir, overrides, {
    keys: [{ domain: 'example.test', selector: 's1', type: 'ed25519' }],
    users: [{ address: 'alice@example.test', password: 'migrate-me-123' }],
  });
  const daemon = await startSealpost(t, { config: overrides, startTimeoutMs: 60_000 });

  const ids: string[] = [];
  for (let i = 0; i < 4; i++) ids.push(await sendOne(daemon.smtpPort, `r${i}@remote.test`, `queued ${i}`, `message ${i}\r\nwith 8 bits: é`));
  const line = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(2);
  const big = Array.from({ length: Math.ceil((2 * 1024 * 1024) / (line.length + 2)) }, (_, i) => `${i}:${line}`).join('\r\n');
  const bigId = await sendOne(daemon.smtpPort, 'big@remote.test', 'big', big);
  ids.push(bigId);
  for (const id of ids) await daemon.waitForLog({ event: 'deferred', queueId: id }, { timeoutMs: 60_000 });
  const heldId = ids[1] as string;
  const held = await daemon.cli(['queue', 'hold', heldId]);
  assert.equal(held.code, 0, held.stderr);

  const pgpass = await pgpassFile(dir, s);
  const url = await s.createDatabase('migrated');
  const whileRunning = await migrateCli(configFile, url, pgpass);
  assert.equal(whileRunning.code, 1, whileRunning.stdout);
  assert.match(whileRunning.stderr, /sealpost\.db is in use: the daemon runs on data_dir .*stop it first.*Nothing was copied/);
  const target = new pg.Client({ host: '127.0.0.1', port: s.port, user: 'sealpost', password: s.password, database: 'migrated' });
  await target.connect();
  t.after(() => target.end());
  assert.equal((await target.query(`SELECT to_regclass('messages') AS t`)).rows[0]?.t, null, 'nothing written while the daemon ran');

  await daemon.stop();
  // The ACME cache (as acme/cache.ts lays it out) and a claim a killed daemon would have left.
  const acme = path.join(dataDir, 'certs', 'acme');
  await mkdir(path.join(acme, 'mx.sealpost.test'), { recursive: true });
  await writeFile(path.join(acme, 'account.key'), '-----BEGIN PRIVATE KEY-----\naccount\n-----END PRIVATE KEY-----\n', { mode: 0o600 });
  await writeFile(path.join(acme, 'account.json'), JSON.stringify([{ directory: 'https://acme.test/dir', url: 'https://acme.test/acct/1' }]));
  await writeFile(path.join(acme, 'mx.sealpost.test', 'key-01.pem'), 'KEY', { mode: 0o600 });
  await writeFile(path.join(acme, 'mx.sealpost.test', 'fullchain-01.pem'), 'CHAIN');
  await chmod(path.join(acme, 'mx.sealpost.test', 'fullchain-01.pem'), 0o644);
  const sqlite = new Database(path.join(dataDir, 'sealpost.db'));
  const activeId = sqlite
    .prepare<[string], number>(`SELECT id FROM recipients WHERE message_id = ?`)
    .pluck()
    .get(ids[0] as string);
  sqlite.prepare(`UPDATE recipients SET state = 'active' WHERE id = ?`).run(activeId);
  const counts = (db: Database.Database) =>
    new Map(
      db
        .prepare<[], string>(`SELECT name FROM sqlite_schema WHERE type = 'table'`)
        .pluck()
        .all()
        .map((name) => [name, db.prepare<[], number>(`SELECT count(*) FROM "${name}"`).pluck().get() ?? 0]),
    );
  const before = counts(sqlite);
  assert.equal(before.get('messages'), 5);
  assert.ok((before.get('attempts') ?? 0) >= 5, 'deferred with attempts');
  assert.equal(before.get('users'), 1);
  const sqliteMessages = sqlite
    .prepare<[], { id: string; body: Buffer; spool: string | null; spool_offset: number }>('SELECT id, body, spool, spool_offset FROM messages')
    .all();
  const wantBodies = new Map<string, Buffer>();
  for (const m of sqliteMessages)
    wantBodies.set(m.id, m.spool === null ? m.body : Buffer.concat([m.body, (await readFile(path.join(dataDir, 'spool', m.spool))).subarray(m.spool_offset)]));
  assert.ok(
    sqliteMessages.some((m) => m.id === bigId && m.spool !== null),
    'the big message is spooled',
  );
  const dueRecipients = sqlite
    .prepare<[], number>(`SELECT id FROM recipients WHERE state IN ('queued', 'active') AND transport = 'remote' ORDER BY id`)
    .pluck()
    .all()
    .map(Number);
  const maxId = Math.max(...sqlite.prepare<[], number>('SELECT id FROM recipients').pluck().all());
  sqlite.close();
  const wantFiles = new Map(
    [...(await filesUnder(dataDir, 'certs/acme')), ...(await filesUnder(dataDir, 'dkim')), ...(await filesUnder(dataDir, 'srs'))].filter(
      ([p]) => !p.startsWith('certs/acme/control/'),
    ),
  );
  assert.ok(
    wantFiles.has('dkim/example.test/s1.pem') && wantFiles.has('certs/acme/account.key') && wantFiles.has('srs/secret'),
    [...wantFiles.keys()].join(', '),
  );

  const migrated = await migrateCli(configFile, url, pgpass);
  assert.equal(migrated.code, 0, `${migrated.stdout}\n${migrated.stderr}`);
  assert.ok(!`${migrated.stdout}${migrated.stderr}`.includes(s.password), 'the password is never printed');
  assert.match(migrated.stdout, new RegExp(`schema at version ${MIGRATIONS.length} \\(applied 1`));
  assert.match(migrated.stdout, /^ {2}messages +5 → 5 +ok$/m);
  assert.match(migrated.stdout, /^ {2}shared_files +\d+ → \d+ +ok \(certs\/acme\/, dkim\/, srs\/: (\d+) → \1 bytes\)$/m);
  assert.match(migrated.stdout, /^1 recipient was being delivered when the daemon stopped: queued again$/m);
  assert.match(migrated.stdout, /not copied, each node counts its own: .*session_stats/);
  assert.match(migrated.stdout, new RegExp(`\\[store\\]\\n {2}kind = "postgres"\\n {2}url = "postgres://sealpost@127\\.0\\.0\\.1:${s.port}/migrated"`));
  assert.match(migrated.stdout, /attempts/, 'attempts are either copied or named as not in PostgreSQL');
  assert.doesNotMatch(migrated.stdout, /no such column/, 'every column of the queue tables has its PostgreSQL column');

  // Every table both databases have (tables other parts add later included) holds as many rows.
  const pgTables = new Set(
    (await target.query<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema()`)).rows.map((r) => r.t),
  );
  let compared = 0;
  for (const [table, n] of before) {
    if (NODE_LOCAL_TABLES.includes(table) || BOOKKEEPING_TABLES.includes(table) || !pgTables.has(table)) continue;
    const got = Number((await target.query<{ n: string }>(`SELECT count(*) AS n FROM "${table}"`)).rows[0]?.n);
    assert.equal(got, n, `rows of ${table}`);
    compared++;
  }
  assert.ok(compared >= 2, `messages and recipients at least (${compared})`);
  for (const table of NODE_LOCAL_TABLES)
    if (pgTables.has(table)) assert.equal(Number((await target.query(`SELECT count(*) AS n FROM "${table}"`)).rows[0]?.n), 0, `${table} is node-local`);

  const pgBodies = await target.query<{ id: string; body: Buffer; size: string; smtputf8: boolean; eight_bit: boolean }>(
    'SELECT id, body, size, smtputf8, eight_bit FROM messages',
  );
  assert.equal(pgBodies.rows.length, wantBodies.size);
  for (const row of pgBodies.rows) {
    assert.ok(row.body.equals(wantBodies.get(row.id) as Buffer), `body of ${row.id} byte-equal`);
    assert.equal(Number(row.size), row.body.length);
    assert.equal(row.eight_bit, row.id !== bigId, 'the 0/1 flag is a boolean');
  }
  const states = await target.query<{ message_id: string; state: string }>('SELECT message_id, state FROM recipients');
  assert.deepEqual(
    states.rows.filter((r) => r.message_id === heldId).map((r) => r.state),
    ['held'],
  );
  assert.ok(!states.rows.some((r) => r.state === 'active'), 'no claim survives the move');

  const files = await target.query<{ path: string; content: Buffer; mode: number; updated_by: string }>(
    'SELECT path, content, mode, updated_by FROM shared_files ORDER BY path',
  );
  assert.deepEqual(
    files.rows.map((f) => [f.path, f.mode, f.content.toString('base64'), f.updated_by]),
    [...wantFiles].sort(([a], [b]) => (a < b ? -1 : 1)).map(([p, f]) => [p, f.mode, f.content.toString('base64'), 'migrate']),
  );

  // A node on the target claims every queued recipient (the one a killed daemon left active too), never the held one.
  const node = await pgQueueAt(t, { url, passwordFile: s.passwordFile }).open({ node: 'mx1' });
  const jobs = await node.claim('remote', Date.now() + 2 * 3_600_000, 100);
  assert.deepEqual(
    jobs.flatMap((j) => j.recipients.map((r) => r.id)).sort((a, b) => a - b),
    dueRecipients,
  );
  assert.ok(dueRecipients.includes(activeId as number));
  for (const job of jobs) assert.ok(Buffer.isBuffer(job.body) && job.body.equals(wantBodies.get(job.queueId) as Buffer), `claimed body of ${job.queueId}`);
  // The identity sequence moved past the copied ids: a new message's recipient gets a fresh one.
  await node.enqueue({
    id: 'AFTERMIGRATE',
    receivedAt: Date.now(),
    sender: 'alice@example.test',
    body: Buffer.from('Subject: after\r\n\r\nafter\r\n'),
    smtputf8: false,
    eightBit: false,
    origin: 'smtp',
    recipients: [{ rcpt: 'new@remote.test', address: 'new@remote.test', transport: 'remote' }],
  });
  const fresh = await target.query<{ id: string }>(`SELECT id FROM recipients WHERE message_id = 'AFTERMIGRATE'`);
  assert.ok(Number(fresh.rows[0]?.id) > maxId, `new recipient id ${fresh.rows[0]?.id} > ${maxId}`);

  const again = await migrateCli(configFile, url, pgpass);
  assert.equal(again.code, 1, again.stdout);
  assert.match(
    again.stderr,
    /already holds rows in (attempts, )?messages, recipients.*shared_files; migrate only into an empty database: create one \(createdb .*Nothing was copied/,
  );
  assert.equal(Number((await target.query('SELECT count(*) AS n FROM messages')).rows[0]?.n), 6, 'the second run added nothing');
});

test('the generic copy: a table only this test makes on both sides, identity, foreign key order, conversions; a failed copy leaves nothing', {
  timeout: 120_000,
}, async (t) => {
  const s = pgServer();
  const dir = await tempDir(t, 'sealpost-migrate-generic-');
  const dataDir = path.join(dir, 'data');
  const configFile = path.join(dir, 'sealpost.toml');
  await writeSealpostConfig(configFile, mergeConfig(testDefaults(dataDir, { smtp: await freePort(), acmeHttp: await freePort() }), {}));
  const db = openDb(dataDir, MIGRATIONS_DIR);
  // "a_probe_child" sorts before its parent: the copy must follow the foreign key, not the name.
  db.exec(`CREATE TABLE probe (id INTEGER PRIMARY KEY, flag INTEGER NOT NULL, data BLOB, big INTEGER, note TEXT, sqlite_only TEXT) STRICT;
           CREATE TABLE a_probe_child (probe INTEGER NOT NULL REFERENCES probe (id), label TEXT NOT NULL) STRICT;`);
  const insert = db.prepare('INSERT INTO probe (id, flag, data, big, note, sqlite_only) VALUES (?, ?, ?, ?, ?, ?)');
  insert.run(7, 1, Buffer.from([0, 1, 2, 255]), 9_007_199_254_740_993n, 'héllo', 'x');
  insert.run(8, 0, null, null, null, null);
  insert.run(40, 1, Buffer.alloc(0), -5, '', 'y');
  db.prepare('INSERT INTO a_probe_child VALUES (?, ?)').run(7, 'first');
  db.prepare('INSERT INTO a_probe_child VALUES (?, ?)').run(40, 'second');
  db.close();
  const pgpass = await pgpassFile(dir, s);
  const url = await s.createDatabase('generic');
  const admin = openPool({ url, passwordFile: s.passwordFile }, 1);
  t.after(() => admin.end());
  await admin.query(`CREATE TABLE probe (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, flag boolean NOT NULL, data bytea, big bigint, note text,
                       pg_only text NOT NULL DEFAULT 'default', twice bigint GENERATED ALWAYS AS (big * 2) STORED);
                     CREATE TABLE a_probe_child (probe bigint NOT NULL REFERENCES probe (id), label text NOT NULL)`);

  // A queue a newer Sealpost wrote: refused before anything is written.
  const newer = new Database(path.join(dataDir, 'sealpost.db'));
  const version = newer.pragma('user_version', { simple: true }) as number;
  newer.pragma('user_version = 999');
  newer.close();
  const refused = await migrateCli(configFile, url, pgpass);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, new RegExp(`sealpost\\.db is at schema 999, newer than this Sealpost knows \\(${version}\\).*Nothing was copied`));
  assert.equal(Number((await admin.query(`SELECT count(*) AS n FROM pg_tables WHERE tablename = 'sealpost_schema'`)).rows[0]?.n), 0);
  const older = new Database(path.join(dataDir, 'sealpost.db'));
  older.pragma(`user_version = ${version}`);
  older.close();

  // A flag that is not 0/1: the whole copy rolls back, the files and the other tables too.
  const bad = new Database(path.join(dataDir, 'sealpost.db'));
  bad.prepare('INSERT INTO probe (id, flag) VALUES (99, 2)').run();
  bad.close();
  const failed = await migrateCli(configFile, url, pgpass);
  assert.equal(failed.code, 1, failed.stdout);
  assert.match(failed.stderr, /probe\.flag: the value 2 \(a flag must be 0 or 1\) cannot go into a PostgreSQL boolean column; nothing was copied/);
  assert.equal(Number((await admin.query('SELECT count(*) AS n FROM probe')).rows[0]?.n), 0);
  assert.equal(Number((await admin.query('SELECT count(*) AS n FROM a_probe_child')).rows[0]?.n), 0);
  const fixed = new Database(path.join(dataDir, 'sealpost.db'));
  fixed.prepare('DELETE FROM probe WHERE id = 99').run();
  fixed.close();

  // This time the config already says kind = "postgres": its password_file is used (no PGPASSFILE).
  const switched = path.join(dir, 'switched.toml');
  await writeSealpostConfig(
    switched,
    mergeConfig(testDefaults(dataDir, { smtp: await freePort(), acmeHttp: await freePort() }), {
      store: { kind: 'postgres', url, password_file: s.passwordFile },
    }),
  );
  const { PGPASSFILE: _, ...env } = process.env;
  const done = await run(SEALPOST, ['store', 'migrate', '--to', url, '--config', switched, '--json'], { timeoutMs: 120_000, env });
  assert.equal(done.code, 0, `${done.stdout}\n${done.stderr}`);
  const report = JSON.parse(done.stdout) as {
    ok: boolean;
    tables: { table: string; source: number; target: number }[];
    skipped: { table: string; why: string }[];
    columnsLeft: Record<string, string[]>;
    store: { kind: string; url: string; password_file?: string };
  };
  assert.equal(report.ok, true);
  const order = report.tables.map((x) => x.table);
  assert.ok(order.indexOf('probe') < order.indexOf('a_probe_child'), order.join(', '));
  assert.deepEqual(
    report.tables.filter((x) => x.table.includes('probe')),
    [
      { table: 'probe', source: 3, target: 3 },
      { table: 'a_probe_child', source: 2, target: 2 },
    ],
  );
  assert.deepEqual(
    report.skipped.filter((x) => x.why === 'node-local').map((x) => x.table),
    ['local_delivery_stats', 'rspamd_stats', 'session_stats'],
  );
  assert.deepEqual(report.columnsLeft, { probe: ['sqlite_only'] });
  assert.deepEqual(report.store, { kind: 'postgres', url, password_file: s.passwordFile });
  const rows = await admin.query<{
    id: string;
    flag: boolean;
    data: Buffer | null;
    big: string | null;
    note: string | null;
    pg_only: string;
    twice: string | null;
  }>('SELECT id, flag, data, big, note, pg_only, twice FROM probe ORDER BY id');
  assert.deepEqual(
    rows.rows.map((r) => [r.id, r.flag, r.data?.toString('hex') ?? null, r.big, r.note, r.pg_only, r.twice]),
    [
      ['7', true, '000102ff', '9007199254740993', 'héllo', 'default', '18014398509481986'],
      ['8', false, null, null, null, 'default', null],
      ['40', true, '', '-5', '', 'default', '-10'],
    ],
  );
  // The identity continues after the largest copied id.
  const next = await admin.query<{ id: string }>(`INSERT INTO probe (flag) VALUES (true) RETURNING id`);
  assert.equal(next.rows[0]?.id, '41');
  const children = await admin.query<{ probe: string; label: string }>('SELECT probe, label FROM a_probe_child ORDER BY probe');
  assert.deepEqual(
    children.rows.map((r) => [r.probe, r.label]),
    [
      ['7', 'first'],
      ['40', 'second'],
    ],
  );
});
