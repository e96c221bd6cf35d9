import assert from 'node:assert/strict';
import { test } from 'node:test';
import { choosePolicy, tableLevel } from '../../../src/tls-policy/policy.ts';

const table = { 'example.org': 'verify', '.example.net': 'encrypt', 'legacy.example': 'none', '.sub.example.net': 'may' } as const;

test('table lookup: exact domain, then .parent from the closest, table', () => {
  const cases: [string, string | undefined][] = [
    ['example.org', 'verify'],
    ['EXAMPLE.ORG', 'verify'],
    ['mx.example.org', undefined],
    ['example.net', undefined],
    ['a.example.net', 'encrypt'],
    ['a.b.example.net', 'encrypt'],
    ['x.sub.example.net', 'may'],
    ['legacy.example', 'none'],
    ['other.test', undefined],
  ];
  for (const [domain, expect] of cases) assert.equal(tableLevel(domain, table), expect, domain);
});

test('precedence: table, then MTA-STS enforce, then tls_default', () => {
  const enforce = { id: '1', mode: 'enforce' as const, mx: ['mx.sts.test'], maxAge: 60 };
  const testing = { ...enforce, mode: 'testing' as const };
  const none = { ...enforce, mode: 'none' as const };
  assert.deepEqual(choosePolicy('example.org', table, enforce, 'may'), { level: 'verify', source: 'table', sts: enforce });
  assert.deepEqual(choosePolicy('sts.test', table, enforce, 'may'), { level: 'verify', source: 'mta-sts', sts: enforce });
  assert.deepEqual(choosePolicy('sts.test', table, testing, 'may'), { level: 'may', source: 'default', sts: testing });
  assert.deepEqual(choosePolicy('sts.test', table, none, 'encrypt'), { level: 'encrypt', source: 'default' });
  assert.deepEqual(choosePolicy('plain.test', table, undefined, 'may'), { level: 'may', source: 'default' });
  assert.deepEqual(choosePolicy('legacy.example', table, enforce, 'verify'), { level: 'none', source: 'table', sts: enforce });
});
