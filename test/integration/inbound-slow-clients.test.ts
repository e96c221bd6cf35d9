// Slow and many clients cannot lock others out (issue 11), against the real daemon with raw
// sockets from many loopback sources (127.N.0.1 are in different /24s): a command line or DATA
// trickled a byte at a time is closed at the timeout (421 4.4.2, a `timeout` record); stress
// mode shortens the timeout; at the connection limit the session stuck longest is closed so a
// fresh client is served, never a DATA at a good rate; connections_per_net counts a /24.
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { type Overrides, type SealpostToml, startSealpost } from '../helpers/daemon.ts';
import { freePort } from '../helpers/ports.ts';
import { connectSmtp, queueList, type RawSmtp } from './inbound-smtp.ts';
import { plainToken, smtpLines } from './submission-setup.ts';

/**
 * SEALPOST_TEST_PROCESSES (helpers/daemon.ts): with session processes each one has its own stress
 * mode (at its share of limits.connections) and closes the stuck session longest among its own.
 */
const PROCESSES = ((v) => (v === 'auto' ? availableParallelism() : Number(v ?? 1) || 1))(process.env['SEALPOST_TEST_PROCESSES']);

const TIMEOUT_REPLY = /^4\.4\.2 mx\.sealpost\.test Error: timeout exceeded$/;

async function greeted(port: number, localAddress?: string): Promise<RawSmtp> {
  const smtp = await connectSmtp(port, localAddress ? { localAddress } : {});
  const greeting = await smtp.reply();
  assert.equal(greeting.code, 220, greeting.text);
  return smtp;
}

/** Writes `text` one byte every `everyMs` (then stops) until the returned function is called. */
function trickle(smtp: RawSmtp, text: string, everyMs: number): () => void {
  let i = 0;
  const timer = setInterval(() => {
    if (i < text.length) smtp.write(text[i++] ?? '');
  }, everyMs);
  return () => clearInterval(timer);
}

test('a command line or DATA trickled a byte at a time is closed at the command timeout', { timeout: 60_000 }, async (t) => {
  // smtp-server's own idle timeout (reset by every byte) would never close these clients.
  const daemon = await startSealpost(t, { config: { limits: { command_timeout_s: 3 } } });
  const port = daemon.smtpPort;

  await t.test('a command line: closed 3 s after its first byte', async () => {
    const smtp = await greeted(port, '127.1.0.1');
    const started = Date.now();
    const stop = trickle(smtp, `EHLO ${'x'.repeat(100)}.client.test\r\n`, 400);
    try {
      const timeout = await smtp.reply(8_000);
      const ms = Date.now() - started;
      assert.equal(timeout.code, 421, timeout.text);
      assert.match(timeout.text, TIMEOUT_REPLY);
      assert.ok(ms >= 2_500 && ms < 5_000, `closed after ${ms} ms`);
      await smtp.closed(5_000);
    } finally {
      stop();
      smtp.destroy();
    }
    const record = await daemon.waitForLog({ event: 'timeout', clientIp: '127.1.0.1' });
    assert.equal(record['reason'], 'command');
    assert.equal(record['timeoutMs'], 3000);
  });

  await t.test('DATA at a byte every 400 ms (far below data_min_rate): closed 3 s after the 354, nothing queued', async () => {
    const smtp = await greeted(port, '127.2.0.1');
    let stop = () => {};
    try {
      assert.equal((await smtp.command('EHLO trickle.client.test')).code, 250);
      assert.equal((await smtp.command('MAIL FROM:<carol@remote.test>')).code, 250);
      assert.equal((await smtp.command('RCPT TO:<alice@example.test>')).code, 250);
      assert.equal((await smtp.command('DATA')).code, 354);
      const started = Date.now();
      smtp.write('Subject: trickled\r\n\r\n');
      stop = trickle(smtp, `${'y'.repeat(200)}\r\n.\r\n`, 400);
      const timeout = await smtp.reply(8_000);
      const ms = Date.now() - started;
      assert.equal(timeout.code, 421, timeout.text);
      assert.match(timeout.text, TIMEOUT_REPLY);
      assert.ok(ms >= 2_500 && ms < 5_000, `closed after ${ms} ms`);
      await smtp.closed(5_000);
    } finally {
      stop();
      smtp.destroy();
    }
    const record = await daemon.waitForLog({ event: 'timeout', clientIp: '127.2.0.1' });
    assert.equal(record['reason'], 'data');
    assert.ok(typeof record['dataBytes'] === 'number' && record['dataBytes'] < 100, `dataBytes ${String(record['dataBytes'])}`);
    assert.deepEqual(await queueList(daemon), []);
    assert.equal(daemon.findLogs({ event: 'received' }).length, 0);
  });

  await t.test('a client at a good pace is not affected: several commands, each within the timeout', async () => {
    const smtp = await greeted(port, '127.3.0.1');
    try {
      for (let i = 0; i < 4; i++) {
        // Each command line is trickled over ~1.6 s; together they take longer than the timeout.
        smtp.write('NO');
        await new Promise((resolve) => setTimeout(resolve, 800));
        smtp.write('OP');
        await new Promise((resolve) => setTimeout(resolve, 800));
        assert.equal((await smtp.command('')).code, 250);
      }
    } finally {
      smtp.destroy();
    }
  });
});

test('a reply that comes after a handler ran longer than the timeout (AUTH slowed by the guard) starts the idle timeout', { timeout: 60_000 }, async (t) => {
  const submission = await freePort();
  // The second failed AUTH from an address is answered after 2 × delay_ms = 2 s, twice the timeout.
  const raw = { listen: { submission: [`127.0.0.1:${submission}`] }, auth: { slow_after: 0, delay_ms: 1000 }, limits: { command_timeout_s: 1 } };
  await startSealpost(t, { config: raw as Overrides<SealpostToml> });
  const s = await smtpLines(submission, { localAddress: '127.40.0.1' });
  try {
    assert.match(await s.command(), /^220 /);
    assert.match(await s.command('EHLO slow.client.test'), /^250/m);
    await s.starttls();
    assert.match(await s.command('EHLO slow.client.test'), /AUTH PLAIN/);
    assert.match(await s.command(`AUTH PLAIN ${plainToken('nobody@example.test', 'guess-1')}`), /^535 /);
    const asked = Date.now();
    assert.match(await s.command(`AUTH PLAIN ${plainToken('nobody@example.test', 'guess-2')}`), /^535 /);
    assert.ok(Date.now() - asked >= 1_800, 'the guard slowed the answer');
    const answered = Date.now();
    // Then silence: closed a second after the 535, not only by smtp-server's idle timeout (11 s).
    const timeout = await s.command();
    const ms = Date.now() - answered;
    assert.match(timeout, /^421 4\.4\.2 mx\.sealpost\.test Error: timeout exceeded\r\n$/);
    assert.ok(ms >= 800 && ms < 3_000, `closed ${ms} ms after the reply`);
  } finally {
    s.close();
  }
});

test('stress mode: from 80 % of limits.connections idle sessions get stress_timeout_s, until below 70 %', {
  timeout: 60_000,
  skip: PROCESSES > 1 && 'session processes: stress mode counts each process’s share, which these counts do not follow',
}, async (t) => {
  const daemon = await startSealpost(t, { config: { limits: { connections: 10, connections_per_ip: 10, stress_timeout_s: 1 } } });
  const open: RawSmtp[] = [];
  t.after(() => {
    for (const c of open) c.destroy();
  });
  // 7 of 10: no stress; the command timeout (300 s) applies.
  for (let i = 0; i < 7; i++) open.push(await greeted(daemon.smtpPort, `127.10.${i}.1`));
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  assert.equal(daemon.findLogs({ event: 'timeout' }).length, 0);
  // The 8th: stress mode. The two sessions idle longest are closed at once (1 s is over for
  // them); then 6 of 10 are open, stress mode is off and the others stay.
  open.push(await greeted(daemon.smtpPort, '127.10.7.1'));
  for (const smtp of open.slice(0, 2)) {
    const timeout = await smtp.reply(5_000);
    assert.equal(timeout.code, 421, timeout.text);
    assert.match(timeout.text, TIMEOUT_REPLY);
  }
  await daemon.waitForLog((r) => r['msg'] === 'stress mode off');
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  for (const smtp of open.slice(2)) assert.equal((await smtp.command('NOOP')).code, 250);
  const timeouts = daemon.findLogs({ event: 'timeout' });
  assert.deepEqual(
    timeouts.map((r) => [r['clientIp'], r['reason'], r['timeoutMs'], r['stressed']]),
    [
      ['127.10.0.1', 'idle', 1000, true],
      ['127.10.1.1', 'idle', 1000, true],
    ],
  );
  assert.equal(daemon.findLogs((r) => String(r['msg']).startsWith('stress mode on')).length, 1);
});

test('20 addresses drip-feeding every slot: a fresh client is served within 1 s', { timeout: 90_000 }, async (t) => {
  const daemon = await startSealpost(t, { config: { limits: { connections: 100 } } });
  const port = daemon.smtpPort;
  const attackers: RawSmtp[] = [];
  const stops: (() => void)[] = [];
  t.after(() => {
    for (const stop of stops) stop();
    for (const c of attackers) c.destroy();
  });
  // 20 addresses in 20 /24s × 5 connections: every slot. Each sends "EHLO " and then a byte now and then.
  for (let a = 1; a <= 20; a++) {
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        const smtp = await greeted(port, `127.${a}.0.1`);
        smtp.write('EHLO ');
        stops.push(trickle(smtp, 'slowly.example', 2_000));
        attackers.push(smtp);
      }),
    );
  }
  // Give them a second to count as stuck (a session may be idle that long between two commands).
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  const fresh: RawSmtp[] = [];
  t.after(() => {
    for (const c of fresh) c.destroy();
  });
  for (const n of [1, 2]) {
    const started = Date.now();
    const smtp = await greeted(port, `127.200.0.${n}`);
    fresh.push(smtp);
    assert.equal((await smtp.command('EHLO fresh.client.test')).code, 250);
    assert.equal((await smtp.command('MAIL FROM:<carol@remote.test>')).code, 250);
    assert.equal((await smtp.command('RCPT TO:<bob@example.test>')).code, 250);
    assert.equal((await smtp.command('DATA')).code, 354);
    smtp.write(`Subject: fresh ${n}\r\n\r\nserved despite the drip-feed\r\n.\r\n`);
    const queued = await smtp.reply();
    assert.equal(queued.code, 250, queued.text);
    const ms = Date.now() - started;
    t.diagnostic(`fresh client ${n}: connect to 250 after DATA in ${ms} ms`);
    assert.ok(ms < 1_000, `fresh client ${n} served in ${ms} ms`);
  }
  const delivered = await daemon.waitForMail(2, { domain: 'example.test', mailbox: 'bob' });
  assert.deepEqual(delivered.map((m) => m.subject).sort(), ['fresh 1', 'fresh 2']);
  // Two attackers made room (one record each, with how long they were stuck); the rest still hold.
  const evicted = daemon.findLogs({ event: 'evicted' });
  assert.equal(evicted.length, 2);
  for (const r of evicted) {
    assert.match(String(r['clientIp']), /^127\.([1-9]|1\d|20)\.0\.1$/);
    assert.ok(Number(r['stuckMs']) >= 1_000);
  }
  const stressed = daemon.findLogs((r) => String(r['msg']).startsWith('stress mode on')).length;
  assert.ok(stressed >= 1 && stressed <= PROCESSES, `stress mode on ${stressed} times (once per process at most)`);
  // The fresh clients stay served while the attack goes on.
  for (const smtp of fresh) assert.equal((await smtp.command('NOOP')).code, 250);
});

test('at the limit, a DATA at a good rate is not the session closed, though its last bytes are older than the stuck ones', { timeout: 60_000 }, async (t) => {
  const daemon = await startSealpost(t, { config: { limits: { connections: 10, connections_per_ip: 10 } } });
  const port = daemon.smtpPort;
  const open: RawSmtp[] = [];
  t.after(() => {
    for (const c of open) c.destroy();
  });
  const sender = await greeted(port, '127.30.0.1');
  open.push(sender);
  assert.equal((await sender.command('EHLO good.client.test')).code, 250);
  assert.equal((await sender.command('MAIL FROM:<carol@remote.test>')).code, 250);
  assert.equal((await sender.command('RCPT TO:<alice@example.test>')).code, 250);
  assert.equal((await sender.command('DATA')).code, 354);
  const line = `${'z'.repeat(98)}\r\n`;
  sender.write(`Subject: good rate\r\n\r\n${line.repeat(50)}`);
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  // 10 kB in 1.5 s (far above data_min_rate), and nothing since: then 9 clients take the other slots.
  sender.write(line.repeat(50));
  for (let i = 0; i < 9; i++) {
    const smtp = await greeted(port, `127.31.${i}.1`);
    smtp.write('EH');
    open.push(smtp);
  }
  await new Promise((resolve) => setTimeout(resolve, 1_200));
  const fresh = await greeted(port, '127.32.0.1');
  open.push(fresh);
  assert.equal((await fresh.command('NOOP')).code, 250);
  // A stuck client made room; the sender finishes its message.
  const evicted = await daemon.waitForLog({ event: 'evicted' });
  // One process: the stuck one longest of all; several: the longest of the fresh client's process.
  if (PROCESSES === 1) assert.equal(evicted['clientIp'], '127.31.0.1');
  else assert.match(String(evicted['clientIp']), /^127\.31\.\d\.1$/);
  sender.write(`${line}.\r\n`);
  const queued = await sender.reply();
  assert.equal(queued.code, 250, queued.text);
  const [message] = await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'alice' });
  assert.equal(message?.subject, 'good rate');
});

test('connections_per_net: IPv4 /24s are counted together, other /24s still get in', { timeout: 30_000 }, async (t) => {
  const daemon = await startSealpost(t, { config: { limits: { connections_per_ip: 2, connections_per_net: 3 } } });
  const open: RawSmtp[] = [];
  t.after(() => {
    for (const c of open) c.destroy();
  });
  open.push(await greeted(daemon.smtpPort, '127.5.0.1'), await greeted(daemon.smtpPort, '127.5.0.1'), await greeted(daemon.smtpPort, '127.5.0.2'));
  const fourth = await connectSmtp(daemon.smtpPort, { localAddress: '127.5.0.3' });
  open.push(fourth);
  const refused = await fourth.reply();
  assert.equal(refused.code, 421, refused.text);
  assert.match(refused.text, /^4\.7\.0 mx\.sealpost\.test Too many connections from your network/);
  await fourth.closed();
  const record = await daemon.waitForLog({ event: 'rejected', stage: 'connect', clientIp: '127.5.0.3' });
  assert.equal(record['reason'], 'too many connections from this network');
  // Another /24 is another network.
  const other = await greeted(daemon.smtpPort, '127.6.0.1');
  open.push(other);
  assert.equal((await other.command('NOOP')).code, 250);
});
