// Disk space: with the data dir's file system below inbound.min_free_mb, new mail is refused with
// 452 4.3.1 (and accepted again once there is room); with the Maildirs' file system full, mail is
// still accepted into the queue, delivery is deferred with the reason in `sealpost queue show`,
// and `sealpost queue retry --all` delivers it once space is freed; with the data dir's own file
// system full to the last block, the daemon stays up (its store calls retried), answers 452, and
// delivers once there is room, and a restart on the full disk comes up. Uses small tmpfs mounts:
// netless gives the test root in a private mount namespace. Everything is unmounted afterwards.
import assert from 'node:assert/strict';
import { readdir, rm, statfs, unlink } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { startSealpost } from '../helpers/daemon.ts';
import { run, runOk } from '../helpers/proc.ts';
import { swaksSend } from '../helpers/swaks.ts';
import { makeTempDir, removeTempDir } from '../helpers/tmp.ts';
import { fillUp, tmpfsMounts } from '../helpers/tmpfs.ts';
import { waitFor } from '../helpers/wait.ts';
import { connectSmtp, queueList } from './inbound-smtp.ts';

test('data dir below inbound.min_free_mb: MAIL FROM gets 452 4.3.1, and 250 once there is room', { timeout: 60_000 }, async (t) => {
  const mounts = tmpfsMounts(t);
  const base = await makeTempDir('sealpost-disk-');
  t.after(() => removeTempDir(base));
  const dataDir = path.join(base, 'data');
  await mounts.mount(dataDir, '2m');
  const daemon = await startSealpost(t, { config: { data_dir: dataDir, inbound: { min_free_mb: 3 } } });
  mounts.daemon = daemon;

  const smtp = await connectSmtp(daemon.smtpPort);
  try {
    assert.equal((await smtp.reply()).code, 220);
    assert.equal((await smtp.command('EHLO disk.client.test')).code, 250);
    const refused = await smtp.command('MAIL FROM:<carol@remote.test>');
    assert.equal(refused.code, 452, refused.text);
    assert.match(refused.text, /^4\.3\.1 /);

    // More room (the tmpfs grows to 8 MiB): new mail is taken again, on the same connection.
    await runOk('mount', ['-o', 'remount,size=8m', dataDir]);
    await waitFor(async () => (await smtp.command('MAIL FROM:<carol@remote.test>')).code === 250, {
      timeoutMs: 10_000,
      intervalMs: 300,
      what: 'MAIL FROM to be accepted once the data dir has room',
    });
    assert.equal((await smtp.command('RCPT TO:<alice@example.test>')).code, 250);
    assert.equal((await smtp.command('DATA')).code, 354);
    smtp.write('Subject: room again\r\n\r\nok\r\n.\r\n');
    assert.equal((await smtp.reply()).code, 250);
  } finally {
    smtp.destroy();
  }
  const [message] = await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'alice' });
  assert.equal(message?.subject, 'room again');
});

test('Maildirs on a full file system: accepted, deferred with the reason, delivered after queue retry', { timeout: 60_000 }, async (t) => {
  const mounts = tmpfsMounts(t);
  // No automatic retry within the test: only `queue retry` brings the message out.
  const daemon = await startSealpost(t, { config: { queue: { min_backoff: '1h', max_backoff: '4h' } } });
  mounts.daemon = daemon;
  const mailRoot = path.join(daemon.dataDir, 'mail');
  await mounts.mount(mailRoot, '256k');
  // Fill it up.
  const filler = path.join(mailRoot, 'filler');
  await run('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k', 'count=1024'], { timeoutMs: 10_000 });
  const fs = await statfs(mailRoot);
  assert.equal(fs.bavail, 0, 'the Maildir file system is full');

  const sent = await swaksSend({ port: daemon.smtpPort, from: 'carol@remote.test', to: ['alice@example.test'], subject: 'disk full' });
  assert.equal(sent.code, 0, sent.stdout + sent.stderr);
  const queueId = /queued as (\S+)/.exec(sent.stdout)?.[1];
  assert.ok(queueId, sent.stdout);

  const deferred = await daemon.waitForLog({ event: 'deferred', queueId });
  assert.equal(deferred['enhanced'], '4.3.1');
  assert.match(String(deferred['reason']), /ENOSPC/);
  const show = await daemon.cli(['queue', 'show', queueId]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /alice@example\.test: queued, 1 attempt/);
  assert.match(show.stdout, /last error: 4\.3\.1 cannot write to .*ENOSPC/);
  const [queued] = await queueList(daemon);
  assert.equal(queued?.id, queueId);
  assert.deepEqual(await daemon.readMaildir('example.test', 'alice'), []);

  // Space freed; the operator asks for a retry now.
  await unlink(filler);
  const retry = await daemon.cli(['queue', 'retry', '--all']);
  assert.equal(retry.code, 0, retry.stderr);
  assert.match(retry.stdout, /^1 recipient: retry done$/m);
  await daemon.waitForLog({ event: 'delivered', queueId });
  const [message] = await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'alice' });
  assert.equal(message?.subject, 'disk full');
  assert.deepEqual(await queueList(daemon), []);
  // No half-written file left behind from the failed attempt.
  assert.deepEqual(await readdir(path.join(mailRoot, 'example.test', 'alice', 'tmp')), []);
});

/** EHLO then MAIL FROM on a fresh connection: the reply to MAIL FROM. */
async function mailFromReply(port: number): Promise<{ code: number; text: string }> {
  const smtp = await connectSmtp(port);
  try {
    assert.equal((await smtp.reply()).code, 220);
    assert.equal((await smtp.command('EHLO disk.client.test')).code, 250);
    return await smtp.command('MAIL FROM:<carol@remote.test>');
  } finally {
    smtp.destroy();
  }
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('data dir file system full to the last block (min_free_mb at its floor): the daemon stays up and answers 452, delivers once there is room, and a restart on the full disk comes up and answers 452', {
  timeout: 180_000,
}, async (t) => {
  const mounts = tmpfsMounts(t);
  const base = await makeTempDir('sealpost-full-');
  t.after(() => removeTempDir(base));
  const dataDir = path.join(base, 'data');
  await mounts.mount(dataDir, '16m');
  // min_free_mb 0 means the floor (4 MiB); retries every second or two.
  const daemon = await startSealpost(t, { config: { data_dir: dataDir, inbound: { min_free_mb: 0 }, queue: { min_backoff: '1s', max_backoff: '2s' } } });
  mounts.daemon = daemon;
  // The Maildirs full on a file system of their own: the first delivery is deferred (its outcome recorded).
  const mailRoot = path.join(dataDir, 'mail');
  await mounts.mount(mailRoot, '256k');
  await fillUp(path.join(mailRoot, 'filler'));
  const sent = await swaksSend({ port: daemon.smtpPort, from: 'carol@remote.test', to: ['alice@example.test'], subject: 'full disk' });
  assert.equal(sent.code, 0, sent.stdout + sent.stderr);
  const queueId = /queued as (\S+)/.exec(sent.stdout)?.[1];
  assert.ok(queueId, sent.stdout);
  await daemon.waitForLog({ event: 'deferred', queueId });

  // Now the data dir's own file system: not one block left for the WAL.
  const since = daemon.logs().length;
  await fillUp(path.join(dataDir, 'filler'));
  const failing = await daemon.waitForLog((r) => r['event'] === 'storage' && r['state'] === 'failing', { since, timeoutMs: 30_000 });
  assert.match(String(failing['code']), /^SQLITE_(FULL|IOERR)/);
  // Still up (the fault used to end the process at once), new mail refused with 452 4.3.1.
  assert.ok(alive(daemon.pid()), 'the daemon is still running');
  const refused = await mailFromReply(daemon.smtpPort);
  assert.equal(refused.code, 452, refused.text);
  assert.match(refused.text, /^4\.3\.1 /);
  assert.equal(
    daemon
      .logs()
      .slice(since)
      .filter((r) => r['event'] === 'storage' && r['state'] === 'failing').length,
    1,
    'logged once per episode',
  );

  // Room again (both file systems): an operator's retry brings the message out at once.
  await unlink(path.join(dataDir, 'filler'));
  await unlink(path.join(mailRoot, 'filler'));
  // (Its exit code is not the point: the worker's own retry may have claimed the message first.)
  await daemon.cli(['queue', 'retry', '--all']);
  await daemon.waitForLog({ event: 'delivered', queueId }, { since, timeoutMs: 30_000 });
  await daemon.waitForLog({ event: 'storage', state: 'recovered' }, { since, timeoutMs: 30_000 });
  const [message] = await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'alice' });
  assert.equal(message?.subject, 'full disk');

  // Stopped with room, and the disk fills while it is down: the hardest start (SQLite must make its
  // -shm file anew, SQLITE_IOERR_SHMSIZE without one free block). The kept self-signed certificate
  // gone too: made again, served from memory.
  await waitFor(async () => (await statfs(dataDir).then((s) => s.bavail)) > 0 && (await readdir(dataDir)).includes('sealpost.reserve'), {
    timeoutMs: 10_000,
    what: 'the start-up reserve to be made again',
  });
  await daemon.stop();
  await rm(path.join(dataDir, 'certs', 'self-signed'), { recursive: true, force: true });
  await fillUp(path.join(dataDir, 'filler'));
  const beforeRestart = daemon.logs().length;
  await daemon.restart();
  assert.ok(alive(daemon.pid()), 'the daemon came up on the full disk');
  const opened = daemon
    .logs()
    .slice(beforeRestart)
    .find((r) => r['event'] === 'storage' && r['where'] === 'open');
  assert.ok(opened, 'the start-up reserve was given back to open the database');
  const refusedAgain = await mailFromReply(daemon.smtpPort);
  assert.equal(refusedAgain.code, 452, refusedAgain.text);
  assert.match(refusedAgain.text, /^4\.3\.1 /);

  // And once there is room, mail flows again.
  await unlink(path.join(dataDir, 'filler'));
  // Twice in a row: with [server] processes each session process reads the free space itself (at most once a second).
  await waitFor(async () => (await mailFromReply(daemon.smtpPort)).code === 250 && (await mailFromReply(daemon.smtpPort)).code === 250, {
    timeoutMs: 15_000,
    intervalMs: 500,
    what: 'MAIL FROM to be accepted once the data dir has room',
  });
  const after = await swaksSend({ port: daemon.smtpPort, from: 'carol@remote.test', to: ['alice@example.test'], subject: 'room again' });
  assert.equal(after.code, 0, after.stdout + after.stderr);
  const mail = await daemon.waitForMail(2, { domain: 'example.test', mailbox: 'alice' });
  assert.deepEqual(mail.map((m) => m.subject).sort(), ['full disk', 'room again']);
});
