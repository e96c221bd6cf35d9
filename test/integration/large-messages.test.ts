// Large messages with memory bounded by design: several 40 MiB messages sent at once are spooled
// to disk as they arrive (data_dir/spool), checked from the file, delivered byte-identical into
// the Maildir, and the daemon's resident memory stays far below what holding them would take;
// a client connecting meanwhile is greeted at once; the spool is empty afterwards.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { startSealpost } from '../helpers/daemon.ts';
import { sealpostMaildir } from '../helpers/maildir.ts';
import { waitFor } from '../helpers/wait.ts';

const MIB = 1024 * 1024;

/** Resident memory of a process in bytes (VmRSS). */
async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  assert.ok(kb, 'VmRSS in /proc/<pid>/status');
  return Number(kb) * 1024;
}

/** Reads SMTP replies off a socket, one complete reply at a time. */
function replies(socket: net.Socket): (timeoutMs?: number) => Promise<string> {
  let buffer = '';
  const waiting: (() => void)[] = [];
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    for (const w of waiting.splice(0)) w();
  });
  return async (timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\r\n]*\r\n)*\d{3}(?: [^\r\n]*)?\r\n/.exec(buffer);
      if (m) {
        buffer = buffer.slice(m[0].length);
        return m[0];
      }
      if (Date.now() > deadline || socket.destroyed) throw new Error(`no SMTP reply (have ${JSON.stringify(buffer.slice(0, 200))})`);
      await new Promise<void>((resolve) => {
        waiting.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  };
}

/**
 * Sends one message of about `size` bytes from `localAddress`, generated and dot-stuffed as it is
 * written (the test never holds it), with backpressure. Returns the SHA-256 of the message as
 * the server should store it (unstuffed) and the final reply.
 */
async function sendLarge(port: number, localAddress: string, n: number, size: number): Promise<{ sha256: string; reply: string }> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const reply = replies(socket);
  const expect = async (code: string) => {
    const r = await reply();
    assert.ok(r.startsWith(code), `expected ${code}, got ${r}`);
  };
  try {
    await expect('220');
    const command = async (line: string, code: string) => {
      socket.write(`${line}\r\n`);
      await expect(code);
    };
    await command('EHLO big.remote.test', '250');
    await command('MAIL FROM:<sender@remote.test>', '250');
    await command('RCPT TO:<alice@example.test>', '250');
    await command('DATA', '354');
    const hash = createHash('sha256');
    // A forged verdict in our name (must be removed) and a DKIM signature (the checks read the body).
    const header =
      `Authentication-Results: mx.sealpost.test; dkim=pass header.d=forged.test\r\n` +
      `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=remote.test; s=x; h=from:subject; bh=AAAA; b=AAAA\r\n` +
      `From: sender@remote.test\r\nX-Test-Id: ${n}\r\nSubject: large ${n}\r\n\r\n`;
    hash.update(header, 'latin1');
    socket.write(header, 'latin1');
    let sent = header.length;
    let line = 0;
    while (sent < size) {
      const lines: string[] = [];
      for (let i = 0; i < 2000; i++, line++) lines.push(`${line % 40 === 0 ? '.' : ''}${n}:${line}:${'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(2)}`);
      const text = `${lines.join('\r\n')}\r\n`;
      hash.update(text, 'latin1');
      sent += text.length;
      // RFC 5321 §4.5.2: a leading dot is doubled on the wire.
      if (!socket.write(text.replace(/^\./gm, '..'), 'latin1')) await new Promise((resolve) => socket.once('drain', resolve));
    }
    socket.write('.\r\n');
    const end = await reply(120_000);
    socket.write('QUIT\r\n');
    return { sha256: hash.digest('hex'), reply: end };
  } finally {
    socket.end();
  }
}

/** SHA-256 of a Maildir file from its line "From: sender@…" (the message as sent) on, read as a stream. */
async function maildirHash(file: string): Promise<{ sha256: string; header: string }> {
  const hash = createHash('sha256');
  let started = false;
  let carry = Buffer.alloc(0);
  let header = '';
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    if (started) {
      hash.update(chunk);
      continue;
    }
    carry = Buffer.concat([carry, chunk]);
    const text = carry.toString('latin1');
    header = text.slice(0, text.indexOf('\r\n\r\n') + 4);
    // Our fields come first: Return-Path, Delivered-To, Received, Authentication-Results, Received-SPF.
    const at = text.search(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=remote\.test/m);
    if (at >= 0) {
      started = true;
      const forged = 'Authentication-Results: mx.sealpost.test; dkim=pass header.d=forged.test\r\n';
      hash.update(forged, 'latin1'); // what was sent: compared apart below
      hash.update(carry.subarray(at));
    }
  }
  return { sha256: hash.digest('hex'), header };
}

test('parallel 40 MiB messages: spooled, delivered intact, RSS bounded, greetings prompt, spool emptied', { timeout: 400_000 }, async (t) => {
  const daemon = await startSealpost(t, { config: { limits: { message_size: 50 * MIB }, inbound: { greet_pause_ms: 0 } } });
  const pid = daemon.pid();
  assert.ok(pid);
  // Warm-up: one spooled message through every stage (the checks' modules load on first use).
  assert.match((await sendLarge(daemon.smtpPort, '127.0.0.2', 99, 2 * MIB)).reply, /^250 /);
  await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'alice', timeoutMs: 60_000 });
  const start = await rss(pid);
  let peak = start;
  const sampler = setInterval(() => {
    void rss(pid).then(
      (r) => (peak = Math.max(peak, r)),
      () => undefined,
    );
  }, 50);
  t.after(() => clearInterval(sampler));

  const count = 6;
  const size = 40 * MIB;
  // From 127.0.0.2: outside relay.networks, so the SPF/DKIM/DMARC checks run (on the spooled file).
  const sending = Promise.all(Array.from({ length: count }, (_, n) => sendLarge(daemon.smtpPort, '127.0.0.2', n, size)));

  // Meanwhile, clients on another address are greeted within a second, again and again until the bodies are in.
  let done = false;
  void sending.finally(() => (done = true)).catch(() => undefined);
  const greetings: number[] = [];
  while (!done) {
    const began = Date.now();
    const socket = net.connect({ host: '127.0.0.1', port: daemon.smtpPort, localAddress: '127.0.0.3' });
    const greeting = await replies(socket)(10_000);
    greetings.push(Date.now() - began);
    assert.match(greeting, /^220 /);
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 250)); // the pace of the probes, not a wait for an event
  }
  const sent = await sending;
  for (const s of sent) assert.match(s.reply, /^250 /);
  assert.ok(greetings.length >= 3, `${greetings.length} greetings while the bodies arrived`);

  const mail = await daemon.waitForMail(count + 1, { domain: 'example.test', mailbox: 'alice', timeoutMs: 240_000 });
  assert.equal(mail.length, count + 1);
  const after = await rss(pid);
  clearInterval(sampler);
  const held = count * size;
  t.diagnostic(`RSS start ${(start / MIB).toFixed(0)} MiB, peak ${(peak / MIB).toFixed(0)} MiB, after ${(after / MIB).toFixed(0)} MiB; ${count} × ${size / MIB} MiB sent; greetings max ${Math.max(...greetings)} ms`);
  // Holding the bodies would take at least `held` (and collecting them whole, two or three times that).
  assert.ok(peak - start < held / 2, `peak RSS grew by ${((peak - start) / MIB).toFixed(0)} MiB (messages: ${held / MIB} MiB)`);
  assert.ok(after - start < held / 2, `RSS after delivery grew by ${((after - start) / MIB).toFixed(0)} MiB`);
  assert.ok(Math.max(...greetings) < 1000, `greeting times ${greetings.join(', ')} ms`);

  const maildir = path.join(sealpostMaildir(daemon.dataDir, 'example.test', 'alice'), 'new');
  const hashes = new Map<string, string>();
  for (const name of readdirSync(maildir)) {
    const { sha256, header } = await maildirHash(path.join(maildir, name));
    const id = /^X-Test-Id: (\d+)$/m.exec(header)?.[1];
    assert.ok(id !== undefined, `X-Test-Id in ${name}`);
    // RFC 8601 §5: the forged verdict in our name is gone; ours is there.
    assert.doesNotMatch(header, /header\.d=forged\.test/);
    assert.match(header, /^Authentication-Results: mx\.sealpost\.test;/m);
    if (id !== '99') hashes.set(id, sha256);
  }
  // The hash above re-inserts the forged line where it was sent, so equality means every other byte arrived.
  for (const [n, s] of sent.entries()) assert.equal(hashes.get(String(n)), s.sha256, `message ${n} arrived byte-identical`);
  await waitFor(() => readdirSync(path.join(daemon.dataDir, 'spool')).length === 0, { timeoutMs: 30_000, what: 'the spool empty after delivery' });
});
