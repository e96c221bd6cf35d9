// Table tests for RFC 6125 name matching, the names a certificate presents, and the SNI → certificate choice.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { describe, test } from 'node:test';
import { certCovers, certNames, checkCertName, nameMatches, normalizeHostname, normalizePattern, pickEntry, presentedNames } from '../../../src/tls/names.ts';
import { selfSignedCert } from '../../helpers/certs.ts';

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

// tls/names.ts and tls-policy/identity.ts each had a matcher; this is the one both now use.
// `before` is what identity.ts (outbound verify, MTA-STS mx and HTTPS, tls-check) answered
// where it differed; the unified matcher keeps tls/names.ts's stricter answer.
describe('the one matcher: every case of both old ones', { timeout: 5000 }, () => {
  const cases: [pattern: string, host: string, expected: boolean, before?: boolean][] = [
    // identity.ts's table
    ['mx.example.com', 'mx.example.com', true],
    ['MX.Example.COM', 'mx.example.com.', true],
    ['*.example.com', 'mx.example.com', true],
    ['*.example.com', 'a.b.example.com', false],
    ['*.example.com', 'example.com', false],
    ['*.163.com', '163mx02.mxmail.netease.com', false],
    ['*.mxmail.netease.com', '163mx02.mxmail.netease.com', true],
    ['f*.example.com', 'foo.example.com', false],
    ['*.com', 'example.com', false],
    ['mx.*.com', 'mx.example.com', false],
    ['', 'x.com', false],
    // where they differed
    ['*.xn--bcher-kva.example', 'a.bücher.example', true, false], // IDNA: U-label host, A-label certificate
    ['xn--bcher-kva.example', 'bücher.example', true, false],
    ['bücher.example', 'xn--bcher-kva.example', true, false],
    ['127.0.0.1', '127.0.0.1', false, true], // IP addresses are not DNS-IDs (RFC 6125 §1.7.2)
    ['::1', '::1', false, true],
    ['*.example.com', '*.example.com', false, true], // a "*" host is not a host name
    ['a..example.com', 'a..example.com', false, true], // empty label
    ['odd,name.test', 'odd,name.test', false, true], // a quoted SAN value is no host name
    [' mx.example.com ', 'mx.example.com', true, false], // surrounding blanks
    ['mx.example.com..', 'mx.example.com', false], // one trailing dot only, in both
    ['*.example.com.', 'a.example.com', true],
    ['**.example.com', 'a.example.com', false],
    ['*.*.example.com', 'a.b.example.com', false],
  ];
  for (const [pattern, host, expected, before] of cases) {
    const was = before === undefined ? '' : ` (identity.ts said ${before})`;
    test(`${JSON.stringify(pattern)} vs ${JSON.stringify(host)} → ${expected}${was}`, () => assert.equal(nameMatches(pattern, host), expected));
  }
});

describe('checkCertName: the reason names what the certificate is valid for', { timeout: 5000 }, () => {
  test('SANs, and the CN only without them (RFC 6125 §6.4.4)', () => {
    const names = { dnsNames: ['*.163.com', '163.com'] };
    assert.equal(checkCertName('163mx02.mxmail.netease.com', names), 'certificate is valid for *.163.com, 163.com, not 163mx02.mxmail.netease.com');
    assert.equal(checkCertName('mx.163.com', names), undefined);
    assert.equal(checkCertName('cn.test', { dnsNames: [], commonName: 'cn.test' }), undefined);
    assert.match(checkCertName('cn.test', { dnsNames: ['other.test'], commonName: 'cn.test' }) ?? '', /valid for other\.test, not cn\.test/);
    assert.match(checkCertName('x.test', { dnsNames: [] }) ?? '', /no DNS names/);
  });
});

describe('certNames', { timeout: 20_000 }, () => {
  test("Node's peer certificate: subjectaltname string, values maybe JSON-quoted", () => {
    assert.deepEqual(certNames({ subjectaltname: 'DNS:a.test, DNS:*.b.test, IP Address:127.0.0.1', subject: { CN: 'a.test' } }), {
      dnsNames: ['a.test', '*.b.test'],
      commonName: 'a.test',
    });
    assert.deepEqual(certNames({ subjectaltname: 'DNS:"odd,name.test", DNS:c.test' }).dnsNames, ['odd,name.test', 'c.test']);
    assert.deepEqual(certNames({}).dnsNames, []);
    assert.equal(certNames({ subject: { CN: ['first.test', 'Last.Test'] } }).commonName, 'last.test');
  });
  test('X509Certificate: SAN dNSNames, lowercased; IP SANs are not names', async () => {
    const cert = await selfSignedCert({ names: ['MX.Example.Test', 'a.test'], ips: ['192.0.2.1'] });
    assert.deepEqual(presentedNames(certNames(new X509Certificate(cert.certPem))), ['mx.example.test', 'a.test']);
  });
  test('X509Certificate: the subject CN only when there is no dNSName (RFC 6125 §6.4.4)', async () => {
    const cert = await selfSignedCert({ names: [], commonName: 'Legacy.Example.Test' });
    assert.deepEqual(presentedNames(certNames(new X509Certificate(cert.certPem))), ['legacy.example.test']);
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
