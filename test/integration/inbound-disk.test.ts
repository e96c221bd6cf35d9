// Disk space: with the data dir's file system below inbound.min_free_mb, new mail is refused with
// 452 4.3.1 (and accepted again once there is room); with the Maildirs' file system full, mail is
// still accepted into the queue, delivery is deferred with the reason in `sealpost queue show`,
// and `sealpost queue retry --all` delivers it once space is freed. Uses small tmpfs mounts:
// netless gives the test root in a private mount namespace. Everything is unmounted afterwards.
import assert from 'node:assert/strict';
import { mkdir, readdir, statfs, unlink } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { type SealpostDaemon, startSealpost } from '../helpers/daemon.ts';
import { run, runOk } from '../helpers/proc.ts';
import { swaksSend } from '../helpers/swaks.ts';
import { makeTempDir, removeTempDir, type Scope } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';
import { connectSmtp, queueList } from './inbound-smtp.ts';

interface Mounts {
  mount(dir: string, size: string): Promise<void>;
  /** Set once started: stopped before anything is unmounted. */
  daemon: SealpostDaemon | undefined;
}

/**
 * Call before starting the daemon: its after hook then runs first (node:test runs after hooks in
 * the order they were added), stopping the daemon, then unmounting, before any temp dir removal.
 */
function tmpfsMounts(t: Scope): Mounts {
  const mounted: string[] = [];
  const mounts: Mounts = {
    daemon: undefined,
    async mount(dir, size) {
      await mkdir(dir, { recursive: true });
      await runOk('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
      mounted.push(dir);
    },
  };
  t.after(async () => {
    await mounts.daemon?.stop().catch(() => mounts.daemon?.kill9());
    for (const dir of mounted.reverse()) await runOk('umount', [dir]);
  });
  return mounts;
}

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
    await waitFor(
      async () => (await smtp.command('MAIL FROM:<carol@remote.test>')).code === 250,
      { timeoutMs: 10_000, intervalMs: 300, what: 'MAIL FROM to be accepted once the data dir has room' },
    );
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
