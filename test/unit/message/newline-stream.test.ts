import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkNewlines } from '../../../src/message/body.ts';
import { NewlineStream } from '../../../src/message/newline-stream.ts';

// Bodies whose bare CRs and LFs fall at every position a chunk boundary can cut.
const cases: string[] = [
  'a\r\nb\r\n',
  'a\rb',
  'a\nb',
  'a\r\r\nb',
  '\r',
  '\n',
  '\r\n',
  'x\r',
  '\r\r\r',
  '\n\n\r\n',
  'a\r\n.\r\nb\n.\nc\r.\r',
  'clean line\r\nanother\r\n\r\nbody\r\n',
];

/** Every way to cut `body` into up to three chunks. */
function splits(body: Buffer): Buffer[][] {
  const out: Buffer[][] = [[body]];
  for (let i = 0; i <= body.length; i++) {
    out.push([body.subarray(0, i), body.subarray(i)]);
    for (let j = i; j <= body.length; j++) out.push([body.subarray(0, i), body.subarray(i, j), body.subarray(j)]);
  }
  return out;
}

function stream(chunks: Buffer[], mode: 'normalize' | 'reject'): { out: Buffer; bare: boolean } {
  const n = new NewlineStream(mode);
  const parts = chunks.map((c) => n.push(c));
  parts.push(n.end());
  return { out: Buffer.concat(parts), bare: n.bare };
}

test('normalize: chunk by chunk, at every cut, the same bytes as checkNewlines of the whole', { timeout: 10_000 }, () => {
  for (const text of cases) {
    const whole = Buffer.from(text, 'latin1');
    const expected = checkNewlines(whole, 'normalize');
    assert.ok(expected.ok);
    for (const chunks of splits(whole)) {
      const got = stream(chunks, 'normalize');
      assert.equal(
        got.out.toString('latin1'),
        expected.body.toString('latin1'),
        `${JSON.stringify(text)} cut as ${JSON.stringify(chunks.map((c) => c.toString('latin1')))}`,
      );
      assert.equal(got.bare, expected.body !== whole, JSON.stringify(text));
    }
  }
});

test('reject: a bare CR or LF is found at every cut (a CR ending one chunk, its LF starting the next, is not bare)', { timeout: 10_000 }, () => {
  for (const text of cases) {
    const whole = Buffer.from(text, 'latin1');
    const refused = !checkNewlines(whole, 'reject').ok;
    for (const chunks of splits(whole)) {
      const got = stream(chunks, 'reject');
      assert.equal(got.bare, refused, `${JSON.stringify(text)} cut as ${JSON.stringify(chunks.map((c) => c.toString('latin1')))}`);
      if (!refused) assert.equal(got.out.toString('latin1'), text);
    }
  }
});

test('a clean chunk is passed on as it is, without a copy', () => {
  const n = new NewlineStream('normalize');
  const chunk = Buffer.from('Subject: x\r\n\r\nbody\r');
  assert.equal(n.push(chunk), chunk);
  const next = Buffer.from('\nmore\r\n');
  assert.equal(n.push(next), next);
});
