import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createLocalCourier } from '../../../src/local/courier.ts';
import { maildirPath } from '../../../src/local/maildir.ts';

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
