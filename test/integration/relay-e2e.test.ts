// Outbound end to end through the real daemon: mail relayed from localhost reaches a Postfix
// receiver over verified TLS with the hop on record; a remote 550 bounces to the sender with a DSN;
// a stuck message is explained by `queue show`, gets one delay notice, and obeys hold/release/
// delete; a kill -9 during delivery loses nothing. Loopback only (netless), needs root (Postfix).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startSealpost } from '../helpers/daemon.ts';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { headerValue } from '../helpers/maildir.ts';
import { freePort } from '../helpers/ports.ts';
import { run } from '../helpers/proc.ts';
import { createTestPki, startPostfixTlsReceiver, startReceiver, type TestPki } from '../helpers/receivers.ts';
import { swaksSend } from '../helpers/swaks.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

let dns: DnsServer;
let pki: TestPki;

before(async () => {
  dns = await startDnsServer();
  pki = await createTestPki();
});
after(() => dns.close());

function mx(domain: string, host: string, ip: string): void {
  dns.zone.set(domain, { MX: [{ preference: 10, exchange: host }] });
  dns.zone.set(host, { A: [ip] });
}

async function caFile(dir: string): Promise<string> {
  const file = path.join(dir, 'test-ca.pem');
  await writeFile(file, pki.root.certPem);
  return file;
}

/** Sends `count` messages over one SMTP session with Python's smtplib; prints each acknowledged subject. */
async function sendBatch(port: number, from: string, to: string, count: number, prefix: string): Promise<string[]> {
  const script = `
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', ${port}, timeout=30)
for i in range(${count}):
    subject = '${prefix}-%03d' % i
    s.sendmail('${from}', ['${to}'], 'From: ${from}\\r\\nTo: ${to}\\r\\nSubject: %s\\r\\n\\r\\nbody %d\\r\\n' % (subject, i))
    print(subject, flush=True)
s.quit()
`;
  const result = await run('python3', ['-c', script], { timeoutMs: 60_000 });
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim().split('\n');
}

test('relayed from localhost to a Postfix receiver over verified TLS, with the hop on record', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t);
  const port = await freePort('127.0.0.70');
  const receiver = await startPostfixTlsReceiver(t, pki, {
    name: 'dest',
    mxName: 'mx.postfix-dest.test',
    host: '127.0.0.70',
    port,
    domains: ['postfix-dest.test'],
  });
  mx('postfix-dest.test', 'mx.postfix-dest.test', '127.0.0.70');
  const sealpost = await startSealpost(t, {
    config: {
      dns: { servers: [dns.address] },
      outbound: { port, ca_file: await caFile(dir), tls_policy: { 'postfix-dest.test': 'verify' } },
    },
  });

  const sent = await swaksSend({ port: sealpost.smtpPort, from: 'alice@example.test', to: ['carol@postfix-dest.test'], subject: 'verified relay' });
  assert.equal(sent.code, 0, sent.stdout);
  const queueId = /queued as (\S+)/.exec(sent.stdout)?.[1];
  assert.ok(queueId, sent.stdout);

  const [message] = await receiver.waitForMessages(1, 30_000);
  assert.equal(headerValue(message?.raw ?? '', 'Subject'), 'verified relay');
  const hop = await sealpost.waitForLog({ event: 'hop', queueId });
  assert.equal(hop['result'], 'delivered');
  assert.equal(hop['mx'], 'mx.postfix-dest.test');
  assert.equal(hop['ip'], '127.0.0.70');
  assert.equal(hop['policy'], 'verify');
  assert.equal(hop['policySource'], 'table');
  const tls = hop['tls'] as { version: string; cipher: string; verified: boolean };
  assert.equal(tls.verified, true);
  assert.match(tls.version, /^TLSv1\.[23]$/);
  assert.ok(tls.cipher);
  await sealpost.waitForLog({ event: 'delivered', queueId, transport: 'remote' });
  assert.match(await receiver.log(), /Trusted|Anonymous|Untrusted/, 'Postfix logged a TLS connection');

  const show = await sealpost.cli(['queue', 'show', queueId, '--json']);
  assert.equal(show.code, 0, show.stderr);
  const shown = JSON.parse(show.stdout) as { message: unknown; attempts: { mx: string; tls?: { verified: boolean }; result: string }[] };
  assert.equal(shown.message, null, 'delivered: no longer queued');
  assert.deepEqual(
    shown.attempts.map((a) => [a.mx, a.tls?.verified, a.result]),
    [['mx.postfix-dest.test', true, 'delivered']],
  );
});

test('a remote 550 bounces: the sender gets one DSN naming the recipient and the remote reply', { timeout: 60_000 }, async (t) => {
  const port = await freePort('127.0.0.71');
  const receiver = await startReceiver('valid', {
    host: '127.0.0.71',
    port,
    mxName: 'mx.bouncy.test',
    pki,
    server: {
      onRcptTo(address, _session, callback) {
        if (address.address.startsWith('nobody@')) return callback(Object.assign(new Error('5.1.1 <nobody@bouncy.test>: user unknown'), { responseCode: 550 }));
        callback();
      },
    },
  });
  t.after(() => receiver.close());
  mx('bouncy.test', 'mx.bouncy.test', '127.0.0.71');
  const sealpost = await startSealpost(t, { config: { dns: { servers: [dns.address] }, outbound: { port } } });

  const sent = await swaksSend({
    port: sealpost.smtpPort,
    from: 'bob@example.test',
    to: ['nobody@bouncy.test', 'someone@bouncy.test'],
    subject: 'half bounces',
  });
  assert.equal(sent.code, 0, sent.stdout);
  await waitFor(() => receiver.messages.length === 1, { timeoutMs: 20_000, what: 'the accepted recipient received the message' });
  assert.deepEqual(receiver.messages[0]?.to, ['someone@bouncy.test']);

  const [dsn] = await sealpost.waitForMail(1, { domain: 'example.test', mailbox: 'bob', timeoutMs: 20_000 });
  const raw = dsn?.raw ?? '';
  assert.equal(headerValue(raw, 'Return-Path'), '<>', 'DSNs come from the null sender');
  assert.match(headerValue(raw, 'Content-Type') ?? '', /multipart\/report; report-type=delivery-status/);
  assert.match(raw, /Final-Recipient: rfc822; nobody@bouncy\.test/);
  assert.match(raw, /Action: failed/);
  assert.match(raw, /Status: 5\.1\.1/);
  assert.match(raw, /Diagnostic-Code: smtp; 550 5\.1\.1/);
  assert.match(raw, /Content-Type: text\/rfc822-headers[\s\S]*Subject: half bounces/);
  assert.doesNotMatch(raw, /Final-Recipient: rfc822; someone@bouncy\.test/);
  await sealpost.waitForLog({ event: 'delivered', transport: 'local', to: 'bob@example.test' });
  assert.equal((await sealpost.readMaildir('example.test', 'bob')).length, 1, 'exactly one DSN');
});

test('a stuck message: queue show explains it, one delay notice, hold/release/delete', { timeout: 60_000 }, async (t) => {
  dns.zone.set('stuck.test', { rcode: 'SERVFAIL' });
  const sealpost = await startSealpost(t, {
    config: { dns: { servers: [dns.address] }, queue: { min_backoff: '1s', max_backoff: '1s', delay_warning: '2s' } },
  });
  const sent = await swaksSend({ port: sealpost.smtpPort, from: 'alice@example.test', to: ['x@stuck.test'], subject: 'stuck' });
  const queueId = /queued as (\S+)/.exec(sent.stdout)?.[1];
  assert.ok(queueId, sent.stdout);

  await sealpost.waitForLog({ event: 'deferred', queueId });
  const show = await sealpost.cli(['queue', 'show', queueId]);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /x@stuck\.test: queued, \d+ attempts?, next attempt /);
  assert.match(show.stdout, /last error: 4\.4\.3 stuck\.test MX: DNS server failure/);

  // After delay_warning, alice is told once that the message waits (and is still retried).
  const [notice] = await sealpost.waitForMail(1, { domain: 'example.test', mailbox: 'alice', timeoutMs: 20_000 });
  assert.match(notice?.raw ?? '', /Action: delayed/);
  assert.match(notice?.raw ?? '', /Will-Retry-Until: /);
  await sealpost.waitForLog((r) => r['event'] === 'deferred' && r['queueId'] === queueId && Number(r['attempt']) >= 4, { timeoutMs: 20_000 });
  assert.equal((await sealpost.readMaildir('example.test', 'alice')).length, 1, 'one delay notice, not one per retry');

  const held = await sealpost.cli(['queue', 'hold', queueId]);
  assert.equal(held.code, 0, held.stderr);
  const list = (JSON.parse((await sealpost.cli(['queue', 'list', '--json'])).stdout) as { messages: { id: string; recipients: { state: string }[] }[] })
    .messages;
  assert.deepEqual(
    list.find((m) => m.id === queueId)?.recipients.map((r) => r.state),
    ['held'],
  );
  assert.equal((await sealpost.cli(['queue', 'release', queueId])).code, 0);
  const deleted = await sealpost.cli(['queue', 'delete', queueId]);
  assert.equal(deleted.code, 0, deleted.stderr);
  assert.match((await sealpost.cli(['queue', 'list'])).stdout, /queue is empty/);
});

test('kill -9 during delivery of a batch: after a restart every message is delivered (at least once)', { timeout: 120_000 }, async (t) => {
  const port = await freePort('127.0.0.72');
  const receiver = await startReceiver('valid', {
    host: '127.0.0.72',
    port,
    mxName: 'mx.slow.test',
    pki,
    // Slow enough that the batch is still being delivered when the daemon is killed.
    server: { onRcptTo: (_address, _session, callback) => void setTimeout(callback, 150) },
  });
  t.after(() => receiver.close());
  mx('slow.test', 'mx.slow.test', '127.0.0.72');
  const sealpost = await startSealpost(t, {
    config: { dns: { servers: [dns.address] }, outbound: { port, concurrency_per_destination: 2 } },
  });
  const acknowledged = await sendBatch(sealpost.smtpPort, 'alice@example.test', 'dest@slow.test', 30, 'crash');
  assert.equal(acknowledged.length, 30);
  await sealpost.waitForLog({ event: 'delivered', transport: 'remote' }, { timeoutMs: 20_000 });
  await sealpost.kill9();
  const deliveredBeforeCrash = new Set(receiver.messages.map((m) => /Subject: (\S+)/.exec(m.body)?.[1]));
  assert.ok(deliveredBeforeCrash.size < 30, `the kill came mid-way (${deliveredBeforeCrash.size} delivered)`);

  await sealpost.restart();
  await waitFor(() => new Set(receiver.messages.map((m) => /Subject: (\S+)/.exec(m.body)?.[1])).size === 30, {
    timeoutMs: 60_000,
    what: 'all 30 messages at the receiver',
  });
  const subjects = new Set(receiver.messages.map((m) => /Subject: (\S+)/.exec(m.body)?.[1]));
  for (const s of acknowledged) assert.ok(subjects.has(s), `${s} was delivered`);
  await waitFor(async () => /queue is empty/.test((await sealpost.cli(['queue', 'list'])).stdout), { timeoutMs: 20_000, what: 'an empty queue' });
});
