// `sealpost send` (src/cli/send.ts → src/intake): a local program's message, LF line ends and no
// From/Date/Message-ID, is queued through the same intake as SMTP mail and delivered by the
// running daemon; an unknown recipient queues nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startSealpost } from '../helpers/daemon.ts';
import { queueList } from './inbound-smtp.ts';

test('sealpost send: queued through intake, delivered with our trace field and the fix-ups; an unknown recipient queues nothing', {
  timeout: 60_000,
}, async (t) => {
  const daemon = await startSealpost(t);

  const refused = await daemon.cli(['send', '-f', 'cron@example.test', 'nobody@example.test'], 'Subject: lost\n\nnever\n');
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /nobody@example\.test: .*nothing was queued/);
  assert.deepEqual(await queueList(daemon), []);

  const sent = await daemon.cli(['send', '-f', 'cron@example.test', 'alice@example.test'], 'Subject: nightly report\n\nall good\n');
  assert.equal(sent.code, 0, sent.stderr);
  const id = /^queued as (\S+)$/m.exec(sent.stdout)?.[1];
  assert.ok(id, sent.stdout);

  const [message] = await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'alice' });
  assert.ok(message);
  assert.equal(message.subject, 'nightly report');
  assert.match(message.header('received') ?? '', new RegExp(`^by mx\\.sealpost\\.test \\(Sealpost, from userid \\d+\\)\\s+id ${id};`));
  assert.equal(message.header('from'), '<cron@example.test>');
  assert.ok(message.header('date'), 'Date: added');
  assert.equal(message.header('message-id'), `<${id}@mx.sealpost.test>`);
  // Local programs write LF: stored and delivered with CRLF only.
  assert.doesNotMatch(message.raw.replace(/\r\n/g, ''), /[\r\n]/);
});
