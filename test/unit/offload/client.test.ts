import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startOffloadThread } from '../../../src/offload/client.ts';
import { startDnsServer } from '../../helpers/dns-server.ts';

const forged = 'Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=bank.test\r\n';
const message = Buffer.from(`${forged}From: a@sender.test\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nbody\r\n`);
const input = { message, ip: '192.0.2.1', helo: 'mail.sender.test', sender: 'a@sender.test' };

test('the thread checks a message with its own resolver: SPF from the DNS it is given, our forged field removed', { timeout: 15_000 }, async () => {
  const dns = await startDnsServer(new Map([['sender.test', { TXT: ['v=spf1 ip4:192.0.2.1 -all'] }]]));
  const offload = startOffloadThread({
    verify: { hostname: 'mx.example.test', dns: { servers: [dns.address], timeoutMs: 2000 }, dmarcReject: false, timeoutMs: 5000 },
  });
  try {
    const verdict = await offload.verify?.(input);
    assert.ok(verdict);
    assert.ok(Buffer.isBuffer(verdict.message), 'a Buffer again on this side');
    assert.equal(verdict.removed, 1);
    assert.ok(!verdict.message.includes('spf=pass smtp.mailfrom=bank.test'));
    assert.equal(verdict.results.spf, 'pass');
    assert.match(verdict.headers, /^Received-SPF: pass/m);
    assert.ok(
      dns.queries.some((q) => q.includes('sender.test')),
      'asked our DNS server',
    );
  } finally {
    await offload.close();
    await dns.close();
  }
});

test('a thread that is gone gives "none" with our forged field still removed, and a Maildir write fails', { timeout: 15_000 }, async () => {
  const offload = startOffloadThread({
    verify: { hostname: 'mx.example.test', dns: { servers: ['127.0.0.1:9'], timeoutMs: 500 }, dmarcReject: false, timeoutMs: 1000 },
  });
  await offload.close();
  const verdict = await offload.verify?.(input);
  assert.ok(verdict);
  assert.deepEqual(verdict.results, { spf: 'none', dkim: 'none', dmarc: 'none' });
  assert.match(verdict.error ?? '', /offload thread exited/);
  assert.equal(verdict.removed, 1);
  assert.equal(verdict.headers, 'Authentication-Results: mx.example.test; none\r\n');
  await assert.rejects(offload.write('/nonexistent', 'n', [Buffer.from('x')]), /offload thread exited/);
});

test('SPF alone through the thread, then handed back with the message: the verdict carries it, no second evaluation', { timeout: 15_000 }, async () => {
  const dns = await startDnsServer(new Map([['sender.test', { TXT: ['v=spf1 ip4:192.0.2.1 -all'] }]]));
  const offload = startOffloadThread({
    verify: { hostname: 'mx.example.test', dns: { servers: [dns.address], timeoutMs: 2000 }, dmarcReject: false, timeoutMs: 5000 },
  });
  try {
    const spf = await offload.spf?.({ ip: input.ip, helo: input.helo, sender: input.sender });
    assert.equal(spf?.status.result, 'pass');
    // A result that differs from what the DNS says proves the one handed in is used, not a new one.
    const handed = { ...(spf as NonNullable<typeof spf>), status: { ...(spf as NonNullable<typeof spf>).status, result: 'softfail' as const } };
    const verdict = await offload.verify?.({ ...input, spf: handed });
    assert.equal(verdict?.results.spf, 'softfail');
  } finally {
    await offload.close();
    await dns.close();
  }
  // A thread that is gone: no SPF result, so the end of DATA evaluates it (and answers "none" there).
  assert.equal(await offload.spf?.({ ip: input.ip, helo: input.helo, sender: input.sender }), undefined);
});
