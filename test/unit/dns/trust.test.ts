import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adTrust, isLoopback } from '../../../src/dns/trust.ts';
import { describeProbe, judgeProbe } from '../../../src/dns/validation-probe.ts';
import type { WireOutcome } from '../../../src/dns/wire-client.ts';

test('the AD bit is believed from loopback resolvers, or elsewhere only with trust_ad', () => {
  const cases: [host: string, trustAd: boolean, trusted: boolean][] = [
    ['127.0.0.1', false, true],
    ['127.0.0.53', false, true],
    ['::1', false, true],
    ['0:0:0:0:0:0:0:1', false, true],
    ['::ffff:127.0.0.1', false, true],
    ['192.0.2.53', false, false],
    ['10.0.0.1', false, false],
    ['2001:db8::53', false, false],
    ['::ffff:192.0.2.53', false, false],
    ['128.0.0.1', false, false],
    ['192.0.2.53', true, true],
    ['2001:db8::53', true, true],
    ['127.0.0.1', true, true],
    // Not an address (a name in a hand-made list): never loopback.
    ['localhost', false, false],
  ];
  for (const [host, trustAd, trusted] of cases) assert.equal(adTrust(host, trustAd).trusted, trusted, `${host} trust_ad=${trustAd}`);
  assert.match(adTrust('192.0.2.53', false).why, /not on loopback.*trust_ad = true/);
  assert.match(adTrust('192.0.2.53', true).why, /trust_ad = true/);
  assert.match(adTrust('::1', false).why, /loopback/);
});

test('loopback is 127.0.0.0/8 and ::1', () => {
  assert.equal(isLoopback('127.255.255.254'), true);
  assert.equal(isLoopback('::2'), false);
  assert.equal(isLoopback(''), false);
});

test('the start-up probe believes a validating resolver only on loopback or with trust_ad', () => {
  const validated = (host: string): WireOutcome => ({
    kind: 'response',
    rcode: 'NOERROR',
    server: { host, port: 53 },
    tcp: false,
    response: {
      type: 'response',
      id: 1,
      flags: 0x8000 | 0x0020,
      flag_qr: true,
      flag_aa: false,
      flag_tc: false,
      flag_rd: true,
      flag_ra: true,
      flag_z: false,
      flag_ad: true,
      flag_cd: false,
    },
  });
  const remote = { host: '192.0.2.53', port: 53 };
  const untrusted = judgeProbe(remote, validated(remote.host), false);
  assert.equal(untrusted.validating, false);
  assert.match(describeProbe(untrusted), /^DNSSEC validation: no \(resolver 192\.0\.2\.53 is not on loopback.*trust_ad = true/);
  assert.equal(judgeProbe(remote, validated(remote.host), true).validating, true);
  assert.match(describeProbe(judgeProbe({ host: '::1', port: 53 }, validated('::1'), false)), /^DNSSEC validation: yes \(resolver \[::1\]:53 validates/);
  assert.match(judgeProbe(remote, { kind: 'timeout', detail: 'no answer within 3000 ms' }, true).why, /did not answer the root DNSKEY query: no answer/);
});
