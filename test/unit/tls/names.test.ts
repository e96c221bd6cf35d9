// Table tests for RFC 6125 name matching and the SNI → certificate choice.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { certCovers, nameMatches, normalizeHostname, normalizePattern, pickEntry } from '../../../src/tls/names.ts';

describe('normalizeHostname', { timeout: 5000 }, () => {
  const cases: [string, string][] = [
    ['MX.Example.Test', 'mx.example.test'],
    ['mx.example.test.', 'mx.example.test'],
    [' mx.example.test ', 'mx.example.test'],
    ['bücher.example', 'xn--bcher-kva.example'],
    ['', ''],
    ['.', ''],
    ['127.0.0.1', ''],
    ['::1', ''],
    ['[2001:db8::1]', ''],
    ['a..b', ''],
    ['*.example.test', ''],
    ['a b.test', ''],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => assert.equal(normalizeHostname(input), expected));
  }
});

describe('normalizePattern', { timeout: 5000 }, () => {
  const cases: [string, string][] = [
    ['*.Example.Test', '*.example.test'],
    ['*.example.test.', '*.example.test'],
    ['*.test', ''], // a wildcard over a single label would cover a whole TLD
    ['f*.example.test', ''], // partial-label wildcards: RFC 9525 §6.3 forbids
    ['a.*.example.test', ''],
    ['*', ''],
    ['mx.example.test', 'mx.example.test'],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => assert.equal(normalizePattern(input), expected));
  }
});

describe('nameMatches / certCovers (RFC 6125 §6.4)', { timeout: 5000 }, () => {
  const cases: [pattern: string, host: string, expected: boolean][] = [
    ['mx.example.test', 'mx.example.test', true],
    ['MX.EXAMPLE.TEST', 'mx.example.test', true],
    ['mx.example.test.', 'mx.example.test', true],
    ['mx.example.test', 'MX.example.test.', true],
    ['*.example.test', 'a.example.test', true],
    ['*.example.test', 'A.EXAMPLE.TEST.', true],
    ['*.example.test', 'a.b.example.test', false],
    ['*.example.test', 'example.test', false],
    ['*.example.test', '.example.test', false],
    ['*.test', 'example.test', false],
    ['f*.example.test', 'foo.example.test', false],
    ['a.*.example.test', 'a.b.example.test', false],
    ['*.example.test', 'a.example.test.evil', false],
    ['mx.example.test', 'mx.example.tes', false],
    ['127.0.0.1', '127.0.0.1', false], // IP addresses are not DNS names (RFC 6125 §1.7.2)
    ['*.xn--bcher-kva.example', 'a.bücher.example', true],
    ['mx.example.test', '', false],
  ];
  for (const [pattern, host, expected] of cases) {
    test(`${pattern} vs ${JSON.stringify(host)} → ${expected}`, () => assert.equal(nameMatches(pattern, host), expected));
  }

  test('certCovers: any name of the certificate will do', () => {
    assert.equal(certCovers(['a.example.test', '*.other.test'], 'x.other.test'), true);
    assert.equal(certCovers(['a.example.test', '*.other.test'], 'other.test'), false);
    assert.equal(certCovers([], 'a.example.test'), false);
  });
});

describe('pickEntry', { timeout: 5000 }, () => {
  const index = {
    byName: new Map([
      ['mx.example.test', 'exact-mx'],
      ['*.example.test', 'wildcard'],
      ['mail.other.test', 'exact-other'],
      ['xn--bcher-kva.example', 'idn'],
    ]),
    default: 'default',
  };
  const cases: [servername: string | undefined | null, expected: string][] = [
    ['mx.example.test', 'exact-mx'], // exact beats the wildcard that also covers it
    ['a.example.test', 'wildcard'],
    ['a.b.example.test', 'default'], // the wildcard covers one label only
    ['example.test', 'default'],
    ['MAIL.Other.Test', 'exact-other'],
    ['mail.other.test.', 'exact-other'],
    ['bücher.example', 'idn'], // smtp-server hands SNICallback the U-label form
    ['xn--bcher-kva.example', 'idn'],
    ['unknown.test', 'default'],
    ['', 'default'],
    [undefined, 'default'],
    [null, 'default'],
    ['127.0.0.1', 'default'],
    ['::1', 'default'],
    ['*.example.test', 'default'], // a literal wildcard in SNI is not a host name
    ['test', 'default'],
  ];
  for (const [servername, expected] of cases) {
    test(`${JSON.stringify(servername)} → ${expected}`, () => assert.equal(pickEntry(servername, index), expected));
  }

  test('an empty index has nothing to give', () => {
    assert.equal(pickEntry('mx.example.test', { byName: new Map<string, string>(), default: undefined }), undefined);
  });
});
