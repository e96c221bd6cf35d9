// Postfix as a sending peer: a real Postfix instance relays a batch into Sealpost's MX listener
// over STARTTLS, verifying Sealpost's operator certificate (test CA, SNI mx.sealpost.test). Every
// message arrives exactly once; Postfix's log shows the verified TLS hops. Needs root (netless).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { createCa, issueCert } from '../helpers/certs.ts';
import { startSealpost } from '../helpers/daemon.ts';
import { composeMessage, headerValues } from '../helpers/maildir.ts';
import { startPostfixSender } from '../helpers/postfix.ts';
import { tempDir } from '../helpers/tmp.ts';

const HOST = 'mx.sealpost.test';
const COUNT = 50;

test(`Postfix relays ${COUNT} messages into Sealpost over verified STARTTLS`, { timeout: 90_000 }, async (t) => {
  const dir = await tempDir(t);
  const ca = await createCa('Sealpost Test Root');
  const leaf = await issueCert(ca, { names: [HOST] });
  const caFile = path.join(dir, 'ca.pem');
  await writeFile(caFile, ca.certPem, { mode: 0o644 });
  await writeFile(path.join(dir, 'cert.pem'), leaf.chainPem);
  await writeFile(path.join(dir, 'key.pem'), leaf.keyPem, { mode: 0o600 });
  const daemon = await startSealpost(t, { config: { tls: { cert_file: path.join(dir, 'cert.pem'), key_file: path.join(dir, 'key.pem') } } });

  const sender = await startPostfixSender(t, {
    relayTo: { host: '127.0.0.1', port: daemon.smtpPort },
    tls: { level: 'verify', caFile, servername: HOST, match: [HOST] },
  });

  const subjects = Array.from({ length: COUNT }, (_, i) => `postfix batch ${String(i).padStart(3, '0')}`);
  // A few sendmail processes at a time.
  const queue = [...subjects.entries()];
  await Promise.all(
    Array.from({ length: 5 }, async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const [i, subject] = next;
        const to = i % 2 === 0 ? 'alice@example.test' : 'bob@example.test';
        await sender.inject(
          'carol@origin.test',
          [to],
          composeMessage({ from: 'carol@origin.test', to: [to], subject, headers: { 'Message-ID': `<batch-${i}@origin.test>` } }),
        );
      }
    }),
  );

  await sender.waitForQueueEmpty(60_000);
  const all = await daemon.waitForMail(COUNT, { timeoutMs: 20_000 });
  assert.equal(all.length, COUNT, 'each message exactly once');
  assert.deepEqual(all.map((m) => m.subject).sort(), subjects);
  const alice = await daemon.readMaildir('example.test', 'alice');
  assert.equal(alice.length, COUNT / 2);
  assert.ok(alice.every((m) => Number(m.subject?.slice(-3)) % 2 === 0));

  for (const message of all) {
    const [ours, theirs] = headerValues(message.raw, 'received');
    // Our Received on top: Postfix's EHLO name, ESMTPS, TLS 1.3; Postfix's own below it.
    assert.match(
      ours ?? '',
      /^from sender\.postfix\.test \(unknown \[127\.0\.0\.1\]\) by mx\.sealpost\.test \(Sealpost\) with ESMTPS id \S+ \(using TLSv1\.3 with cipher TLS_\w+ \(\d+\/\d+ bits\)\) for <(alice|bob)@example\.test>; /,
    );
    assert.match(theirs ?? '', /by sender\.postfix\.test \(Postfix[,)]/);
    assert.equal(message.header('return-path'), '<carol@origin.test>');
  }

  const log = await sender.log();
  const sent = log.match(/status=sent \(250 2\.0\.0 Ok: queued as \S+\)/g) ?? [];
  assert.equal(sent.length, COUNT, 'Postfix logged every message as sent');
  // Postfix verified our certificate against the test CA (level verify, SNI and match mx.sealpost.test).
  assert.match(log, new RegExp(`Verified TLS connection established to 127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${daemon.smtpPort}: TLSv1\\.3 with cipher`));
  assert.doesNotMatch(log, /Untrusted TLS|Anonymous TLS|status=deferred|status=bounced/);
  // Sealpost's session records agree: every session from Postfix used TLS, with the SNI it sent.
  const sessions = daemon.findLogs((r) => r.event === 'session' && r['helo'] === 'sender.postfix.test');
  assert.ok(sessions.length >= 1);
  for (const s of sessions) assert.equal((s['tls'] as { sni?: string } | null)?.sni, HOST, JSON.stringify(s));
});
