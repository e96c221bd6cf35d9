import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createLocalCourier } from '../../../src/local/courier.ts';
import { createMaildirWriter, maildirPath } from '../../../src/local/maildir.ts';
import { startMaildirWriters } from '../../../src/offload/writers.ts';
import { waitFor } from '../../helpers/wait.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'sealpost-maildir-'));
after(() => rmSync(root, { recursive: true, force: true }));

const job = {
  queueId: 'Q1',
  sender: 'a@remote.test',
  receivedAt: 1_700_000_000_000,
  size: 0,
  body: Buffer.from('Subject: hi\r\n\r\nbody\r\n'),
  smtputf8: false,
  eightBit: false,
  recipients: [{ id: 7, rcpt: 'Alice@example.test', address: 'alice@example.test', attempts: 0 }],
};

test('delivers into new/ with Return-Path and Delivered-To, and a retry does not duplicate', async () => {
  const courier = createLocalCourier({ mailRoot: root, hostname: 'mx.example.test' });
  const first = await courier.deliver(job);
  assert.equal(first.get(7)?.kind, 'delivered');
  const dir = maildirPath(root, 'alice@example.test');
  assert.equal(dir, path.join(root, 'example.test', 'alice'));
  const files = readdirSync(path.join(dir, 'new'));
  assert.equal(files.length, 1);
  assert.deepEqual(readdirSync(path.join(dir, 'tmp')), [], 'nothing left behind in tmp/');
  assert.ok(statSync(path.join(dir, 'cur')).isDirectory());
  const content = readFileSync(path.join(dir, 'new', files[0] as string), 'utf8');
  assert.equal(content, 'Return-Path: <a@remote.test>\r\nDelivered-To: alice@example.test\r\nSubject: hi\r\n\r\nbody\r\n');
  assert.match(files[0] as string, new RegExp(`,S=${Buffer.byteLength(content)}$`));
  const again = await courier.deliver(job);
  assert.equal(again.get(7)?.kind, 'delivered');
  assert.equal(readdirSync(path.join(dir, 'new')).length, 1);
});

test('a file system error is a transient outcome, not an exception', async () => {
  // The mail root is a plain file, so every mkdir below it fails (ENOTDIR), like a broken mount.
  const notADirectory = path.join(root, 'not-a-directory');
  writeFileSync(notADirectory, '');
  const courier = createLocalCourier({ mailRoot: notADirectory, hostname: 'mx' });
  const outcome = (await courier.deliver(job)).get(7);
  assert.equal(outcome?.kind, 'transient');
  assert.match(outcome?.kind === 'transient' ? outcome.reason : '', /cannot write/);
});

test('renames into the same new/ share a directory fsync; each write waits for one that started after its rename', async () => {
  const syncs: { dir: string; release: () => void }[] = [];
  const writer = createMaildirWriter({
    syncDir: (dir) => new Promise<void>((resolve) => syncs.push({ dir, release: resolve })),
  });
  const dir = path.join(root, 'group.test', 'bob');
  const done: string[] = [];
  const write = (name: string) => writer(dir, name, [Buffer.from(`${name}\r\n`)]).then(() => done.push(name));
  const first = write('m1');
  await waitFor(() => syncs.length === 1, { timeoutMs: 5000, what: 'the first fsync' });
  // m2..m4 are renamed while the first fsync runs: they must wait for a second one, and share it.
  const rest = [write('m2'), write('m3'), write('m4')];
  await waitFor(() => readdirSync(path.join(dir, 'new')).length === 4, { timeoutMs: 5000, what: 'four renames' });
  assert.equal(syncs.length, 1, 'no second fsync while the first runs');
  syncs[0]?.release();
  await first;
  assert.deepEqual(done, ['m1']);
  await waitFor(() => syncs.length === 2, { timeoutMs: 5000, what: 'the second fsync' });
  assert.deepEqual(done, ['m1'], 'the later renames are not answered by the fsync that started before them');
  syncs[1]?.release();
  await Promise.all(rest);
  assert.deepEqual(done.sort(), ['m1', 'm2', 'm3', 'm4']);
  assert.equal(syncs.length, 2);
  assert.ok(syncs.every((s) => s.dir === path.join(dir, 'new')));
});

test('the Maildir writer threads write the same files and report file-system errors with their code', async () => {
  const thread = startMaildirWriters({ threads: 2 });
  try {
    const courier = createLocalCourier({ mailRoot: path.join(root, 'threaded'), hostname: 'mx.example.test', write: thread.write });
    assert.equal((await courier.deliver(job)).get(7)?.kind, 'delivered');
    const dir = maildirPath(path.join(root, 'threaded'), 'alice@example.test');
    assert.equal(readdirSync(path.join(dir, 'new')).length, 1);
    assert.equal((await courier.deliver(job)).get(7)?.kind, 'delivered', 'a retry finds the file');
    assert.equal(readdirSync(path.join(dir, 'new')).length, 1);
    const notADirectory = path.join(root, 'threaded-file');
    writeFileSync(notADirectory, '');
    await assert.rejects(thread.write(path.join(notADirectory, 'x', 'y'), 'n', [Buffer.from('x')]), { code: 'ENOTDIR' });
  } finally {
    await thread.close();
  }
});

test('a retry after a crash finds the message in cur/, where a reader moved it with its flags, and does not deliver it again', async () => {
  const courier = createLocalCourier({ mailRoot: root, hostname: 'mx.example.test' });
  const seen = { ...job, queueId: 'QCUR', recipients: [{ id: 8, rcpt: 'carl@example.test', address: 'carl@example.test', attempts: 0 }] };
  assert.equal((await courier.deliver(seen)).get(8)?.kind, 'delivered');
  const dir = maildirPath(root, 'carl@example.test');
  const [name] = readdirSync(path.join(dir, 'new'));
  assert.ok(name);
  // What Dovecot does when the message is read: new/<unique> → cur/<unique>:2,S.
  renameSync(path.join(dir, 'new', name), path.join(dir, 'cur', `${name}:2,S`));
  const again = (await courier.deliver(seen)).get(8);
  assert.equal(again?.kind, 'delivered');
  assert.match(again?.kind === 'delivered' ? (again.detail ?? '') : '', /already there/);
  assert.deepEqual(readdirSync(path.join(dir, 'new')), [], 'not delivered a second time');
  assert.deepEqual(readdirSync(path.join(dir, 'cur')), [`${name}:2,S`]);
});
