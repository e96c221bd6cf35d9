import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authenticate, dkimSign } from 'mailauth';
import { dkimRecord, generateDkimKey } from '../../../src/dkim/keys.ts';
import { authenticateInbound, checkSpf, warmUp } from '../../../src/mailauth/checks.ts';
import { mailauthResolver } from '../../../src/mailauth/resolver.ts';
import { type FakeEntry, fakeResolver } from '../dns/fake-resolver.ts';

const key = generateDkimKey('ed25519');
const zone: Record<string, FakeEntry> = {
  'sender.test': { TXT: ['v=spf1 ip4:192.0.2.10 -all'], A: ['192.0.2.10'] },
  's1._domainkey.sender.test': { TXT: [dkimRecord(key)] },
  '_dmarc.sender.test': { TXT: ['v=DMARC1; p=reject; adkim=s'] },
  'news.sender.test': { TXT: ['v=spf1 ?all'], A: ['192.0.2.11'] },
  's1._domainkey.other.test': { TXT: [dkimRecord(key)] },
  'spoof.test': { TXT: ['v=spf1 -all'], A: ['192.0.2.99'] },
  '_dmarc.spoof.test': { TXT: ['v=DMARC1; p=reject'] },
  'broken.test': { TXT: { kind: 'servfail', detail: 'SERVFAIL' }, A: { kind: 'servfail', detail: 'SERVFAIL' } },
};
const noExtra = { resolvePtr: async () => ({ kind: 'nodata' as const }), resolveCname: async () => ({ kind: 'nodata' as const }) };
const message = (from: string, extra = '') =>
  `From: ${from}\r\n${extra}To: bob@example.test\r\nSubject: s\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m1@x>\r\n\r\nhello\r\n`;
const sign = async (body: string, domain: string) =>
  (await dkimSign(body, { signatureData: [{ signingDomain: domain, selector: 's1', privateKey: key }] } as Parameters<typeof dkimSign>[1])).signatures + body;

const cases: { name: string; body: () => Promise<string>; ip: string; helo: string; sender: string }[] = [
  {
    name: 'aligned signature, permitted address',
    body: () => sign(message('a@sender.test'), 'sender.test'),
    ip: '192.0.2.10',
    helo: 'out.sender.test',
    sender: 'a@sender.test',
  },
  { name: 'spoofed From:', body: async () => message('ceo@spoof.test'), ip: '203.0.113.5', helo: 'bad.example', sender: 'ceo@spoof.test' },
  {
    name: 'subdomain From: (organizational policy)',
    body: async () => message('n@news.sender.test'),
    ip: '192.0.2.11',
    helo: '192.0.2.11',
    sender: 'n@news.sender.test',
  },
  { name: 'unaligned signature under adkim=s', body: () => sign(message('a@sender.test'), 'other.test'), ip: '192.0.2.10', helo: '', sender: '' },
  {
    name: 'a broken signature',
    body: async () => (await sign(message('a@sender.test'), 'sender.test')).replace('hello', 'HELLO'),
    ip: '192.0.2.10',
    helo: 'h.test',
    sender: 'a@sender.test',
  },
  { name: 'two From: domains', body: async () => message('a@sender.test, b@spoof.test'), ip: '192.0.2.10', helo: 'h.test', sender: 'a@sender.test' },
  { name: 'no From:', body: async () => 'To: bob@example.test\r\nSubject: s\r\n\r\nhello\r\n', ip: '192.0.2.10', helo: 'h.test', sender: 'a@sender.test' },
  {
    name: 'an ARC chain that does not verify',
    body: async () =>
      `ARC-Seal: i=1; a=rsa-sha256; t=1; cv=none; d=sender.test; s=s1; b=AAAA\r\nARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=sender.test; s=s1; h=From; bh=AAAA; b=AAAA\r\nARC-Authentication-Results: i=1; mx.sender.test; spf=pass\r\n${message('a@sender.test')}`,
    ip: '192.0.2.10',
    helo: 'h.test',
    sender: 'a@sender.test',
  },
  { name: 'DNS failures', body: async () => message('x@broken.test'), ip: '192.0.2.10', helo: 'h.test', sender: 'x@broken.test' },
];

for (const c of cases) {
  test(`the composed checks give what mailauth's authenticate() gives: ${c.name}`, { timeout: 10_000 }, async () => {
    const resolver = mailauthResolver(fakeResolver(zone), noExtra);
    const body = Buffer.from(await c.body());
    const opts = { ip: c.ip, helo: c.helo, sender: c.sender, mta: 'mx.example.test', resolver };
    const expected = await authenticate(body, { ...opts, disableBimi: true, trustReceived: false });
    for (const spf of [undefined, checkSpf(opts)]) {
      const actual = await authenticateInbound(body, { ...opts, ...(spf ? { spf } : {}) });
      assert.equal(actual.headers, expected.headers);
      assert.deepEqual(actual.spf, expected.spf);
      assert.deepEqual(actual.dkim.results, expected.dkim.results);
      assert.deepEqual(actual.dmarc, expected.dmarc);
      assert.deepEqual(actual.arc, expected.arc);
    }
  });
}

test('warmUp asks for what the header block names, the DMARC records (organizational fallback) and the signature keys, and nothing more', {
  timeout: 10_000,
}, async () => {
  const asked: string[] = [];
  const resolver = mailauthResolver(fakeResolver(zone, asked), noExtra);
  const body = Buffer.from(await sign(message('n@news.sender.test'), 'sender.test'));
  warmUp(body, resolver);
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(asked.sort(), ['_dmarc.news.sender.test TXT', '_dmarc.sender.test TXT', '_dmarc.test TXT', 's1._domainkey.sender.test TXT']);
});

test('authenticateInbound with warm: false starts no lookup of its own before DKIM (warmUp did them)', { timeout: 10_000 }, async () => {
  const asked: string[] = [];
  const resolver = mailauthResolver(fakeResolver(zone, asked), noExtra);
  const body = Buffer.from(message('a@sender.test'));
  const opts = { ip: '192.0.2.10', helo: 'h.test', sender: 'a@sender.test', mta: 'mx.example.test', resolver };
  const spf = checkSpf(opts);
  await spf;
  asked.length = 0;
  const warm = await authenticateInbound(body, { ...opts, spf });
  const warmAsked = [...asked];
  asked.length = 0;
  const cold = await authenticateInbound(body, { ...opts, spf, warm: false });
  assert.equal(cold.headers, warm.headers);
  // The evaluation asks once for each name; the warm-up asked for them a second time.
  assert.ok(warmAsked.length > asked.length, `${warmAsked} / ${asked}`);
  assert.deepEqual(asked, ['_dmarc.sender.test TXT', '_dmarc.test TXT']);
});
