import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DotStuffer, dotStuff } from '../../../src/outbound/wire.ts';

// Leading dots, CRLF, bare CR and LF, and an unterminated last line, at every cut.
const cases: string[] = [
  '',
  '.',
  'a',
  '.\r\n',
  'a\r\n.\r\n',
  'a\r\n..b\r\n',
  '.\r\n.\r\n.',
  'x\r.y\n.z\r\n.',
  'line\r',
  '\r\n\r\n.\r\n',
  'Subject: s\r\n\r\n.hidden\r\nend',
];

test('chunk by chunk, at every cut into up to three chunks, the same bytes as dotStuff of the whole', { timeout: 10_000 }, () => {
  for (const text of cases) {
    const whole = Buffer.from(text, 'latin1');
    const expected = dotStuff(whole).toString('latin1');
    for (let i = 0; i <= whole.length; i++) {
      for (let j = i; j <= whole.length; j++) {
        const s = new DotStuffer();
        const got = Buffer.concat([s.push(whole.subarray(0, i)), s.push(whole.subarray(i, j)), s.push(whole.subarray(j)), s.end()]).toString('latin1');
        assert.equal(got, expected, `${JSON.stringify(text)} cut at ${i}, ${j}`);
      }
    }
  }
});
