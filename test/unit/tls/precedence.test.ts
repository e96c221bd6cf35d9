// Table tests for source precedence and the default certificate.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildIndex, type CertSource, compareEntries } from '../../../src/tls/precedence.ts';

interface Fake {
  id: string;
  source: CertSource;
  names: string[];
  notAfter: number;
}
const e = (id: string, source: CertSource, names: string[], notAfter = 1000): Fake => ({ id, source, names, notAfter });

describe('compareEntries', { timeout: 5000 }, () => {
  test('operator > acme > self-signed, then the later expiry', () => {
    const sorted = [e('s', 'self-signed', []), e('a-early', 'acme', [], 10), e('o', 'operator', []), e('a-late', 'acme', [], 20)].sort(compareEntries);
    assert.deepEqual(
      sorted.map((x) => x.id),
      ['o', 'a-late', 'a-early', 's'],
    );
  });
});

describe('buildIndex', { timeout: 5000 }, () => {
  const hostname = 'mx.example.test';
  const cases: { name: string; entries: Fake[]; byName: Record<string, string>; default: string | undefined }[] = [
    { name: 'empty', entries: [], byName: {}, default: undefined },
    {
      name: 'self-signed only',
      entries: [e('self', 'self-signed', ['mx.example.test'])],
      byName: { 'mx.example.test': 'self' },
      default: 'self',
    },
    {
      name: 'acme beats self-signed for the same name and becomes the default',
      entries: [e('self', 'self-signed', ['mx.example.test']), e('acme', 'acme', ['mx.example.test', 'mail.example.test'])],
      byName: { 'mx.example.test': 'acme', 'mail.example.test': 'acme' },
      default: 'acme',
    },
    {
      name: 'operator beats acme per name; names only acme has stay acme',
      entries: [e('acme', 'acme', ['mx.example.test', 'other.test']), e('op', 'operator', ['MX.Example.Test.'])],
      byName: { 'mx.example.test': 'op', 'other.test': 'acme' },
      default: 'op',
    },
    {
      name: 'an operator certificate that does not cover hostname is not the default',
      entries: [e('self', 'self-signed', ['mx.example.test']), e('op', 'operator', ['www.example.test'])],
      byName: { 'mx.example.test': 'self', 'www.example.test': 'op' },
      default: 'self',
    },
    {
      name: 'a wildcard covering hostname can be the default',
      entries: [e('self', 'self-signed', ['mx.example.test']), e('op', 'operator', ['*.example.test'])],
      byName: { 'mx.example.test': 'self', '*.example.test': 'op' },
      default: 'op',
    },
    {
      name: 'nothing covers hostname: the best entry overall, never none',
      entries: [e('acme', 'acme', ['a.test']), e('op', 'operator', ['b.test'])],
      byName: { 'a.test': 'acme', 'b.test': 'op' },
      default: 'op',
    },
    {
      name: 'same source: the later expiry wins',
      entries: [e('old', 'acme', ['mx.example.test'], 100), e('new', 'acme', ['mx.example.test'], 200)],
      byName: { 'mx.example.test': 'new' },
      default: 'new',
    },
    {
      name: 'unusable names are not indexed',
      entries: [e('x', 'acme', ['*.test', 'f*.example.test', 'mx.example.test'])],
      byName: { 'mx.example.test': 'x' },
      default: 'x',
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const index = buildIndex(c.entries, hostname);
      assert.deepEqual(Object.fromEntries([...index.byName].map(([name, entry]) => [name, entry.id])), c.byName);
      assert.equal(index.default?.id, c.default);
    });
  }
});
