import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dkimSign } from 'mailauth';
import { dkimRecord, generateDkimKey } from '../../../src/dkim/keys.ts';
import { mailauthResolver, unwrap } from '../../../src/mailauth/resolver.ts';
import { createInboundVerifier, readBody } from '../../../src/mailauth/verify.ts';
import { type FakeEntry, fakeResolver } from '../dns/fake-resolver.ts';

const key = generateDkimKey('ed25519');
const zone: Record<string, FakeEntry> = {
  'sender.test': { TXT: ['v=spf1 ip4:192.0.2.10 -all'], A: ['192.0.2.10'] },
  's1._domainkey.sender.test': { TXT: [dkimRecord(key)] },
  '_dmarc.sender.test': { TXT: ['v=DMARC1; p=reject'] },
  'spoof.test': { TXT: ['v=spf1 -all'], A: ['192.0.2.99'] },
  '_dmarc.spoof.test': { TXT: ['v=DMARC1; p=reject'] },
  'broken.test': { TXT: { kind: 'servfail', detail: 'SERVFAIL' }, A: { kind: 'servfail', detail: 'SERVFAIL' } },
};
const noExtra = { resolvePtr: async () => ({ kind: 'nodata' as const }), resolveCname: async () => ({ kind: 'nodata' as const }) };
const resolver = mailauthResolver(fakeResolver(zone), noExtra);
const message = (from: string) =>
  `From: ${from}\r\nTo: bob@example.test\r\nSubject: s\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m1@x>\r\n\r\nhello\r\n`;

test('the adapter answers in node:dns shapes and errors', async () => {
  assert.deepEqual(await resolver('sender.test', 'TXT'), [['v=spf1 ip4:192.0.2.10 -all']]);
  assert.deepEqual(await resolver('sender.test', 'A'), ['192.0.2.10']);
  await assert.rejects(resolver('nowhere.test', 'TXT'), { code: 'ENOTFOUND' });
  await assert.rejects(resolver('sender.test', 'AAAA'), { code: 'ENODATA' });
  await assert.rejects(resolver('broken.test', 'TXT'), { code: 'ESERVFAIL' });
  assert.throws(() => unwrap('x', 'A', { kind: 'timeout', detail: '' }), { code: 'ETIMEOUT' });
  assert.throws(() => unwrap('x', 'A', { kind: 'servfail', detail: 'REFUSED' }), { code: 'EREFUSED' });
  const mx = fakeResolver({ 'm.test': { MX: [{ exchange: 'mx.m.test', preference: 5 }] } });
  assert.deepEqual(await mailauthResolver(mx, noExtra)('m.test', 'MX'), [{ exchange: 'mx.m.test', priority: 5 }]);
});

test('pass for an aligned, signed message from a permitted address; our forged results removed', { timeout: 10_000 }, async () => {
  const verify = createInboundVerifier({ hostname: 'mx.example.test', resolver, dmarcReject: true, timeoutMs: 5000 });
  const body = `Authentication-Results: mx.example.test; dkim=pass\r\n${message('a@sender.test')}`;
  const signed = await dkimSign(body, { signatureData: [{ signingDomain: 'sender.test', selector: 's1', privateKey: key }] } as Parameters<typeof dkimSign>[1]);
  const verdict = await verify({ message: Buffer.from(signed.signatures + body), ip: '192.0.2.10', helo: 'out.sender.test', sender: 'a@sender.test' });
  assert.deepEqual(verdict.results, { spf: 'pass', dkim: 'pass', dmarc: 'pass' });
  assert.equal(verdict.reject, undefined);
  assert.equal(verdict.removed, 1);
  assert.ok(!verdict.message.toString().includes('Authentication-Results'));
  assert.match(verdict.headers, /^Received-SPF: pass[\s\S]*Authentication-Results: mx\.example\.test;[\s\S]*dkim=pass[\s\S]*spf=pass[\s\S]*dmarc=pass/);
  assert.ok(verdict.headers.endsWith('\r\n'));
});

test('a spoofed From: fails SPF and DMARC; refused only with dmarc_reject', { timeout: 10_000 }, async () => {
  const input = { message: Buffer.from(message('ceo@spoof.test')), ip: '203.0.113.5', helo: 'bad.example', sender: 'ceo@spoof.test' };
  const lenient = await createInboundVerifier({ hostname: 'mx.example.test', resolver, dmarcReject: false, timeoutMs: 5000 })(input);
  assert.deepEqual(lenient.results, { spf: 'fail', dkim: 'none', dmarc: 'fail' });
  assert.equal(lenient.reject, undefined);
  const strict = await createInboundVerifier({ hostname: 'mx.example.test', resolver, dmarcReject: true, timeoutMs: 5000 })(input);
  assert.deepEqual(strict.reject, { code: 550, enhanced: '5.7.1', text: 'Message rejected: it fails the DMARC policy of spoof.test' });
});

test('DNS failure is temperror, never a rejection; a stuck resolver ends in "none" at the deadline', { timeout: 10_000 }, async () => {
  const verify = createInboundVerifier({ hostname: 'mx.example.test', resolver, dmarcReject: true, timeoutMs: 5000 });
  const broken = await verify({ message: Buffer.from(message('x@broken.test')), ip: '192.0.2.10', helo: 'h.test', sender: 'x@broken.test' });
  assert.equal(broken.results.spf, 'temperror');
  assert.equal(broken.reject, undefined);
  const stuck = createInboundVerifier({ hostname: 'mx.example.test', resolver: () => new Promise(() => {}), dmarcReject: true, timeoutMs: 100 });
  const late = await stuck({ message: Buffer.from(message('a@sender.test')), ip: '192.0.2.10', helo: 'h.test', sender: 'a@sender.test' });
  assert.equal(late.headers, 'Authentication-Results: mx.example.test; none\r\n');
  assert.match(late.error ?? '', /did not finish within 100 ms/);
});

test('the checks read the body only for a DKIM or ARC message signature', () => {
  const body = `\r\n${'DKIM-Signature: in the body is not a signature\r\n'.repeat(3)}`;
  assert.equal(readBody(Buffer.from(`From: a@b.test\r\nSubject: x\r\n${body}`)), false);
  assert.equal(readBody(Buffer.from(`From: a@b.test\r\ndkim-signature : v=1; d=b.test\r\n${body}`)), true);
  assert.equal(readBody(Buffer.from(`ARC-Seal: i=1\r\nARC-Message-Signature: i=1; bh=x\r\nFrom: a@b.test\r\n${body}`)), true);
  assert.equal(readBody(Buffer.from(`From: a@b.test\r\nX-Note: see\r\n DKIM-Signature: folded, not a field\r\n${body}`)), false);
});

test('the DMARC record is asked for while DKIM verifies, not after it', { timeout: 10_000 }, async () => {
  const asked: string[] = [];
  const base = mailauthResolver(fakeResolver(zone, asked), noExtra);
  // The DKIM key lookup is held until the test lets it go: DMARC's query must come in the meantime.
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const resolver = async (name: string, type: string) => {
    if (name.includes('._domainkey.')) await held;
    return base(name, type);
  };
  const body = message('a@sender.test');
  const signed = await dkimSign(body, { signatureData: [{ signingDomain: 'sender.test', selector: 's1', privateKey: key }] } as Parameters<typeof dkimSign>[1]);
  const whole = Buffer.from(signed.signatures + body);
  const verify = createInboundVerifier({ hostname: 'mx.example.test', resolver, dmarcReject: true, timeoutMs: 5000 });
  const checks = verify({ message: whole, ip: '192.0.2.10', helo: 'h.test', sender: 'a@sender.test' });
  for (let i = 0; i < 50 && !asked.includes('_dmarc.sender.test TXT'); i++) await new Promise((r) => setImmediate(r));
  assert.ok(asked.includes('_dmarc.sender.test TXT'), `asked before the DKIM key came: ${asked.join(', ')}`);
  release();
  assert.deepEqual((await checks).results, { spf: 'pass', dkim: 'pass', dmarc: 'pass' });
});

test('with a sealing key: an ARC set over the message as stored, which verifies; a broken chain is not sealed again', { timeout: 20_000 }, async () => {
  const arcKey = generateDkimKey('rsa-2048');
  const sealing = mailauthResolver(fakeResolver({ ...zone, 'arc1._domainkey.example.test': { TXT: [dkimRecord(arcKey)] } }), noExtra);
  const verify = createInboundVerifier({ hostname: 'mx.example.test', resolver: sealing, dmarcReject: false, timeoutMs: 5000 });
  const seal = { signingDomain: 'example.test', selector: 'arc1', privateKey: arcKey };
  // Our forged results are removed first: the seal covers what is stored.
  const body = `Authentication-Results: mx.example.test; dkim=pass\r\n${message('a@sender.test')}`;
  const signed = await dkimSign(body, { signatureData: [{ signingDomain: 'sender.test', selector: 's1', privateKey: key }] } as Parameters<typeof dkimSign>[1]);
  const verdict = await verify({ message: Buffer.from(signed.signatures + body), ip: '192.0.2.10', helo: 'out.sender.test', sender: 'a@sender.test', seal });
  assert.equal(verdict.arc, 'sealed');
  assert.match(
    verdict.headers,
    /^ARC-Seal: i=1; a=rsa-sha256; [^\r]*cv=none; d=example\.test; s=arc1;[\s\S]*ARC-Message-Signature: i=1;[\s\S]*ARC-Authentication-Results: i=1; mx\.example\.test;[\s\S]*spf=pass/,
  );
  const stored = Buffer.concat([Buffer.from(`Received: from out.sender.test by mx.example.test\r\n${verdict.headers}`), verdict.message as Buffer]);
  const { authenticate } = await import('mailauth');
  const next = await authenticate(stored, {
    ip: '198.51.100.1',
    helo: 'mx.example.test',
    sender: 'x@example.test',
    mta: 'next.test',
    resolver: sealing,
    disableBimi: true,
  });
  assert.equal(next.arc ? next.arc.status.result : 'not run', 'pass', JSON.stringify(next.arc));
  // Without a key, no ARC fields.
  const unsealed = await verify({ message: Buffer.from(signed.signatures + body), ip: '192.0.2.10', helo: 'out.sender.test', sender: 'a@sender.test' });
  assert.equal(unsealed.arc, undefined);
  assert.ok(!unsealed.headers.includes('ARC-'));
  // RFC 8617 §5.1: a chain that fails our validation is sealed with cv=fail; one whose newest seal says cv=fail is not sealed again.
  const chain = (cv: string) =>
    `ARC-Seal: i=1; a=rsa-sha256; t=1; cv=${cv}; d=sender.test; s=s1; b=AAAA\r\nARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=sender.test; s=s1; h=From; bh=AAAA; b=AAAA\r\nARC-Authentication-Results: i=1; mx.sender.test; spf=pass\r\n${message('a@sender.test')}`;
  const broken = await verify({ message: Buffer.from(chain('none')), ip: '192.0.2.10', helo: 'out.sender.test', sender: 'a@sender.test', seal });
  assert.equal(broken.arc, 'sealed');
  assert.match(broken.headers, /^ARC-Seal: i=2; [^\r]*cv=fail;/);
  const failed = await verify({ message: Buffer.from(chain('fail')), ip: '192.0.2.10', helo: 'out.sender.test', sender: 'a@sender.test', seal });
  assert.match(failed.arc ?? '', /^not sealed: /);
  assert.ok(!failed.headers.includes('ARC-Seal'));
});
