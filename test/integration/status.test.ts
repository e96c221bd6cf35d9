// `sealpost status` against the real daemon: listeners answering, the self-signed certificate
// with its expiry, queue counts, the last delivery error, and the TLS share of inbound sessions
// (two with STARTTLS, one without) and of outbound connections (verified TLS to one receiver,
// plaintext to one without STARTTLS); then exit 3 once the daemon is stopped. Loopback only.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { StatusReport } from '../../src/cli/status.ts';
import { startSealpost } from '../helpers/daemon.ts';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { freePort } from '../helpers/ports.ts';
import { createTestPki, type Receiver, startReceiver, type TestPki } from '../helpers/receivers.ts';
import { swaksSend } from '../helpers/swaks.ts';
import { makeTempDir, removeTempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

let dns: DnsServer;
let pki: TestPki;
let port: number;
let dir: string;
const receivers: Receiver[] = [];

before(async () => {
  dns = await startDnsServer();
  pki = await createTestPki();
  port = await freePort('127.0.0.2');
  dir = await makeTempDir('sealpost-status-');
  await writeFile(path.join(dir, 'ca.pem'), pki.root.certPem);
  receivers.push(await startReceiver('valid', { host: '127.0.0.2', port, mxName: 'mx.tls.test', pki }));
  receivers.push(await startReceiver('no-starttls', { host: '127.0.0.3', port, mxName: 'mx.plain.test', pki }));
  dns.zone.set('tls.test', { MX: [{ preference: 10, exchange: 'mx.tls.test' }] });
  dns.zone.set('mx.tls.test', { A: ['127.0.0.2'] });
  dns.zone.set('plain.test', { MX: [{ preference: 10, exchange: 'mx.plain.test' }] });
  dns.zone.set('mx.plain.test', { A: ['127.0.0.3'] });
  // Nothing listens there: a refused connection, no SMTP session, so no connection in the TLS share.
  dns.zone.set('down.test', { MX: [{ preference: 10, exchange: 'mx.down.test' }] });
  dns.zone.set('mx.down.test', { A: ['127.0.0.4'] });
});

after(async () => {
  for (const r of receivers) await r.close();
  await dns.close();
  await removeTempDir(dir);
});

test('sealpost status: listeners, certificates, queue, last errors, TLS share of the last day', { timeout: 90_000 }, async (t) => {
  const daemon = await startSealpost(t, {
    config: {
      dns: { servers: [dns.address], timeout_ms: 1000 },
      outbound: { port, ca_file: path.join(dir, 'ca.pem'), tls_default: 'may', mta_sts: false, connect_timeout_s: 5 },
    },
  });
  const status = async (): Promise<StatusReport> => {
    const r = await daemon.cli(['status', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return JSON.parse(r.stdout) as StatusReport;
  };
  const from = 'alice@example.test';
  // Inbound: two sessions with STARTTLS, two without. Outbound: verified TLS, plaintext, NXDOMAIN, refused.
  assert.equal((await swaksSend({ port: daemon.smtpPort, from, to: ['user@tls.test'], tls: 'require', subject: 'to tls' })).code, 0);
  assert.equal((await swaksSend({ port: daemon.smtpPort, from, to: ['user@plain.test'], tls: 'require', subject: 'to plain' })).code, 0);
  assert.equal((await swaksSend({ port: daemon.smtpPort, from, to: ['user@nowhere.test'], subject: 'to nowhere' })).code, 0);
  assert.equal((await swaksSend({ port: daemon.smtpPort, from, to: ['user@down.test'], subject: 'to a host that is down' })).code, 0);
  await waitFor(() => receivers.every((r) => r.messages.length === 1), { timeoutMs: 20_000, what: 'one message at each receiver' });

  const report = await waitFor(
    async () => {
      const s = await status();
      return s.tls.inbound &&
        s.tls.inbound.sessions >= 4 &&
        s.tls.outbound &&
        s.tls.outbound.connections >= 2 &&
        ['nowhere.test', 'down.test'].every((d) => s.lastErrors.some((e) => e.to === d))
        ? s
        : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 500, what: 'status to count 4 inbound sessions, 2 outbound connections and the nowhere.test and down.test errors' },
  );
  assert.equal(report.hostname, 'mx.sealpost.test');
  assert.equal(report.configFile, daemon.configFile);
  assert.deepEqual(
    report.listeners.map((l) => [l.kind, l.address, l.answering]),
    [['smtp', `127.0.0.1:${daemon.smtpPort}`, true]],
  );
  assert.match(report.listeners[0]?.greeting ?? '', /^220 mx\.sealpost\.test ESMTP/);
  const selfSigned = report.certificates.find((c) => c.source === 'self-signed');
  assert.ok(selfSigned, JSON.stringify(report.certificates));
  assert.ok(selfSigned.names.includes('mx.sealpost.test'));
  assert.ok((selfSigned.daysLeft ?? 0) > 30, `days left: ${selfSigned.daysLeft}`);
  assert.ok(report.queue, 'a database');
  // The inbound sessions: status's own probe connections say no EHLO and are not counted.
  assert.deepEqual({ sessions: report.tls.inbound?.sessions, tls: report.tls.inbound?.tls }, { sessions: 4, tls: 2 });
  assert.equal(report.tls.inbound?.share, 2 / 4);
  assert.deepEqual(report.tls.inbound?.byListener, { mx: { sessions: 4, tls: 2 } });
  assert.deepEqual(
    { connections: report.tls.outbound?.connections, tls: report.tls.outbound?.tls, verified: report.tls.outbound?.verified },
    { connections: 2, tls: 1, verified: 1 },
  );
  const nowhere = report.lastErrors.find((e) => e.to === 'nowhere.test');
  assert.ok(nowhere, JSON.stringify(report.lastErrors));
  assert.equal(nowhere.result, 'permanent');
  assert.match(nowhere.error, /nowhere\.test: no such domain \(NXDOMAIN\)/);

  // The text form says the same.
  const text = await daemon.cli(['status']);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /^daemon {8}running$/m);
  assert.match(text.stdout, new RegExp(`^ {2}smtp {9}127\\.0\\.0\\.1:${daemon.smtpPort} +answering: 220 mx\\.sealpost\\.test`, 'm'));
  assert.match(text.stdout, /^ {2}self-signed {2}mx\.sealpost\.test +expires \d{4}-\d\d-\d\d \(\d+ days left\)/m);
  assert.match(text.stdout, /^ {2}inbound {3}4 sessions, 2 with TLS \(50%\)$/m);
  assert.match(text.stdout, /^ {2}outbound {2}2 connections, 1 with TLS \(50%\), 1 verified \(50%\)$/m);
  assert.match(text.stdout, /nowhere\.test {2}permanent: nowhere\.test: no such domain \(NXDOMAIN\)/);

  // Stopped: nothing answers, exit 3; the counts written at the stop are still there.
  await daemon.stop();
  const down = await daemon.cli(['status', '--json']);
  assert.equal(down.code, 3, down.stderr);
  const after = JSON.parse(down.stdout) as StatusReport;
  assert.equal(after.listeners[0]?.answering, false);
  assert.match(after.listeners[0]?.error ?? '', /ECONNREFUSED/);
  assert.equal(after.tls.inbound?.sessions, 4);
  assert.match((await daemon.cli(['status'])).stdout, /^daemon {8}NOT RUNNING: no listener answers$/m);
});
