// SIGHUP config reload of the real daemon: a broken config is refused with its problems logged
// and the old config keeps running (mail for the old mailboxes is still accepted and delivered);
// a good config makes a new mailbox receive mail at once, and a changed listener address is
// reported as needing a restart while the old listener keeps serving. Loopback only (netless).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type SealpostDaemon, startSealpost } from '../helpers/daemon.ts';
import { freePort } from '../helpers/ports.ts';
import { catchesSignal } from '../helpers/processes.ts';
import { mergeConfig, type Overrides, type SealpostToml, writeSealpostConfig } from '../helpers/sealpost-config.ts';
import { swaksSend } from '../helpers/swaks.ts';
import { waitFor } from '../helpers/wait.ts';

/** Rewrites the daemon's config file with `overrides` merged into what it started with, then SIGHUP. */
async function reloadWith(daemon: SealpostDaemon, overrides: Overrides<SealpostToml>, state: string): Promise<Record<string, unknown>> {
  assert.ok(daemon.config, 'a generated config');
  await writeSealpostConfig(daemon.configFile, mergeConfig(daemon.config, overrides));
  const pid = daemon.pid();
  assert.ok(pid !== undefined, 'the daemon runs');
  await waitFor(() => catchesSignal(pid, 'SIGHUP'), { timeoutMs: 5_000, intervalMs: 20, what: 'the daemon to handle SIGHUP' });
  const since = daemon.logs().length;
  process.kill(pid, 'SIGHUP');
  return daemon.waitForLog({ event: 'daemon', state }, { since, timeoutMs: 10_000 });
}

test('SIGHUP: a broken config is refused and the old one keeps running; a good one applies at once', { timeout: 90_000 }, async (t) => {
  const daemon = await startSealpost(t);
  const send = (to: string, subject: string) => swaksSend({ port: daemon.smtpPort, from: 'sender@remote.test', to: [to], subject });

  // carol does not exist yet.
  assert.equal((await send('carol@example.test', 'too early')).code, 24, 'RCPT refused before the reload');

  // Broken: an alias to a mailbox that is not there, and a typo'd key. Nothing of it applies.
  const refused = await reloadWith(
    daemon,
    {
      domain: [{ name: 'example.test', mailboxes: ['alice', 'bob', 'carol'], aliases: { postmaster: 'nobody' } }],
      limits: { conections: 5 } as Overrides<SealpostToml>['limits'],
    },
    'reload-refused',
  );
  assert.equal(refused['level'], 'error');
  const problems = refused['problems'] as { path: string; message: string }[];
  assert.deepEqual(problems.map((p) => p.path).sort(), ['domain[0].aliases.postmaster', 'limits.conections']);
  assert.match(String(refused['msg']), /config reload refused: 2 problems in .*sealpost\.toml .*the running config stays in force/);
  assert.equal(daemon.pid() !== undefined, true, 'still running');
  // The old config is in force: alice still gets mail, carol is still unknown.
  assert.equal((await send('alice@example.test', 'after the refused reload')).code, 0);
  const alice = await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'alice' });
  assert.equal(alice[0]?.subject, 'after the refused reload');
  assert.equal((await send('carol@example.test', 'still too early')).code, 24);

  // Good: carol appears; the listener address changes (needs a restart); log level changes.
  const otherPort = await freePort();
  const reloaded = await reloadWith(
    daemon,
    {
      domain: [{ name: 'example.test', mailboxes: ['alice', 'bob', 'carol'], aliases: { postmaster: 'alice' } }],
      listen: { smtp: [`127.0.0.1:${otherPort}`] },
      log: { level: 'debug' },
    },
    'reloaded',
  );
  assert.deepEqual(reloaded['applied'], ['domain', 'log.level']);
  assert.deepEqual(reloaded['restartNeeded'], ['listen.smtp']);
  const restart = daemon.findLogs({ event: 'daemon', state: 'restart-needed' }).at(-1);
  assert.deepEqual(restart?.['changes'], [
    { key: 'listen.smtp', from: [{ host: '127.0.0.1', port: daemon.smtpPort }], to: [{ host: '127.0.0.1', port: otherPort }] },
  ]);
  assert.match(String(restart?.['msg']), /take effect only after a restart: listen\.smtp/);

  assert.equal((await send('carol@example.test', 'hello carol')).code, 0, 'carol is known after the reload');
  const carol = await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'carol' });
  assert.equal(carol[0]?.subject, 'hello carol');
  // The listener stays where it was until a restart.
  const moved = await swaksSend({ port: otherPort, from: 'sender@remote.test', to: ['carol@example.test'] });
  assert.notEqual(moved.code, 0, 'nothing listens on the new address before a restart');

  // A reload with nothing changed says so, and a restart picks the new address up.
  const again = await reloadWith(
    daemon,
    {
      domain: [{ name: 'example.test', mailboxes: ['alice', 'bob', 'carol'], aliases: { postmaster: 'alice' } }],
      listen: { smtp: [`127.0.0.1:${otherPort}`] },
      log: { level: 'debug' },
    },
    'reloaded',
  );
  assert.deepEqual(again['applied'], []);
  assert.deepEqual(again['restartNeeded'], ['listen.smtp']);
  await daemon.restart();
  assert.deepEqual(daemon.ports.smtp, [otherPort]);
  assert.equal((await swaksSend({ port: otherPort, from: 'sender@remote.test', to: ['carol@example.test'], subject: 'after restart' })).code, 0);
  await daemon.waitForMail(2, { domain: 'example.test', mailbox: 'carol' });
});
