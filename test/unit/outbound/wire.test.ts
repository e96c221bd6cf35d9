import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dotStuff, mailParameters, makeReply, parseExtensions, parseReplyLine } from '../../../src/outbound/wire.ts';

test('reply lines', () => {
  assert.deepEqual(parseReplyLine('250-PIPELINING'), { code: 250, last: false, text: 'PIPELINING' });
  assert.deepEqual(parseReplyLine('250 ok'), { code: 250, last: true, text: 'ok' });
  assert.deepEqual(parseReplyLine('250'), { code: 250, last: true, text: '' });
  assert.ok('error' in parseReplyLine('hello'));
  assert.ok('error' in parseReplyLine('650 x'));
});

test('replies keep the enhanced code of their class only', () => {
  assert.deepEqual(makeReply(550, ['5.1.1 no such user', 'really']), { code: 550, enhanced: '5.1.1', text: 'no such user really' });
  assert.deepEqual(makeReply(250, ['5.1.1 odd']), { code: 250, text: '5.1.1 odd' });
  assert.deepEqual(makeReply(451, ['try later']), { code: 451, text: 'try later' });
});

test('EHLO keywords', () => {
  const ext = parseExtensions(['mx.test greets you', 'PIPELINING', 'SIZE 1000', 'starttls', '8BITMIME']);
  assert.deepEqual([...ext.keys()], ['PIPELINING', 'SIZE', 'STARTTLS', '8BITMIME']);
  assert.equal(ext.get('SIZE'), '1000');
});

test('MAIL FROM parameters, table', () => {
  const all = new Map([
    ['SIZE', '1000'],
    ['8BITMIME', ''],
    ['SMTPUTF8', ''],
  ]);
  const none = new Map<string, string>();
  const cases: [Map<string, string>, { size: number; eightBit: boolean; smtputf8: boolean; requireTls?: boolean }, string][] = [
    // RFC 8689 §4.2.1: REQUIRETLS only to a server that offers it.
    [new Map([['REQUIRETLS', '']]), { size: 10, eightBit: false, smtputf8: false, requireTls: true }, 'REQUIRETLS'],
    [all, { size: 10, eightBit: false, smtputf8: false, requireTls: true }, 'refuse 5.7.30'],
    [all, { size: 10, eightBit: false, smtputf8: false }, 'SIZE=10'],
    [all, { size: 10, eightBit: true, smtputf8: true }, 'SMTPUTF8 SIZE=10 BODY=8BITMIME'],
    [all, { size: 2000, eightBit: false, smtputf8: false }, 'refuse 5.3.4'],
    [new Map([['SIZE', '']]), { size: 2000, eightBit: false, smtputf8: false }, 'SIZE=2000'],
    [none, { size: 10, eightBit: true, smtputf8: false }, ''],
    [none, { size: 10, eightBit: false, smtputf8: true }, 'refuse 5.6.7'],
  ];
  for (const [ext, traits, expect] of cases) {
    const r = mailParameters(ext, traits);
    assert.equal('refuse' in r ? `refuse ${r.enhanced}` : r.params.join(' '), expect, JSON.stringify(traits));
  }
  const refused = mailParameters(none, { size: 1, eightBit: false, smtputf8: true });
  assert.ok('refuse' in refused && /SMTPUTF8/.test(refused.refuse));
});

test('dot-stuffing and line ends', () => {
  const cases: [string, string][] = [
    ['a\r\nb\r\n', 'a\r\nb\r\n.\r\n'],
    ['a\nb', 'a\r\nb\r\n.\r\n'],
    ['.hidden\r\n..two\r\nx.y\r\n', '..hidden\r\n...two\r\nx.y\r\n.\r\n'],
    ['\r\n.\r\n', '\r\n..\r\n.\r\n'],
    ['bare\rcr', 'bare\r\ncr\r\n.\r\n'],
    ['', '.\r\n'],
  ];
  for (const [input, expect] of cases) assert.equal(dotStuff(Buffer.from(input)).toString('latin1'), expect, JSON.stringify(input));
  const eight = Buffer.from([0xc3, 0xa9, 0x0a]);
  assert.deepEqual([...dotStuff(eight)], [0xc3, 0xa9, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a]);
  const big = Buffer.from('.\n'.repeat(10000));
  assert.equal(dotStuff(big).length, 10000 * 4 + 3);
});
