// A large submission (above the spool threshold): spooled while it arrives, DKIM-signed from the
// spool file, relayed to a remote MX with the body streamed and dot-stuffed chunk by chunk; it
// arrives intact with a signature that verifies, and the spool is empty afterwards.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { dkimVerify } from 'mailauth';
import nodemailer from 'nodemailer';
import { startSealpost } from '../helpers/daemon.ts';
import { startDnsServer } from '../helpers/dns-server.ts';
import { freePort } from '../helpers/ports.ts';
import { createTestPki, startReceiver } from '../helpers/receivers.ts';
import type { Overrides, SealpostToml } from '../helpers/sealpost-config.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';
import { prepareWithCli } from './submission-setup.ts';

const ALICE = 'alice@example.test';
const PASSWORD = 'correct horse battery staple';

test('a 3 MiB submission is DKIM-signed from the spool and relayed intact (dots at line starts, chunk boundaries)', { timeout: 120_000 }, async (t) => {
  const dir = await tempDir(t, 'sealpost-large-submission-');
  const submission = await freePort();
  const mxPort = await freePort();
  const receiver = await startReceiver('valid', { host: '127.0.0.1', port: mxPort, mxName: 'mx.remote.test', pki: await createTestPki() });
  t.after(() => receiver.close());
  const dns = await startDnsServer(
    new Map([
      ['remote.test', { MX: [{ preference: 10, exchange: 'mx.remote.test' }] }],
      ['mx.remote.test', { A: ['127.0.0.1'] }],
    ]),
  );
  t.after(() => dns.close());
  const raw: Record<string, unknown> = {
    data_dir: path.join(dir, 'data'),
    listen: { submission: [`127.0.0.1:${submission}`] },
    dns: { servers: [dns.address], timeout_ms: 1000 },
    domain: [{ name: 'example.test', mailboxes: ['alice', 'bob'], dkim_selectors: ['e1'] }],
    outbound: { port: mxPort, mta_sts: false, tls_default: 'may' },
  };
  const overrides = raw as Overrides<SealpostToml>;
  const { records } = await prepareWithCli(dir, overrides, {
    keys: [{ domain: 'example.test', selector: 'e1', type: 'ed25519' }],
    users: [{ address: ALICE, password: PASSWORD }],
  });
  for (const [name, txt] of records) dns.zone.set(name, { TXT: [txt] });
  const daemon = await startSealpost(t, { config: overrides });

  // ~3 MiB of lines, every 7th starting with a dot (dot-stuffed on both hops).
  const lines: string[] = [];
  for (let i = 0, length = 0; length < 3 * 1024 * 1024; i++) {
    lines.push(`${i % 7 === 0 ? '.' : ''}line ${i} ${'0123456789abcdef'.repeat(4)}`);
    length += (lines.at(-1) as string).length + 2;
  }
  const text = `${lines.join('\r\n')}\r\n`;
  const message = `From: Alice <${ALICE}>\r\nTo: carol@remote.test\r\nSubject: large submission\r\nMessage-ID: <large@example.test>\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\n${text}`;
  const sender = nodemailer.createTransport({
    host: '127.0.0.1',
    port: submission,
    secure: false,
    requireTLS: true,
    auth: { user: ALICE, pass: PASSWORD },
    tls: { rejectUnauthorized: false, servername: 'mx.sealpost.test' },
  });
  const info = await sender.sendMail({ envelope: { from: ALICE, to: ['carol@remote.test'] }, raw: message });
  sender.close();
  assert.deepEqual(info.accepted, ['carol@remote.test']);
  const received = await daemon.waitForLog({ event: 'received', listener: 'submission' });
  assert.equal(received['spooled'], true, 'the body went to the spool');

  const arrived = await waitFor(() => receiver.messages.find((m) => m.body.includes('Subject: large submission')), {
    what: 'the message at the remote MX',
    timeoutMs: 60_000,
  });
  const body = arrived.body.slice(arrived.body.indexOf('\r\n\r\n') + 4);
  assert.equal(body.length, text.length);
  assert.ok(body === text, 'the body arrived byte-identical');
  const verified = await dkimVerify(Buffer.from(arrived.body), {
    resolver: async (name: string, type: string) => {
      const record = type === 'TXT' ? records.get(name) : undefined;
      if (record) return [[record]];
      throw Object.assign(new Error(`no ${type} ${name}`), { code: 'ENOTFOUND' });
    },
  });
  assert.deepEqual(
    verified.results.map((r) => [r.signingDomain, r.selector, r.status.result]),
    [['example.test', 'e1', 'pass']],
  );
  await waitFor(() => readdirSync(path.join(daemon.dataDir, 'spool')).length === 0, { timeoutMs: 20_000, what: 'the spool empty after the relay' });
});
