import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import { parseArgs } from '../../../src/cli/args.ts';
import { listText, run } from '../../../src/cli/queue.ts';
import { MIGRATIONS_DIR, openDb } from '../../../src/db/open.ts';
import { QueueAdmin } from '../../../src/queue/admin.ts';
import { QueueStore } from '../../../src/queue/store.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-admin-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const retry = { minBackoffMs: 60_000, maxBackoffMs: 3_600_000, maxLifetimeMs: 86_400_000 };

test('queue list pages by id with --limit/--after, and always says the total and that the list is cut', { timeout: 20_000 }, async () => {
  const db = openDb(path.join(dir, 'paging'), MIGRATIONS_DIR);
  const store = new QueueStore(db, retry);
  const ids = ['M1', 'M2', 'M3', 'M4', 'M5'];
  await Promise.all(
    ids.map((id, i) =>
      store.enqueue({
        id,
        receivedAt: 1000 + i,
        sender: 's@remote.test',
        body: Buffer.from('Subject: x\r\n\r\n'),
        smtputf8: false,
        eightBit: false,
        origin: 'smtp',
        recipients: [{ rcpt: `${id}@example.test`, address: `${id}@example.test`, transport: 'local' }],
      }),
    ),
  );
  const admin = new QueueAdmin(db);

  const first = admin.list({ limit: 2 });
  assert.deepEqual(
    first.messages.map((m) => m.id),
    ['M1', 'M2'],
  );
  assert.deepEqual({ total: first.total, more: first.more, next: first.next, after: first.after }, { total: 5, more: true, next: 'M2', after: null });
  assert.equal(first.messages[0]?.recipients[0]?.address, 'M1@example.test', 'the recipients of the page come with it');
  assert.match(listText(first), /\n-- 2 of 5 messages shown \(list cut; next page: --after M2\)\n$/);

  const second = admin.list({ limit: 2, after: 'M2' });
  assert.deepEqual(
    second.messages.map((m) => m.id),
    ['M3', 'M4'],
  );
  assert.equal(second.next, 'M4');
  assert.match(listText(second), /-- 2 of 5 messages shown after M2 \(list cut; next page: --after M4\)/);

  const last = admin.list({ limit: 2, after: 'M4' });
  assert.deepEqual(
    last.messages.map((m) => m.id),
    ['M5'],
  );
  assert.deepEqual({ more: last.more, next: last.next }, { more: false, next: null });
  assert.match(listText(last), /-- 1 of 5 messages shown after M4 \(list cut; no more after these\)/);

  // A page boundary delivered meanwhile: the next page still starts after it.
  await store.delete('M2');
  assert.deepEqual(
    admin.list({ limit: 2, after: 'M2' }).messages.map((m) => m.id),
    ['M3', 'M4'],
  );

  const whole = admin.list();
  assert.equal(whole.more, false);
  assert.match(listText(whole), /\n-- 4 messages\n$/);
  db.close();
});

test('an empty queue says so', () => {
  assert.equal(listText({ total: 0, after: null, more: false, next: null, messages: [] }), 'queue is empty\n');
});

/** `sealpost queue ARGS` against a config whose data_dir is `dataDir`: exit code, stdout, stderr. */
async function cli(dataDir: string, argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const configFile = path.join(dataDir, 'sealpost.toml');
  writeFileSync(configFile, `hostname = "mx.example.test"\ndata_dir = "${dataDir}"\n[[domain]]\nname = "example.test"\nmailboxes = ["alice"]\n`);
  const args = parseArgs(argv, ['config', 'limit', 'after']);
  assert.ok(typeof args !== 'string', String(args));
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: '', err: '' };
  out.on('data', (c: Buffer) => (chunks.out += c.toString()));
  err.on('data', (c: Buffer) => (chunks.err += c.toString()));
  const code = await run(configFile, args, out as unknown as typeof process.stdout, err as unknown as typeof process.stderr);
  return { code, ...chunks };
}

test('sealpost queue list --limit/--after (text and --json), and a bad --limit', { timeout: 20_000 }, async () => {
  const dataDir = path.join(dir, 'cli');
  const db = openDb(dataDir, MIGRATIONS_DIR);
  const store = new QueueStore(db, retry);
  await Promise.all(
    ['C1', 'C2', 'C3'].map((id) =>
      store.enqueue({
        id,
        receivedAt: 1000,
        sender: 's@remote.test',
        body: Buffer.from('Subject: x\r\n\r\n'),
        smtputf8: false,
        eightBit: false,
        origin: 'smtp',
        recipients: [{ rcpt: 'alice@example.test', address: 'alice@example.test', transport: 'local' }],
      }),
    ),
  );
  db.close();
  const text = await cli(dataDir, ['queue', 'list', '--limit', '2']);
  assert.equal(text.code, 0, text.err);
  assert.equal(text.out.trim().split('\n').length, 3);
  assert.match(text.out, /-- 2 of 3 messages shown \(list cut; next page: --after C2\)\n$/);
  const json = await cli(dataDir, ['queue', 'list', '--json', '--limit', '2', '--after', 'C2']);
  assert.equal(json.code, 0, json.err);
  const page = JSON.parse(json.out) as { total: number; more: boolean; next: string | null; after: string; messages: { id: string }[] };
  assert.deepEqual(
    { total: page.total, more: page.more, next: page.next, after: page.after, ids: page.messages.map((m) => m.id) },
    { total: 3, more: false, next: null, after: 'C2', ids: ['C3'] },
  );
  const bad = await cli(dataDir, ['queue', 'list', '--limit', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--limit must be a whole number of messages, 1 or more/);
});
