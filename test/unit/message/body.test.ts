import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkNewlines, hasEightBit, headerBlock } from '../../../src/message/body.ts';

test('bare LF and bare CR are normalized to CRLF, never left as line ends a later hop could misread', () => {
  const cases: [string, string][] = [
    ['a\r\nb\r\n', 'a\r\nb\r\n'],
    ['a\nb\r\n', 'a\r\nb\r\n'],
    ['a\rb\r\n', 'a\r\nb\r\n'],
    ['x\n.\nMAIL FROM:<a@b>\r\n', 'x\r\n.\r\nMAIL FROM:<a@b>\r\n'],
    ['a\r\r\n', 'a\r\n\r\n'],
  ];
  for (const [input, expected] of cases) {
    const r = checkNewlines(Buffer.from(input), 'normalize');
    assert.ok(r.ok);
    assert.equal(r.body.toString(), expected, JSON.stringify(input));
  }
});

test('reject mode refuses bare LF and bare CR, accepts clean CRLF', () => {
  assert.equal(checkNewlines(Buffer.from('a\nb'), 'reject').ok, false);
  assert.equal(checkNewlines(Buffer.from('a\rb'), 'reject').ok, false);
  const clean = Buffer.from('a\r\nb\r\n');
  const r = checkNewlines(clean, 'reject');
  assert.ok(r.ok);
  assert.equal(r.body, clean, 'a clean body is passed through without a copy');
});

test('8-bit detection and header block', () => {
  assert.equal(hasEightBit(Buffer.from('plain ascii')), false);
  assert.equal(hasEightBit(Buffer.from('grüße')), true);
  assert.equal(headerBlock(Buffer.from('Subject: x\r\n\r\nbody')).toString(), 'Subject: x\r\n\r\n');
  assert.equal(headerBlock(Buffer.from('Subject: x\r\n')).toString(), 'Subject: x\r\n');
});
