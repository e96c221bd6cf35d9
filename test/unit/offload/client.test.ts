import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { generateDkimKey } from '../../../src/dkim/keys.ts';
import { startOffloadThread } from '../../../src/offload/client.ts';
import { checkSettings, senderDns, signedBySender } from '../../helpers/checks-fixture.ts';
import { startDnsServer } from '../../helpers/dns-server.ts';
import { waitFor } from '../../helpers/wait.ts';

const forged = 'Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=bank.test\r\n';
const message = Buffer.from(`${forged}From: a@sender.test\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nbody\r\n`);
const input = { message, ip: '192.0.2.1', helo: 'mail.sender.test', sender: 'a@sender.test' };

/** A checks thread on the test's DNS server, as the daemon starts it; `timeoutMs`: the checks' own bound. */
function checksThread(dns: string, timeoutMs: number, dmarcReject = false) {
  return startOffloadThread({ verify: checkSettings(dns, timeoutMs, dmarcReject) });
}

test('the thread checks a message with its own resolver: SPF from the DNS it is given, our forged field removed', { timeout: 15_000 }, async () => {
  const dns = await senderDns();
  const offload = checksThread(dns.address, 5000);
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

test('a thread that is gone gives "none" with our forged field still removed', { timeout: 15_000 }, async () => {
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
});

test('SPF alone through the thread, then handed back with the message: the verdict carries it, no second evaluation', { timeout: 15_000 }, async () => {
  const dns = await senderDns();
  const offload = checksThread(dns.address, 5000);
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

test("the thread's failed lookups (mailauth's SPF query: SERVFAIL) come back to the observer with the answer", { timeout: 15_000 }, async () => {
  const dns = await startDnsServer(new Map([['sender.test', { rcode: 'SERVFAIL' }]]));
  const failures: { type: string; kind: string }[] = [];
  const offload = startOffloadThread({ verify: checkSettings(dns.address, 5000) }, (f) => failures.push(f));
  try {
    const verdict = await offload.verify?.(input);
    assert.equal(verdict?.results.spf, 'temperror');
    assert.deepEqual(
      failures.filter((f) => f.type === 'TXT'),
      [{ type: 'TXT', kind: 'servfail' }],
      JSON.stringify(failures),
    );
    assert.ok(
      failures.every((f) => f.kind === 'servfail' || f.kind === 'timeout'),
      'answers (NXDOMAIN, records) are not failures',
    );
  } finally {
    await offload.close();
    await dns.close();
  }
});

test('a body fed as it arrives is hashed in the thread: its check uses those hashes, and gives what an unfed one gives', { timeout: 30_000 }, async () => {
  const key = generateDkimKey('ed25519');
  const dns = await senderDns({ key, dmarc: true });
  const offload = checksThread(dns.address, 10_000);
  try {
    const unsigned = `From: a@sender.test\r\nTo: b@example.test\r\nSubject: fed\r\nMessage-ID: <f1@x>\r\n\r\n${'.line of the body\r\n'.repeat(300)}`;
    const signed = await signedBySender(unsigned, key);
    const feedIn = (bytes: Buffer) => {
      const feed = offload.feed?.('a@sender.test');
      assert.ok(feed);
      // Cut in the header block, in a CRLF, and in the blank line after the header block.
      const blank = bytes.indexOf('\r\n\r\n');
      const cuts = [0, 40, blank + 1, blank + 3, blank + 30, blank + 31, bytes.length];
      for (let i = 1; i < cuts.length; i++) feed.push(bytes.subarray(cuts[i - 1], cuts[i]));
      return feed;
    };
    const whole = await offload.verify?.({ ...input, message: signed });
    assert.equal(whole?.results.dkim, 'pass');
    const fed = await offload.verify?.({ ...input, message: signed }, feedIn(signed));
    assert.deepEqual({ ...fed, message: undefined }, { ...whole, message: undefined });
    // The same size and header block with one body byte changed: the hashes made as the body was fed
    // (of the signed body) are the ones checked, which proves they were made then.
    const changed = Buffer.from(signed.toString('latin1').replace('.line of the body\r\n.line', '.line of the body\r\n.LINE'), 'latin1');
    assert.equal(changed.length, signed.length);
    assert.equal((await offload.verify?.({ ...input, message: changed }))?.results.dkim, 'neutral'); // mailauth: body hash did not verify
    assert.equal((await offload.verify?.({ ...input, message: changed }, feedIn(signed)))?.results.dkim, 'pass');
    // A dropped feed is gone: its check verifies the message it is given.
    const dropped = feedIn(signed);
    dropped.drop();
    assert.equal((await offload.verify?.({ ...input, message: changed }, dropped))?.results.dkim, 'neutral'); // mailauth: body hash did not verify
  } finally {
    await offload.close();
    await dns.close();
  }
});

test('a large body fed as it arrives waits for the thread (push false, then onDrain); its spooled check uses the hashes made meanwhile', {
  timeout: 60_000,
}, async () => {
  const key = generateDkimKey('ed25519');
  const dns = await senderDns({ spf: false, key });
  const offload = checksThread(dns.address, 30_000);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-feed-'));
  try {
    const unsigned = `From: a@sender.test\r\nTo: b@example.test\r\nSubject: large\r\n\r\n${`${'y'.repeat(78)}\r\n`.repeat(40_000)}`;
    const signed = await signedBySender(unsigned, key, 'relaxed/relaxed');
    const header = signed.subarray(0, signed.indexOf('\r\n\r\n') + 4);
    // The spooled check gets another body of the same size: only the fed hashes can make it pass.
    const changed = Buffer.from(signed.toString('latin1').replace(/y{78}\r\n$/, `${'z'.repeat(78)}\r\n`), 'latin1');
    const file = path.join(dir, 'm');
    writeFileSync(file, changed);
    const spooled = { kind: 'spooled' as const, prefix: Buffer.from(header), file, offset: header.length, size: changed.length };
    assert.equal((await offload.verify?.({ ...input, message: spooled }))?.results.dkim, 'neutral', 'the file as it is: its body hash fails');

    const feed = offload.feed?.('a@sender.test');
    assert.ok(feed);
    let waited = 0;
    for (let at = 0; at < signed.length; at += 64 * 1024) {
      if (!feed.push(signed.subarray(at, at + 64 * 1024))) {
        waited++;
        await new Promise<void>((resolve) => feed.onDrain(resolve));
      }
    }
    assert.ok(waited > 0, 'a 3 MiB body fed at once makes the feed ask to wait');
    const verdict = await offload.verify?.({ ...input, message: spooled }, feed);
    assert.equal(verdict?.results.dkim, 'pass');
  } finally {
    await offload.close();
    await dns.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a fed unsigned message: its header block starts the DMARC lookup as it arrives, the check gets the header block alone and gives what a whole check gives', {
  timeout: 30_000,
}, async () => {
  const dns = await senderDns({ dmarc: true });
  const offload = checksThread(dns.address, 10_000, true);
  try {
    const body = '.line of the body\r\n'.repeat(300);
    const unsigned = Buffer.from(`${forged}From: a@sender.test\r\nTo: b@example.test\r\nSubject: unsigned\r\n\r\n${body}`);
    const whole = await offload.verify?.({ ...input, message: unsigned });
    assert.equal(whole?.results.dmarc, 'pass');
    dns.queries.length = 0;
    const feed = offload.feed?.('a@sender.test');
    assert.ok(feed);
    feed.push(unsigned.subarray(0, 60));
    feed.push(unsigned.subarray(60));
    // The thread's DNS cache has sender.test's answers by now: a new name shows the lookup starting before any check.
    const fresh = Buffer.from(unsigned.toString('latin1').replaceAll('a@sender.test', 'a@other.test'), 'latin1');
    const feed2 = offload.feed?.('a@other.test');
    assert.ok(feed2);
    feed2.push(fresh);
    await waitFor(() => dns.queries.some((q) => q.includes('_dmarc.other.test')), { what: 'the header block fed starting the DMARC lookup', timeoutMs: 2000 });
    feed2.drop();
    const fed = await offload.verify?.({ ...input, message: unsigned }, feed);
    assert.ok(fed);
    assert.deepEqual({ ...fed, message: undefined }, { ...whole, message: undefined });
    assert.equal(fed.removed, 1);
    assert.deepEqual(fed.message, whole?.message, 'the cleaned header block joined with the body');
    assert.ok(Buffer.isBuffer(fed.message));
    // No forged field: the message comes back as it was given (the same bytes, no copy).
    const clean = unsigned.subarray(forged.length);
    const feed3 = offload.feed?.('a@sender.test');
    feed3?.push(clean);
    const untouched = await offload.verify?.({ ...input, message: clean }, feed3);
    assert.equal(untouched?.message, clean);
    assert.equal(untouched?.removed, 0);
  } finally {
    await offload.close();
    await dns.close();
  }
});

test('a signed message whose fed body is not the one checked (another size): the header block will not do, the whole message is checked', {
  timeout: 30_000,
}, async () => {
  const key = generateDkimKey('ed25519');
  const dns = await senderDns({ key });
  const offload = checksThread(dns.address, 10_000);
  try {
    const unsigned = `From: a@sender.test\r\nTo: b@example.test\r\nSubject: fed\r\n\r\n${'body\r\n'.repeat(50)}`;
    const signed = await signedBySender(unsigned, key);
    const feed = offload.feed?.('a@sender.test');
    assert.ok(feed);
    feed.push(Buffer.concat([signed, Buffer.from('extra\r\n')]));
    const verdict = await offload.verify?.({ ...input, message: signed }, feed);
    assert.equal(verdict?.results.dkim, 'pass', 'verified whole: the body given, not the one fed');
    assert.deepEqual(verdict?.message, signed);
  } finally {
    await offload.close();
    await dns.close();
  }
});
