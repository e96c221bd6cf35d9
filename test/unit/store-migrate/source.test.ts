// The SQLite side of `sealpost store migrate`: refused while another connection (the daemon) has
// the database open and keeps a daemon from opening it meanwhile; a spooled body comes back whole
// from data_dir/spool; a recipient left 'active' comes back 'queued'; the shared files are the
// ACME cache and the DKIM keys with their modes, temp files left out.
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS_DIR, openDb } from '../../../src/db/open.ts';
import { sharedFilesOf } from '../../../src/store-migrate/files.ts';
import { openSource, type SourceRow } from '../../../src/store-migrate/source.ts';
import { tempDir } from '../../helpers/tmp.ts';

async function queueWithSpool(dataDir: string): Promise<Buffer> {
  const db = openDb(dataDir, MIGRATIONS_DIR);
  const prefix = Buffer.from('Received: by us\r\nSubject: big\r\n\r\n');
  const fileText = Buffer.from(`Subject: big\r\n\r\n${'x'.repeat(5000)}\r\n`);
  const offset = 'Subject: big\r\n\r\n'.length;
  await mkdir(path.join(dataDir, 'spool'));
  await writeFile(path.join(dataDir, 'spool', 'S1'), fileText);
  const insert = db.prepare(
    `INSERT INTO messages (id, received_at, sender, size, body, origin, spool, spool_offset) VALUES (?, 1, 'a@b.test', ?, ?, 'smtp', ?, ?)`,
  );
  const whole = Buffer.concat([prefix, fileText.subarray(offset)]);
  insert.run('M1', whole.length, prefix, 'S1', offset);
  insert.run('M2', 5, Buffer.from('small'), null, 0);
  const rcpt = db.prepare(
    `INSERT INTO recipients (message_id, rcpt, address, transport, state, next_attempt_at, updated_at) VALUES (?, 'r@c.test', 'r@c.test', 'remote', ?, 1, 1)`,
  );
  rcpt.run('M1', 'active');
  rcpt.run('M1', 'held');
  rcpt.run('M2', 'queued');
  db.close();
  return whole;
}

async function all(gen: AsyncGenerator<SourceRow[]>): Promise<SourceRow[]> {
  const rows: SourceRow[] = [];
  for await (const batch of gen) rows.push(...batch);
  return rows;
}

test('refused while the daemon has the database open; while the copy runs no daemon can open it', { timeout: 10_000 }, async (t) => {
  const dataDir = await tempDir(t);
  await queueWithSpool(dataDir);
  const daemon = openDb(dataDir, MIGRATIONS_DIR); // as main.ts holds it, idle between transactions
  assert.equal(openSource(dataDir).kind, 'in-use');
  daemon.close();
  const opened = openSource(dataDir);
  assert.equal(opened.kind, 'open');
  const late = new Database(path.join(dataDir, 'sealpost.db'), { timeout: 50 });
  assert.throws(() => late.pragma('journal_mode = WAL'), /database is locked/);
  late.close();
  if (opened.kind === 'open') opened.source.close();
  openDb(dataDir, MIGRATIONS_DIR).close(); // free again once the copy is over
});

test('after a crash (kill -9): the commits still only in the WAL are read', { timeout: 10_000 }, async (t) => {
  const dataDir = await tempDir(t);
  await queueWithSpool(dataDir);
  const daemon = openDb(dataDir, MIGRATIONS_DIR);
  daemon.pragma('wal_autocheckpoint = 0');
  daemon.prepare(`INSERT INTO messages (id, received_at, sender, size, body, origin) VALUES ('M3', 1, '', 1, x'41', 'smtp')`).run();
  // The files as a killed daemon leaves them: the database, its WAL with M3, the shared-memory index.
  const crashed = await tempDir(t);
  for (const suffix of ['', '-wal', '-shm']) await copyFile(path.join(dataDir, `sealpost.db${suffix}`), path.join(crashed, `sealpost.db${suffix}`));
  daemon.close();
  const opened = openSource(crashed);
  if (opened.kind !== 'open') throw new Error(opened.kind);
  t.after(() => opened.source.close());
  assert.equal(opened.source.count('messages'), 3);
});

test('a missing database is said to be missing', { timeout: 10_000 }, async (t) => {
  assert.equal(openSource(path.join(await tempDir(t), 'nothing')).kind, 'missing');
});

test('spooled bodies come back whole, active recipients queued, small batches in rowid order', { timeout: 10_000 }, async (t) => {
  const dataDir = await tempDir(t);
  const whole = await queueWithSpool(dataDir);
  const opened = openSource(dataDir);
  assert.equal(opened.kind, 'open');
  if (opened.kind !== 'open') return;
  t.after(() => opened.source.close());
  const messages = await all(opened.source.rows('messages', 30_000));
  assert.deepEqual(
    messages.map((m) => m['id']),
    ['M1', 'M2'],
  );
  assert.deepEqual(messages[0]?.['body'], whole);
  assert.equal(messages[0]?.['size'], BigInt(whole.length));
  assert.deepEqual(messages[1]?.['body'], Buffer.from('small'));
  const recipients = await all(opened.source.rows('recipients', 30_000)); // one row per batch
  assert.deepEqual(
    recipients.map((r) => [r['id'], r['state']]),
    [
      [1n, 'queued'],
      [2n, 'held'],
      [3n, 'queued'],
    ],
  );
  assert.equal(opened.source.activeRecipients(), 1);
  assert.equal(opened.source.count('recipients'), 3);
});

test('a spool file that is gone fails the copy, naming the message', { timeout: 10_000 }, async (t) => {
  const dataDir = await tempDir(t);
  await queueWithSpool(dataDir);
  await rm(path.join(dataDir, 'spool', 'S1'));
  const opened = openSource(dataDir);
  if (opened.kind !== 'open') throw new Error(opened.kind);
  t.after(() => opened.source.close());
  await assert.rejects(all(opened.source.rows('messages', 10)), /message M1: its spool file .*S1 cannot be read \(ENOENT\)$/);
});

test('the shared files are the ACME cache and the DKIM keys, by path under data_dir, with their modes; no temp files or renewal requests', {
  timeout: 10_000,
}, async (t) => {
  const dataDir = await tempDir(t);
  await mkdir(path.join(dataDir, 'certs', 'acme', 'mx.example.test'), { recursive: true });
  await mkdir(path.join(dataDir, 'certs', 'self-signed'), { recursive: true });
  await mkdir(path.join(dataDir, 'dkim', 'example.test'), { recursive: true });
  await writeFile(path.join(dataDir, 'certs', 'acme', 'account.key'), 'ACCOUNT KEY', { mode: 0o600 });
  await writeFile(path.join(dataDir, 'certs', 'acme', 'mx.example.test', 'meta.json'), '{}');
  await chmod(path.join(dataDir, 'certs', 'acme', 'mx.example.test', 'meta.json'), 0o644);
  await writeFile(path.join(dataDir, 'certs', 'acme', 'mx.example.test', 'meta.json.tmp-0a1b2c'), 'half');
  await writeFile(path.join(dataDir, 'certs', 'self-signed', 'key.pem'), 'node-local');
  await mkdir(path.join(dataDir, 'certs', 'acme', 'control'));
  await writeFile(path.join(dataDir, 'certs', 'acme', 'control', 'renew-1.json'), '{}'); // a request to this node's daemon
  await writeFile(path.join(dataDir, 'dkim', 'example.test', 's1.pem'), 'DKIM KEY', { mode: 0o600 });
  const files = await sharedFilesOf(dataDir);
  assert.deepEqual(
    files.map((f) => [f.path, f.mode.toString(8), f.content.toString()]),
    [
      ['certs/acme/account.key', '600', 'ACCOUNT KEY'],
      ['certs/acme/mx.example.test/meta.json', '644', '{}'],
      ['dkim/example.test/s1.pem', '600', 'DKIM KEY'],
    ],
  );
});
