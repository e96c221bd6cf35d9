import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mxAllowed, parseStsPolicy, parseStsTxt } from '../../../src/tls-policy/mta-sts.ts';

test('_mta-sts TXT records, table', () => {
  const cases: [string[], string][] = [
    [['v=STSv1; id=20160831085700Z;'], 'id 20160831085700Z'],
    [['v=STSv1;id=abc'], 'id abc'],
    [['v=spf1 -all', 'v=STSv1; id=x1'], 'id x1'],
    [['v=STSv1; id=a', 'v=STSv1; id=b'], 'error'],
    [['v=STSv1;'], 'error'],
    [['v=STSv1; id=has-dash'], 'error'],
    [['v=STSv10; id=a'], 'error'],
    [[], 'error'],
  ];
  for (const [records, expect] of cases) {
    const r = parseStsTxt(records);
    assert.equal('id' in r ? `id ${r.id}` : 'error', expect, JSON.stringify(records));
  }
});

test('policy files, table', () => {
  const good = 'version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n';
  const cases: [string, string][] = [
    [good, 'enforce mail.example.com,*.example.net 604800'],
    ['version: STSv1\nmode: testing\nmx: MX.Example.com\nmax_age: 86400\n', 'testing mx.example.com 86400'],
    ['version: STSv1\nmode: none\nmax_age: 86400', 'none  86400'],
    ['version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 1\nextension: ignored', 'enforce a.test 1'],
    ['version: STSv2\nmode: enforce\nmx: a.test\nmax_age: 1', 'error version'],
    ['version: STSv1\nmode: block\nmx: a.test\nmax_age: 1', 'error mode'],
    ['version: STSv1\nmode: enforce\nmax_age: 1', 'error mx'],
    ['version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 31557601', 'error max_age'],
    ['version: STSv1\nmode: enforce\nmx: a.test\nmax_age: -1', 'error max_age'],
    ['version: STSv1\nmode: enforce\nmx: a.*.test\nmax_age: 1', 'error mx'],
    ['<html>not a policy</html>', 'error malformed'],
  ];
  for (const [text, expect] of cases) {
    const p = parseStsPolicy(text);
    const got = 'error' in p ? `error ${p.error}` : `${p.mode} ${p.mx.join(',')} ${p.maxAge}`;
    if (expect.startsWith('error')) assert.ok(got.startsWith('error') && got.includes(expect.slice(6)), `${JSON.stringify(text)} → ${got}`);
    else assert.equal(got, expect, JSON.stringify(text));
  }
});

test('MX hosts allowed by a policy (RFC 8461 §4.1)', () => {
  const policy = { mx: ['mail.example.com', '*.example.net'] };
  assert.equal(mxAllowed('mail.example.com', policy), true);
  assert.equal(mxAllowed('mx1.example.net', policy), true);
  assert.equal(mxAllowed('a.mx1.example.net', policy), false);
  assert.equal(mxAllowed('example.net', policy), false);
  assert.equal(mxAllowed('evil.example.org', policy), false);
});
