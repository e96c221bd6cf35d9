import assert from 'node:assert/strict';
import { test } from 'node:test';
import { adTrust, isLoopback } from '../../../src/dns/trust.ts';

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
