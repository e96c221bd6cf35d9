// [server] processes = 2: the SMTP sessions run in two session processes (node:cluster) and the
// primary commits their messages. Mail is served by both; kill -9 of a session process mid-DATA
// cuts that client off (no 250), loses nothing acknowledged and the process is started again;
// kill -9 of the primary takes the session processes with it and loses nothing acknowledged;
// SIGHUP reaches every process; the per-address connection limit counts across processes.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { test } from 'node:test';
import { type SealpostDaemon, startSealpost } from '../helpers/daemon.ts';
import { catchesSignal } from '../helpers/processes.ts';
import { mergeConfig, writeSealpostConfig } from '../helpers/sealpost-config.ts';
import { waitFor } from '../helpers/wait.ts';
import { connectSmtp, type RawSmtp } from './inbound-smtp.ts';

/** One message over a new connection; resolves with the final reply. */
async function send(port: number, rcpt: string, subject: string): Promise<{ code: number; text: string }> {
  const c = await connectSmtp(port);
  try {
    assert.equal((await c.reply(10_000)).code, 220);
    assert.equal((await c.command('EHLO client.remote.test')).code, 250);
    assert.equal((await c.command('MAIL FROM:<carol@remote.test>')).code, 250);
    const r = await c.command(`RCPT TO:<${rcpt}>`);
    if (r.code !== 250) return r;
    assert.equal((await c.command('DATA')).code, 354);
    const done = await c.command(`Subject: ${subject}\r\nFrom: carol@remote.test\r\n\r\nbody of ${subject}\r\n.`, 15_000);
    await c.command('QUIT').catch(() => undefined);
    return done;
  } finally {
    c.destroy();
  }
}

/** A session open up to the middle of DATA, from `localAddress` when given. */
async function inData(port: number, subject: string, localAddress?: string): Promise<RawSmtp> {
  const c = await connectSmtp(port, localAddress ? { localAddress } : {});
  assert.equal((await c.reply(10_000)).code, 220);
  assert.equal((await c.command('EHLO client.remote.test')).code, 250);
  assert.equal((await c.command('MAIL FROM:<carol@remote.test>')).code, 250);
  assert.equal((await c.command('RCPT TO:<alice@example.test>')).code, 250);
  assert.equal((await c.command('DATA')).code, 354);
  c.write(`Subject: ${subject}\r\nFrom: carol@remote.test\r\n\r\nfirst half\r\n`);
  return c;
}

function sessionPids(daemon: SealpostDaemon): number[] {
  const listening = daemon.findLogs({ event: 'daemon', state: 'listening' }).at(-1);
  return (listening?.['sessionProcesses'] as number[] | undefined) ?? [];
}

/**
 * The session process holding the server side of the connection from `clientIp`: its socket's
 * inode in /proc/net/tcp (this network namespace; the remote address in little-endian hex) among
 * the process's file descriptors.
 */
function holderOf(pids: readonly number[], clientIp: string): number | undefined {
  const hex = clientIp
    .split('.')
    .map((n) => Number(n).toString(16).padStart(2, '0'))
    .reverse()
    .join('')
    .toUpperCase();
  const inodes = new Set(
    readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f[2]?.startsWith(`${hex}:`))
      .map((f) => f[9]),
  );
  return pids.find((pid) =>
    readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        return inode !== undefined && inodes.has(inode);
      } catch {
        return false;
      }
    }),
  );
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('processes = 2: both session processes serve, the primary commits, 250 after the commit', { timeout: 60_000 }, async (t) => {
  const daemon = await startSealpost(t, { processes: 2 });
  const pids = sessionPids(daemon);
  assert.equal(pids.length, 2, 'two session processes');
  assert.ok(!pids.includes(daemon.pid() as number));
  for (let i = 0; i < 6; i++) {
    const r = await send(daemon.smtpPort, i % 2 ? 'bob@example.test' : 'alice@example.test', `spread ${i}`);
    assert.equal(r.code, 250, r.text);
  }
  const mail = [
    ...(await daemon.waitForMail(3, { domain: 'example.test', mailbox: 'alice' })),
    ...(await daemon.waitForMail(3, { domain: 'example.test', mailbox: 'bob' })),
  ];
  assert.deepEqual(
    mail.map((m) => m.subject).sort(),
    [0, 1, 2, 3, 4, 5].map((i) => `spread ${i}`),
  );
  // The sessions were served in the session processes, by both of them (each accepts on the shared
  // listener when the kernel wakes it; an idle one is woken as readily as the other).
  const servedBy = new Set(daemon.findLogs({ event: 'received' }).map((r) => r['pid'] as number));
  assert.deepEqual([...servedBy].sort(), [...pids].sort());
  // A rcpt refused at RCPT is refused by the session process as before.
  assert.equal((await send(daemon.smtpPort, 'nobody@example.test', 'unknown')).code, 550);
});

test('each session process collects its heap and gives the free pages back after its start-up, as the primary does', { timeout: 60_000 }, async (t) => {
  const daemon = await startSealpost(t, { processes: 2 });
  const pids = sessionPids(daemon);
  assert.equal(pids.length, 2, 'two session processes');
  const collectedBy = () => new Set(daemon.findLogs({ msg: 'full collection after a burst' }).map((r) => r['pid'] as number));
  await waitFor(() => pids.every((pid) => collectedBy().has(pid)), { timeoutMs: 30_000, what: 'a collection in each session process' });
});

test('kill -9 of a session process mid-DATA: that client gets no 250, nothing acknowledged is lost, the process is restarted', {
  timeout: 90_000,
}, async (t) => {
  const daemon = await startSealpost(t, { processes: 2 });
  const before = await send(daemon.smtpPort, 'alice@example.test', 'acknowledged before');
  assert.equal(before.code, 250, before.text);
  // Two sessions in DATA on different processes (which process holds which is read from /proc:
  // the processes accept on the shared listener as the kernel wakes them, so the test looks).
  const pids = sessionPids(daemon);
  const a = await inData(daemon.smtpPort, 'cut a', '127.0.0.21');
  t.after(() => a.destroy());
  const victim = holderOf(pids, '127.0.0.21');
  assert.ok(victim !== undefined, 'the session process holding the first session');
  let b: RawSmtp | undefined;
  for (let i = 22; i < 30 && !b; i++) {
    const c = await inData(daemon.smtpPort, 'cut b', `127.0.0.${i}`);
    t.after(() => c.destroy());
    if (holderOf(pids, `127.0.0.${i}`) !== victim) b = c;
    else c.destroy();
  }
  assert.ok(b, 'a second session on the other process');
  const survivor = pids.find((p) => p !== victim) as number;
  const since = daemon.logs().length;
  process.kill(victim, 'SIGKILL');
  await waitFor(() => !alive(victim), { timeoutMs: 10_000, what: 'the session process to die' });
  // The client on the killed process: its connection ends without a 250; the other is acknowledged.
  const endings = await Promise.all(
    [a, b].map(async (c) => {
      c.write('second half\r\n.\r\n');
      return c.reply(10_000).then(
        (r) => `reply ${r.code}`,
        () => 'closed',
      );
    }),
  );
  assert.deepEqual(endings, ['closed', 'reply 250'], endings.join(', '));
  const restarted = await daemon.waitForLog({ event: 'daemon', state: 'session-process', action: 'restarted' }, { since, timeoutMs: 15_000 });
  assert.equal(restarted['replaces'], victim);
  const fresh = restarted['pid'] as number;
  assert.ok(alive(fresh) && alive(survivor));
  await daemon.waitForLog({ event: 'daemon', state: 'session-process', action: 'listening', pid: fresh }, { since, timeoutMs: 15_000 });
  // The restarted process serves: connections go to both again.
  for (let i = 0; i < 4; i++) assert.equal((await send(daemon.smtpPort, 'alice@example.test', `after ${i}`)).code, 250);
  const servedAfter = new Set(daemon.findLogs((r) => r.event === 'received' && String(r['subject']).startsWith('after')).map((r) => r['pid']));
  assert.ok(servedAfter.has(fresh), `the restarted process ${fresh} served (served by ${[...servedAfter].join(', ')})`);
  const subjects = (await daemon.waitForMail(6, { domain: 'example.test', mailbox: 'alice' })).map((m) => m.subject).sort();
  assert.deepEqual(subjects, ['acknowledged before', 'after 0', 'after 1', 'after 2', 'after 3', 'cut b'].sort());
});

test('kill -9 of the primary: the session processes go with it, nothing acknowledged is lost', { timeout: 90_000 }, async (t) => {
  const daemon = await startSealpost(t, { processes: 2 });
  const pids = sessionPids(daemon);
  const open = await inData(daemon.smtpPort, 'never acknowledged');
  t.after(() => open.destroy());
  for (let i = 0; i < 4; i++) assert.equal((await send(daemon.smtpPort, 'bob@example.test', `durable ${i}`)).code, 250);
  // Stop the deliveries from racing the kill: whatever is queued or delivered must survive.
  await daemon.kill9();
  await waitFor(() => pids.every((p) => !alive(p)), { timeoutMs: 10_000, what: 'the session processes to exit with the primary' });
  open.write('rest\r\n.\r\n');
  await open.closed(10_000);
  await daemon.restart();
  const subjects = (await daemon.waitForMail(4, { domain: 'example.test', mailbox: 'bob' })).map((m) => m.subject).sort();
  assert.deepEqual(
    subjects,
    [0, 1, 2, 3].map((i) => `durable ${i}`),
  );
  assert.equal((await daemon.readMaildir('example.test', 'alice')).length, 0);
});

test('SIGHUP reaches every session process: a new mailbox takes mail on both', { timeout: 60_000 }, async (t) => {
  const daemon = await startSealpost(t, { processes: 2 });
  assert.equal((await send(daemon.smtpPort, 'carol@example.test', 'before')).code, 550);
  assert.ok(daemon.config);
  await writeSealpostConfig(
    daemon.configFile,
    mergeConfig(daemon.config, { domain: [{ name: 'example.test', mailboxes: ['alice', 'bob', 'carol'], aliases: { postmaster: 'alice' } }] }),
  );
  const pid = daemon.pid() as number;
  await waitFor(() => catchesSignal(pid, 'SIGHUP'), { timeoutMs: 5_000, intervalMs: 20, what: 'the daemon to handle SIGHUP' });
  const since = daemon.logs().length;
  process.kill(pid, 'SIGHUP');
  await daemon.waitForLog({ event: 'daemon', state: 'reloaded' }, { since, timeoutMs: 15_000 });
  // Four connections: two on each process.
  for (let i = 0; i < 4; i++) {
    const r = await send(daemon.smtpPort, 'carol@example.test', `after reload ${i}`);
    assert.equal(r.code, 250, r.text);
  }
  assert.equal(new Set(daemon.findLogs((r) => r.event === 'received').map((r) => r['pid'])).size, 2);
});

test('limits.connections_per_ip counts the sessions of every process', { timeout: 60_000 }, async (t) => {
  const daemon = await startSealpost(t, { processes: 2, config: { limits: { connections_per_ip: 2 }, relay: { networks: ['10.9.9.0/24'] } } });
  const held: RawSmtp[] = [];
  t.after(() => {
    for (const c of held) c.destroy();
  });
  for (let i = 0; i < 2; i++) {
    const c = await connectSmtp(daemon.smtpPort);
    held.push(c);
    assert.equal((await c.reply(10_000)).code, 220);
  }
  // The third goes to a process holding one of the two: refused all the same.
  for (let i = 0; i < 2; i++) {
    const extra = await connectSmtp(daemon.smtpPort);
    held.push(extra);
    const r = await extra.reply(10_000);
    assert.equal(r.code, 421, r.text);
  }
  // A slot freed in one process is free for the other.
  (held[0] as RawSmtp).destroy();
  await waitFor(
    async () => {
      const c = await connectSmtp(daemon.smtpPort);
      held.push(c);
      return (await c.reply(10_000)).code === 220;
    },
    { timeoutMs: 10_000, intervalMs: 200, what: 'a free slot after one session closed' },
  );
});
