// The benchmark's OpenSMTPD peer (bench/peers/opensmtpd.ts) as configured for the bench's load:
// 40 sessions opened at once each get a greeting (its listen queue, bench/peers/listen-backlog.c),
// and a queue deferred while the relay host was down drains to it once released (its mta limits).
// Needs root and scripts/install-bench-peers (skipped without them). Loopback only.
import assert from 'node:assert/strict';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { installed } from '../../bench/peers/install.ts';
import { startOpensmtpd } from '../../bench/peers/opensmtpd.ts';
import { outbound } from '../../bench/scenarios.ts';
import { startDnsServer } from '../helpers/dns-server.ts';
import { freePort } from '../helpers/ports.ts';
import type { Scope } from '../helpers/tmp.ts';
import { tempDir } from '../helpers/tmp.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const INSTALLED = installed('usr/sbin/smtpd');

/** As in the bench: a resolver on the namespace's port 53 for its look-ups of the client (when the port is free). */
async function resolver(t: Scope): Promise<void> {
  const dns = await startDnsServer(new Map(), '127.0.0.1', 53).catch(() => undefined);
  if (dns) t.after(() => dns.close());
}

/** Opens `count` connections at once; resolves with how many got a 220 greeting within `ms`. */
async function greeted(port: number, count: number, ms: number): Promise<number> {
  const one = () =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      const timer = setTimeout(() => done(false), ms);
      let text = '';
      const done = (ok: boolean) => {
        clearTimeout(timer);
        if (ok) socket.end('QUIT\r\n');
        else socket.destroy();
        resolve(ok);
      };
      socket.on('data', (chunk) => {
        text += chunk.toString('latin1');
        if (text.includes('\r\n')) done(text.startsWith('220'));
      });
      socket.on('error', () => done(false));
    });
  const results = await Promise.all(Array.from({ length: count }, one));
  return results.filter(Boolean).length;
}

test('OpenSMTPD greets each of 40 sessions opened at once, five times over', { timeout: 120_000 }, async (t) => {
  if (!INSTALLED) return t.skip('OpenSMTPD is not unpacked (scripts/install-bench-peers)');
  await resolver(t);
  const dir = await tempDir(t);
  const server = await startOpensmtpd(t, { dir, port: await freePort(), sinkPort: await freePort(), group: undefined });
  t.after(() => server.stop());
  // With the listen queue of 5 that Linux gives it, some of these wait for a greeting until they give up.
  for (let round = 0; round < 5; round++) {
    assert.equal(await greeted(server.target.port, 40, 10_000), 40, `round ${round}: every session greeted within 10 s`);
  }
});

test('OpenSMTPD drains 1000 messages deferred while its relay host was down', { timeout: 240_000 }, async (t) => {
  if (!INSTALLED) return t.skip('OpenSMTPD is not unpacked (scripts/install-bench-peers)');
  await resolver(t);
  const dir = await tempDir(t);
  const sinkPort = await freePort();
  const server = await startOpensmtpd(t, { dir, port: await freePort(), sinkPort, group: undefined });
  t.after(() => server.stop());
  // Filled over 20 sessions with the sink down (each tried once and deferred), then smtp-sink
  // starts and `smtpctl schedule all` releases the queue; timed until it is empty.
  const shape = { sessions: 20, size: 10240, messages: 1000 };
  const r = await outbound(server.target, shape, { root: ROOT, scope: t, sinkPort, sinkOut: path.join(dir, 'sink.out') });
  assert.equal(r.error, undefined, `the drain: ${r.error ?? ''}`);
  assert.equal(r.notes?.['sinkReceived'], shape.messages, 'the sink received every message');
  // With the default mta limits (one session at a time, envelopes held above 50 tasks) this took minutes or stalled.
  assert.ok(r.drainMs < 30_000, `drained in ${Math.round(r.drainMs)} ms`);
});
