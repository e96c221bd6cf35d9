// Which DKIM signatures get a key lookup: at most `max`, From:-aligned first, the stored fields cut out exactly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseSignatures, limitSignatures } from '../../../src/mailauth/signatures.ts';

test('chooseSignatures: aligned, then related, then the rest from the top; original order kept', { timeout: 5000 }, () => {
  const table: { domains: (string | undefined)[]; from: string[]; max: number; keep: number[] }[] = [
    { domains: ['a.test', 'b.test'], from: ['a.test'], max: 5, keep: [0, 1] },
    { domains: ['x.test', 'y.test', 'z.test', 'w.test', 'v.test', 'u.test', 'sender.test'], from: ['sender.test'], max: 5, keep: [0, 1, 2, 3, 6] },
    { domains: ['x.test', 'mail.sender.test', 'y.test', 'sender.test'], from: ['sender.test'], max: 2, keep: [1, 3] },
    { domains: ['x.test', 'sender.test', 'y.test'], from: ['news.sender.test'], max: 1, keep: [1] },
    { domains: [undefined, 'x.test', 'y.test'], from: ['z.test'], max: 2, keep: [0, 1] },
    { domains: ['x.test', 'y.test'], from: [], max: 1, keep: [0] },
    { domains: ['x.test', 'notsender.test'], from: ['sender.test'], max: 1, keep: [0] },
    { domains: ['x.test'], from: ['x.test'], max: 0, keep: [] },
  ];
  for (const c of table) assert.deepEqual(chooseSignatures(c.domains, c.from, c.max), c.keep, JSON.stringify(c));
});

test('limitSignatures cuts out the fields not chosen, folding and all; a message within the limit is the same buffer', { timeout: 5000 }, () => {
  const sig = (d: string) => `DKIM-Signature: v=1; a=rsa-sha256; d=${d};\r\n\ts=s1; b=abc\r\n`;
  const rest = 'From: News <news@Sender.test>\r\nSubject: s\r\n\r\nbody\r\nDKIM-Signature: not a header\r\n';
  const message = Buffer.from(`${sig('x.test')}${sig('y.test')}Dkim-Signature : v=1; d=sender.test; s=s2\r\n${sig('z.test')}${rest}`);
  const limited = limitSignatures(message, 2);
  assert.equal(limited.dropped, 2);
  assert.equal(limited.message.toString(), `${sig('x.test')}Dkim-Signature : v=1; d=sender.test; s=s2\r\n${rest}`);
  const same = limitSignatures(message, 4);
  assert.equal(same.dropped, 0);
  assert.equal(same.message, message);
});
