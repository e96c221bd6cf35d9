import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classify } from '../../../src/dns/node-resolver.ts';
import { describeAnswer, isTemporary } from '../../../src/dns/resolver.ts';
import { fakeResolver } from './fake-resolver.ts';

test('c-ares error codes become typed answers', () => {
  const cases: [string, string][] = [
    ['ENOTFOUND', 'nxdomain'],
    ['ENODATA', 'nodata'],
    ['ESERVFAIL', 'servfail'],
    ['EREFUSED', 'servfail'],
    ['ETIMEOUT', 'timeout'],
    ['ECONNREFUSED', 'servfail'],
  ];
  for (const [code, kind] of cases) {
    const err = Object.assign(new Error(code), { code });
    assert.equal(classify(err, 'MX').kind, kind, code);
  }
});

test('temporary answers and their descriptions', () => {
  assert.equal(isTemporary({ kind: 'servfail', detail: 'SERVFAIL' }), true);
  assert.equal(isTemporary({ kind: 'timeout', detail: 'x' }), true);
  assert.equal(isTemporary({ kind: 'nxdomain' }), false);
  assert.match(describeAnswer('example.net', 'MX', { kind: 'nxdomain' }), /no such domain/);
  assert.match(describeAnswer('example.net', 'MX', { kind: 'servfail', detail: 'SERVFAIL' }), /server failure/);
});

test('the fake resolver answers from its map', async () => {
  const asked: string[] = [];
  const r = fakeResolver({ 'a.test': { A: ['192.0.2.1'], MX: [] }, 'b.test': { A: { kind: 'timeout', detail: 't' } } }, asked);
  assert.deepEqual(await r.resolve4('a.test'), { kind: 'records', records: ['192.0.2.1'] });
  assert.deepEqual(await r.resolveMx('a.test'), { kind: 'nodata' });
  assert.deepEqual(await r.resolve6('a.test'), { kind: 'nodata' });
  assert.deepEqual(await r.resolve4('nope.test'), { kind: 'nxdomain' });
  assert.equal((await r.resolve4('b.test')).kind, 'timeout');
  assert.deepEqual(asked.slice(0, 2), ['a.test A', 'a.test MX']);
});
