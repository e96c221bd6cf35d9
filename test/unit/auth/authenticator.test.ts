import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAuthenticator } from '../../../src/auth/authenticator.ts';
import { AuthGuard } from '../../../src/auth/guard.ts';
import { hashPassword } from '../../../src/auth/password.ts';
import { captureLog } from '../../helpers/log.ts';

async function setup() {
  const hash = await hashPassword('correct horse battery', { ln: 4, r: 8, p: 1 });
  const { log, records } = captureLog();
  let now = 1_000_000;
  const slept: number[] = [];
  const authenticate = createAuthenticator({
    users: { passwordHash: async (address) => (address === 'alice@example.test' ? hash : undefined) },
    guard: new AuthGuard({ slowAfter: 2, delayMs: 100, maxFailures: 4, lockoutMs: 60_000, maxConcurrent: 2 }),
    log,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
    },
  });
  const attempt = (password: string, username = 'alice@example.test', clientIp = '192.0.2.1', authzid?: string) =>
    authenticate({ method: 'PLAIN', username, password, clientIp, authzid });
  return { attempt, records, slept, advance: (ms: number) => (now += ms) };
}

test('the right password authenticates as the normalized address; the log has no password', { timeout: 10_000 }, async () => {
  const { attempt, records } = await setup();
  assert.deepEqual(await attempt('correct horse battery', 'Alice@Example.Test'), { ok: true, user: 'alice@example.test' });
  assert.deepEqual(await attempt('wrong password'), { ok: false, code: 535, enhanced: '5.7.8', text: 'Authentication credentials invalid' });
  assert.equal((await attempt('correct horse battery', 'bob@example.test')).ok, false, 'unknown user');
  assert.equal((await attempt('correct horse battery', 'alice@example.test', '192.0.2.9', 'bob@example.test')).ok, false, 'acting as someone else');
  assert.equal((await attempt('correct horse battery', 'alice@example.test', '192.0.2.9', 'alice@example.test')).ok, true, 'authzid = authcid');
  const text = JSON.stringify(records);
  assert.ok(!text.includes('wrong password') && !text.includes('correct horse'), 'no secret in the log');
  assert.ok(records.some((r) => r['event'] === 'auth' && r['result'] === 'failed' && r['user'] === 'alice@example.test' && r['clientIp'] === '192.0.2.1'));
});

test('failures from one address slow it down, then lock it out, even for the right password', { timeout: 10_000 }, async () => {
  const { attempt, slept, advance } = await setup();
  await attempt('x1');
  await attempt('x2');
  assert.deepEqual(slept, []);
  await attempt('x3');
  await attempt('x4');
  assert.deepEqual(slept, [100, 200]);
  const locked = await attempt('correct horse battery');
  assert.equal(locked.ok, false);
  assert.equal(!locked.ok && locked.code, 421);
  assert.match(!locked.ok ? locked.text : '', /try again in 1 minute/);
  assert.equal((await attempt('correct horse battery', 'alice@example.test', '192.0.2.2')).ok, true, 'other addresses are not affected');
  advance(60_000);
  assert.equal((await attempt('correct horse battery')).ok, true, 'the lockout ends');
});

test('parallel wrong passwords: at most max_concurrent checked at once (454 4.7.0 for the rest), never more than max_failures 535s', {
  timeout: 10_000,
}, async () => {
  const { attempt } = await setup();
  const first = await Promise.all(Array.from({ length: 8 }, (_, i) => attempt(`burst-${i}`)));
  const codes = first.map((o) => (o.ok ? 235 : o.code));
  assert.equal(codes.filter((c) => c === 535).length, 2, codes.join(' '));
  assert.equal(codes.filter((c) => c === 454).length, 6, codes.join(' '));
  const busy = first.find((o) => !o.ok && o.code === 454);
  assert.deepEqual(busy, { ok: false, code: 454, enhanced: '4.7.0', text: 'Too many authentications in progress from your address; try again shortly' });
  const second = await Promise.all(Array.from({ length: 8 }, (_, i) => attempt(`again-${i}`)));
  assert.equal(second.filter((o) => !o.ok && o.code === 535).length, 2, 'four failures in all');
  const locked = await attempt('correct horse battery');
  assert.equal(!locked.ok && locked.code, 421, 'even the right password');
});
