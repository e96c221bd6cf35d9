import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explainDane } from '../../../src/dane/explain.ts';

test('queue show explains a hop by its DANE facts, table', () => {
  const hash = 'ab'.repeat(32);
  const cases: [Parameters<typeof explainDane>[0], string, RegExp][] = [
    [{ tlsa: 1, usable: 1, matched: '3 1 1', error: null }, 'delivered', /^authenticated by DANE: .* matches its TLSA record 3 1 1$/],
    [
      { tlsa: 1, usable: 1, matched: null, error: `the TLSA record 3 1 1 ${hash} matches no certificate the server sent` },
      'transient',
      new RegExp(
        `^the MX host's TLSA record 3 1 1 ${hash} matches no certificate it sent; its operator rotated the key \\(or certificate\\) without updating DNS`,
      ),
    ],
    [
      { tlsa: 0, usable: 0, matched: null, error: 'TLSA lookup failed: _25._tcp.mx.x.test TLSA: DNS server failure (SERVFAIL)' },
      'transient',
      /bogus .* never sent in plaintext/,
    ],
    [
      { tlsa: 1, usable: 0, matched: null, error: 'no usable TLSA record for mx.x.test (1 1 1: …)' },
      'delivered',
      /^the MX host publishes only unusable TLSA records/,
    ],
    [{ tlsa: 0, usable: 0, matched: null, error: 'DANE off: resolver 127.0.0.1:53 does not validate' }, 'delivered', /^DANE not used: DANE off/],
  ];
  for (const [facts, result, want] of cases) assert.match(explainDane(facts, result), want);
});
