import assert from 'node:assert/strict';
import { test } from 'node:test';
import { certNames, checkCertName, nameMatches } from '../../../src/tls-policy/identity.ts';

test('RFC 6125 name matching with one-label wildcards, table', () => {
  const cases: [string, string, boolean][] = [
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
  ];
  for (const [pattern, host, expect] of cases) assert.equal(nameMatches(pattern, host), expect, `${pattern} vs ${host}`);
});

test('the reason names what the certificate is valid for', () => {
  const names = { dnsNames: ['*.163.com', '163.com'] };
  assert.equal(checkCertName('163mx02.mxmail.netease.com', names), 'certificate is valid for *.163.com, 163.com, not 163mx02.mxmail.netease.com');
  assert.equal(checkCertName('mx.163.com', names), undefined);
  // RFC 6125 §6.4.4: CN only without DNS SANs.
  assert.equal(checkCertName('cn.test', { dnsNames: [], commonName: 'cn.test' }), undefined);
  assert.match(checkCertName('cn.test', { dnsNames: ['other.test'], commonName: 'cn.test' }) ?? '', /valid for other\.test, not cn\.test/);
  assert.match(checkCertName('x.test', { dnsNames: [] }) ?? '', /no DNS names/);
});

test("Node's subjectaltname string", () => {
  assert.deepEqual(certNames({ subjectaltname: 'DNS:a.test, DNS:*.b.test, IP Address:127.0.0.1', subject: { CN: 'a.test' } }), {
    dnsNames: ['a.test', '*.b.test'],
    commonName: 'a.test',
  });
  assert.deepEqual(certNames({ subjectaltname: 'DNS:"odd,name.test", DNS:c.test' }).dnsNames, ['odd,name.test', 'c.test']);
  assert.deepEqual(certNames({}).dnsNames, []);
});
