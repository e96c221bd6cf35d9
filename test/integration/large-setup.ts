// Shared by the large-message test and the bench's 50 × 49 MiB memory row (bench/): a streaming SMTP client that
// generates a large message as it writes it (never holding it), and the resident memory of a
// process. Side effects: sockets to loopback, reads /proc.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';

export const MIB = 1024 * 1024;

/** Resident memory of a process in bytes (VmRSS). */
export async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  assert.ok(kb, 'VmRSS in /proc/<pid>/status');
  return Number(kb) * 1024;
}

/** Reads SMTP replies off a socket, one complete reply at a time. */
export function replies(socket: net.Socket): (timeoutMs?: number) => Promise<string> {
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
export async function sendLarge(
  port: number,
  localAddress: string,
  n: number,
  size: number,
  options: { dkimSignature?: boolean } = {},
): Promise<{ sha256: string; reply: string }> {
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
      (options.dkimSignature === false ? '' : `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=remote.test; s=x; h=from:subject; bh=AAAA; b=AAAA\r\n`) +
      `From: sender@remote.test\r\nX-Test-Id: ${n}\r\nSubject: large ${n}\r\n\r\n`;
    hash.update(header, 'latin1');
    socket.write(header, 'latin1');
    let sent = header.length;
    let line = 0;
    while (sent < size) {
      const lines: string[] = [];
      for (let i = 0; i < 2000; i++, line++) lines.push(`${line % 1000 === 0 ? '.' : ''}${n}:${line}:${'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(2)}`);
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

/**
 * Greeting times of a client on `localAddress`, connecting every 250 ms until stop(), measured
 * in a process of its own: the test's event loop, busy generating messages, does not count.
 */
export function greetingProbe(port: number, localAddress: string): { stop(): Promise<number[]> } {
  const script = `
    const net = require('node:net');
    let stopped = false;
    process.stdin.on('data', () => (stopped = true));
    (async () => {
      while (!stopped) {
        const began = Date.now();
        const ms = await new Promise((resolve) => {
          const s = net.connect({ host: '127.0.0.1', port: ${port}, localAddress: '${localAddress}' });
          let text = '';
          s.on('data', (c) => { text += c; if (/^220 .*\\r\\n/.test(text)) { s.destroy(); resolve(Date.now() - began); } });
          s.on('error', () => resolve(-1));
          s.setTimeout(30000, () => { s.destroy(); resolve(-1); });
        });
        process.stdout.write(ms + '\\n');
        await new Promise((r) => setTimeout(r, 250));
      }
      process.exit(0);
    })();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    async stop() {
      child.stdin.write('stop\n');
      await exited;
      return out
        .split('\n')
        .filter((l) => l !== '')
        .map(Number);
    },
  };
}
