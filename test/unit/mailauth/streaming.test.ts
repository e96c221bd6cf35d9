// DKIM fed as the body arrives gives what mailauth gives for the whole message: every signature
// of many (more than are verified), l= tags, simple and relaxed bodies, ed25519 and RSA, with the
// body cut at every byte (CRLF split across chunks, a header block's blank line split, leading
// dots, bare newlines normalized on the way) and in one-byte chunks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authenticate, dkimSign, sealMessage } from 'mailauth';
import { dkimRecord, generateDkimKey } from '../../../src/dkim/keys.ts';
import { authenticateInbound } from '../../../src/mailauth/checks.ts';
import { mailauthResolver } from '../../../src/mailauth/resolver.ts';
import { limitSignatures, MAX_DKIM_SIGNATURES } from '../../../src/mailauth/signatures.ts';
import { startStreamedDkim } from '../../../src/mailauth/streaming.ts';
import { checkNewlines, headerBlock } from '../../../src/message/body.ts';
import { type FakeEntry, fakeResolver } from '../dns/fake-resolver.ts';

const ed = generateDkimKey('ed25519');
const rsa = generateDkimKey('rsa-2048');
const zone: Record<string, FakeEntry> = {
  'sender.test': { TXT: ['v=spf1 ip4:192.0.2.10 -all'], A: ['192.0.2.10'] },
  'ed._domainkey.sender.test': { TXT: [dkimRecord(ed)] },
  'rsa._domainkey.sender.test': { TXT: [dkimRecord(rsa)] },
  'ed._domainkey.other.test': { TXT: [dkimRecord(ed)] },
  'rsa._domainkey.other.test': { TXT: [dkimRecord(rsa)] },
  '_dmarc.sender.test': { TXT: ['v=DMARC1; p=reject'] },
};
const noExtra = { resolvePtr: async () => ({ kind: 'nodata' as const }), resolveCname: async () => ({ kind: 'nodata' as const }) };
const resolver = () => mailauthResolver(fakeResolver(zone), noExtra);
const opts = { ip: '192.0.2.10', helo: 'out.sender.test', sender: 'a@sender.test', mta: 'mx.example.test' };

interface Sig {
  domain: string;
  key: 'ed' | 'rsa';
  c: string;
  l?: number;
  a?: string;
}

const header = 'From: A <a@sender.test>\r\nTo: bob@example.test\r\nSubject: streamed\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <s1@x>\r\n\r\n';
// Trailing blanks and tabs, runs of spaces, lines that SMTP dot-stuffs, empty lines at the end.
const body = 'hello  world \t\r\n..dotted\r\n.\r\n \r\n\tindented  line\t\r\nline with trailing spaces   \r\n\r\n\r\nlast\r\n\r\n\r\n';

async function signed(sigs: Sig[], text: string): Promise<string> {
  let out = text;
  // Each signature over the message as it is then (the newest on top, as relays add them).
  for (const s of sigs) {
    const signature = {
      signingDomain: s.domain,
      selector: s.key,
      privateKey: s.key === 'ed' ? ed : rsa,
      canonicalization: s.c,
      ...(s.l !== undefined ? { maxBodyLength: s.l } : {}),
      ...(s.a ? { algorithm: s.a } : {}),
    };
    out = (await dkimSign(out, { signatureData: [signature] } as Parameters<typeof dkimSign>[1])).signatures + out;
  }
  return out;
}

const cases: { name: string; raw: () => Promise<string> }[] = [
  { name: 'one relaxed ed25519 signature', raw: () => signed([{ domain: 'sender.test', key: 'ed', c: 'relaxed/relaxed' }], header + body) },
  { name: 'one simple RSA signature', raw: () => signed([{ domain: 'sender.test', key: 'rsa', c: 'simple/simple' }], header + body) },
  {
    name: 'seven signatures (five verified), l= tags, simple and relaxed, ed25519, RSA and rsa-sha1',
    raw: () =>
      signed(
        [
          { domain: 'other.test', key: 'rsa', c: 'simple/simple', l: 0 },
          { domain: 'other.test', key: 'ed', c: 'relaxed/relaxed', l: 13 },
          { domain: 'sender.test', key: 'rsa', c: 'relaxed/simple', l: 40 },
          { domain: 'sender.test', key: 'ed', c: 'simple/relaxed', l: 1000 },
          { domain: 'other.test', key: 'rsa', c: 'relaxed/relaxed', a: 'rsa-sha1' },
          { domain: 'sender.test', key: 'rsa', c: 'relaxed/relaxed' },
          { domain: 'other.test', key: 'ed', c: 'simple/simple' },
        ],
        header + body,
      ),
  },
  {
    name: 'signatures broken by a changed body',
    raw: async () =>
      (
        await signed(
          [
            { domain: 'sender.test', key: 'ed', c: 'relaxed/relaxed', l: 20 },
            { domain: 'sender.test', key: 'rsa', c: 'simple/simple' },
          ],
          header + body,
        )
      ).replace('last', 'LAST'),
  },
  {
    name: 'bare newlines, made CRLF on the way',
    raw: async () =>
      (await signed([{ domain: 'sender.test', key: 'rsa', c: 'relaxed/relaxed' }], `${header}bare\r\nends\r\n`)).replace('bare\r\nends', 'bare\nends'),
  },
  {
    name: 'an ARC set (its message signature hashes the body too) over a DKIM-signed message',
    raw: async () => {
      const message = await signed([{ domain: 'other.test', key: 'rsa', c: 'relaxed/relaxed', l: 30 }], header + body);
      const seal = { signingDomain: 'sender.test', selector: 'rsa', privateKey: rsa, authResults: 'mx.sender.test; dkim=pass', cv: 'none' };
      return (await sealMessage(message, seal as Parameters<typeof sealMessage>[1])).toString('latin1') + message;
    },
  },
  { name: 'an empty body', raw: () => signed([{ domain: 'sender.test', key: 'ed', c: 'simple/simple' }], header) },
];

/** What the checks tell finish() of the message they have. */
const facts = (message: Buffer) => ({ header: headerBlock(message), size: message.length });

/** The chunkings of `raw` tried: cut at every byte, and one byte at a time. */
function* chunkings(raw: Buffer): Generator<Buffer[]> {
  for (let i = 0; i <= raw.length; i++) yield [raw.subarray(0, i), raw.subarray(i)];
  yield [...raw].map((byte) => Buffer.from([byte]));
}

for (const c of cases) {
  test(`DKIM fed as the body arrives gives authenticate()'s result: ${c.name}`, { timeout: 120_000 }, async () => {
    const raw = Buffer.from(await c.raw());
    const checked = checkNewlines(raw, 'normalize');
    assert.ok(checked.ok);
    const message = checked.body;
    // What verify.ts hands the checks: at most MAX_DKIM_SIGNATURES signatures.
    const limited = limitSignatures(message, MAX_DKIM_SIGNATURES).message;
    const expected = await authenticate(limited, { ...opts, resolver: resolver(), disableBimi: true, trustReceived: false });
    assert.ok(
      expected.dkim.results.some((r) => r.status.result !== 'none'),
      'the case has signatures to verify',
    );
    if (c.name.includes('ARC')) assert.equal(expected.arc ? expected.arc.status.result : 'none', 'pass');
    let tried = 0;
    for (const chunks of chunkings(raw)) {
      const r = resolver();
      const streamed = startStreamedDkim({ resolver: r, sender: opts.sender });
      for (const chunk of chunks) streamed.push(chunk);
      const dkim = await streamed.finish(facts(message));
      assert.ok(dkim, `the streamed result is used (cut at ${chunks[0]?.length})`);
      assert.deepEqual(dkim.results, expected.dkim.results, `cut at ${chunks[0]?.length} of ${raw.length}`);
      if (tried++ % 25 === 0 || chunks.length > 2) {
        const actual = await authenticateInbound(limited, { ...opts, resolver: r, dkim: Promise.resolve(dkim) });
        assert.equal(actual.headers, expected.headers);
        assert.deepEqual(actual.dmarc, expected.dmarc);
        assert.deepEqual(actual.arc, expected.arc);
      }
    }
  });
}

test('a streamed result is not used for another message: a longer one, or one with another header', { timeout: 10_000 }, async () => {
  const raw = Buffer.from(await signed([{ domain: 'sender.test', key: 'ed', c: 'relaxed/relaxed' }], header + body));
  const s1 = startStreamedDkim({ resolver: resolver(), sender: opts.sender });
  s1.push(raw);
  assert.equal(await s1.finish(facts(Buffer.concat([raw, Buffer.from('x\r\n')]))), undefined, 'longer');
  const s2 = startStreamedDkim({ resolver: resolver(), sender: opts.sender });
  s2.push(raw);
  assert.equal(await s2.finish(facts(Buffer.from(raw.toString('latin1').replace('Subject: streamed', 'Subject: Streamed'), 'latin1'))), undefined, 'header');
});

test('a header block without signatures starts no verifier; an aborted stream gives nothing', { timeout: 10_000 }, async () => {
  const plain = Buffer.from(header + body);
  const s = startStreamedDkim({ resolver: resolver(), sender: opts.sender });
  s.push(plain);
  assert.equal(await s.finish(facts(plain)), undefined);
  const raw = Buffer.from(await signed([{ domain: 'sender.test', key: 'ed', c: 'relaxed/relaxed' }], header + body));
  const a = startStreamedDkim({ resolver: resolver(), sender: opts.sender });
  a.push(raw.subarray(0, 300));
  a.abort();
  a.push(raw.subarray(300));
  assert.equal(await a.finish(facts(raw)), undefined);
});
