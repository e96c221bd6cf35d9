// Where the checks of a message run (offload/adaptive.ts): the loop's load, read at most every
// everyMs, decides; a feed says where its body's check goes; a spooled message goes to the thread.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SpooledBody } from '../../../src/core/body.ts';
import { generateDkimKey } from '../../../src/dkim/keys.ts';
import type { BodyFeed, Verdict, VerifyInput } from '../../../src/mailauth/verify.ts';
import { adaptiveChecks, type LoopChecks, LoopFeed, type LoopTime, loopBusy, loopChecks } from '../../../src/offload/adaptive.ts';
import type { Offload } from '../../../src/offload/client.ts';
import { checkSettings, senderDns, signedBySender } from '../../helpers/checks-fixture.ts';
import { waitFor } from '../../helpers/wait.ts';

/** One reading of the loop's (and the machine's) time, and what loopBusy should say of it. */
interface Reading {
  at: number;
  active: number;
  idle: number;
  machineIdle?: number;
  want: boolean;
  why: string;
}

/** loopBusy at threshold 0.75, every 250 ms, `spare` CPUs or none, judged at each reading in turn. */
function judge(spare: number | undefined, readings: Reading[]): void {
  let now = 0;
  let time: LoopTime = { active: 0, idle: 0, machineIdle: 0 };
  const busy = loopBusy({ threshold: 0.75, ...(spare === undefined ? {} : { spare }), now: () => now, sample: () => time, everyMs: 250 });
  for (const { at, want, why, ...sample } of readings) {
    now = at;
    time = sample;
    assert.equal(busy(), want, why);
  }
}

test('loopBusy: the share of busy time between two readings, each at least everyMs after the last', () => {
  judge(undefined, [
    { at: 100, active: 100, idle: 0, want: false, why: 'before everyMs: the first judgement, not busy' },
    { at: 250, active: 200, idle: 50, want: true, why: '200 of 250 ms busy: 0.8' },
    { at: 300, active: 200, idle: 100, want: true, why: 'within everyMs of the last reading: unchanged' },
    { at: 500, active: 370, idle: 130, want: false, why: '170 of 250 ms busy since the last reading: 0.68' },
    { at: 5500, active: 370, idle: 5130, want: false, why: 'quiet for seconds' },
    { at: 5750, active: 570, idle: 5180, want: true, why: '200 of 250' },
    { at: 6000, active: 570, idle: 5180, want: false, why: 'no time counted (the loop did not turn): not busy' },
  ]);
});

test('loopBusy with spare: busy only while the machine also had that many CPUs idle for the thread', () => {
  judge(0.5, [
    { at: 250, active: 200, idle: 50, machineIdle: 250, want: true, why: 'loop 0.8 busy, one CPU idle' },
    { at: 500, active: 400, idle: 100, machineIdle: 300, want: false, why: 'loop 0.8 busy, 0.2 CPU idle: the thread would take from the loop' },
    { at: 750, active: 600, idle: 150, machineIdle: 425, want: true, why: 'loop 0.8 busy, exactly 0.5 CPU idle' },
    { at: 1000, active: 700, idle: 300, machineIdle: 925, want: false, why: 'two CPUs idle, the loop 0.4 busy' },
  ]);
});

function fakes() {
  const calls: string[] = [];
  const verdict = (where: string) => ({ headers: where }) as Verdict;
  const threadFeed: BodyFeed = { push: () => true, onDrain: (cb) => cb(), drop: () => {} };
  const thread: Offload = {
    verify: async (_input, feed) => {
      calls.push(feed === undefined ? 'thread verify' : feed === threadFeed ? 'thread verify, fed' : 'thread verify, a feed not its own');
      return verdict('thread');
    },
    spf: async () => {
      calls.push('thread spf');
      return undefined;
    },
    feed: () => {
      calls.push('thread feed');
      return threadFeed;
    },
    close: async () => {},
  };
  const loop: LoopChecks = {
    verify: async (_input, feed) => {
      calls.push(feed ? 'loop verify, fed' : 'loop verify');
      return verdict('loop');
    },
    feed: (sender) => {
      calls.push('loop feed');
      return new LoopFeed(sender, () => Promise.reject(new Error('no checks in this test')));
    },
    spf: async () => {
      calls.push('loop spf');
      return undefined;
    },
  };
  return { calls, thread, loop };
}

const input = (message: VerifyInput['message']): VerifyInput => ({ message, ip: '192.0.2.1', helo: 'h.test', sender: 'a@b.test' });
const spooled: SpooledBody = { kind: 'spooled', prefix: Buffer.from('Subject: x\r\n\r\n'), file: '/nonexistent', offset: 0, size: 60 << 20 };

test('adaptiveChecks: on the loop while it is not busy, on the thread while it is; a feed keeps its message where it began', async () => {
  const { calls, thread, loop } = fakes();
  let busy = false;
  const checks = adaptiveChecks(thread, loop, () => busy);
  const small = input(Buffer.from('Subject: x\r\n\r\nbody\r\n'));

  await checks.spf?.(small);
  const onLoop = checks.feed?.('a@b.test');
  busy = true; // the loop became busy during DATA: the body fed nowhere stays with the loop
  await checks.verify?.(small, onLoop);
  assert.deepEqual(calls.splice(0), ['loop spf', 'loop feed', 'loop verify, fed']);

  await checks.spf?.(small);
  const toThread = checks.feed?.('a@b.test');
  busy = false; // no longer busy: the body went to the thread, its check follows it
  await checks.verify?.(small, toThread);
  assert.deepEqual(calls.splice(0), ['thread spf', 'thread feed', 'thread verify, fed']);

  // Without a feed (the intake had none), the load at the end of DATA decides.
  await checks.verify?.(small);
  busy = true;
  await checks.verify?.(small);
  assert.deepEqual(calls.splice(0), ['loop verify', 'thread verify']);
});

test('adaptiveChecks: a spooled message not fed is checked on the thread (it reads the file); one fed to the loop stays there', async () => {
  const { calls, thread, loop } = fakes();
  const checks = adaptiveChecks(thread, loop, () => false);
  assert.equal((await checks.verify?.(input(spooled)))?.headers, 'thread');
  assert.equal((await checks.verify?.(input(spooled), checks.feed?.('a@b.test')))?.headers, 'loop');
  assert.deepEqual(calls, ['thread verify', 'loop feed', 'loop verify, fed']);
});

test('adaptiveChecks: without checks the thread is returned as it is', () => {
  const { thread, loop } = fakes();
  const none: Offload = { close: thread.close };
  assert.equal(
    adaptiveChecks(none, loop, () => false),
    none,
  );
});

test('loopChecks: the checks on this thread with the DNS they are given, failed lookups told, forged results removed', { timeout: 15_000 }, async () => {
  const dns = await senderDns();
  try {
    const failures: string[] = [];
    const checks = loopChecks(checkSettings(dns.address, 5000), (f) => failures.push(`${f.type} ${f.kind}`));
    const forged = 'Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=bank.test\r\n';
    const message = Buffer.from(`${forged}From: a@sender.test\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nbody\r\n`);
    const spf = await checks.spf({ ip: '192.0.2.1', helo: 'mail.sender.test', sender: 'a@sender.test' });
    assert.equal(spf?.status.result, 'pass');
    const verdict = await checks.verify({ message, ip: '192.0.2.1', helo: 'mail.sender.test', sender: 'a@sender.test', ...(spf ? { spf } : {}) });
    assert.equal(verdict.removed, 1);
    assert.ok(Buffer.isBuffer(verdict.message) && !verdict.message.includes('bank.test'));
    assert.equal(verdict.results.spf, 'pass');
    assert.match(verdict.headers, /^Received-SPF: pass/m);
    assert.deepEqual(failures, [], 'every lookup answered');
  } finally {
    await dns.close();
  }
});

test('LoopFeed: the lookups start at the end of the header block; a signed body is hashed as it arrives, and those hashes are checked', {
  timeout: 15_000,
}, async () => {
  const key = generateDkimKey('ed25519');
  const dns = await senderDns({ key, dmarc: true });
  try {
    const checks = loopChecks(checkSettings(dns.address, 5000));
    const unsigned = `From: a@sender.test\r\nTo: b@example.test\r\nSubject: fed\r\n\r\n${'.line of the body\r\n'.repeat(300)}`;
    const signed = await signedBySender(unsigned, key);
    const blank = signed.indexOf('\r\n\r\n');
    const fed = (bytes: Buffer, rest = true) => {
      const feed = checks.feed('a@sender.test');
      for (const [from, to] of [
        [0, 40],
        [40, blank + 1],
        [blank + 1, blank + 5],
      ] as const)
        feed.push(bytes.subarray(from, to));
      if (rest) feed.push(bytes.subarray(blank + 5));
      return feed;
    };
    const early = fed(signed, false);
    await waitFor(() => dns.queries.some((q) => q.includes('_dmarc.sender.test')) && dns.queries.some((q) => q.includes('s1._domainkey.sender.test')), {
      what: 'the DMARC and DKIM key lookups while the body is still to come',
      timeoutMs: 5000,
    });
    early.drop();
    const base = { ip: '192.0.2.1', helo: 'mail.sender.test', sender: 'a@sender.test' };
    const whole = await checks.verify({ ...base, message: signed });
    assert.deepEqual(whole.results, { spf: 'pass', dkim: 'pass', dmarc: 'pass' });
    // One body byte changed, same size: the hashes made as the body was fed are the ones checked.
    const changed = Buffer.from(signed.toString('latin1').replace('.line of the body\r\n.line', '.line of the body\r\n.LINE'), 'latin1');
    assert.equal((await checks.verify({ ...base, message: changed })).results.dkim, 'neutral');
    assert.equal((await checks.verify({ ...base, message: changed }, fed(signed))).results.dkim, 'pass');
    // An unsigned body is not hashed: its check reads the header block.
    assert.equal((await checks.verify({ ...base, message: Buffer.from(unsigned) }, fed(Buffer.from(unsigned)))).results.dkim, 'none');
  } finally {
    await dns.close();
  }
});
