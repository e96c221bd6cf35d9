import assert from 'node:assert/strict';
import { test } from 'node:test';
import { daneStatus } from '../../../src/cli/status.ts';
import { adTrust } from '../../../src/dns/trust.ts';

const yes = { validating: true, why: 'resolver 127.0.0.1:53 validates' };

test('sealpost status: DANE on or off, and why, table', () => {
  // A validating resolver that is not on loopback, without trust_ad: its AD bit is not believed.
  const remote = { validating: false, why: adTrust('192.0.2.53', false).why };
  const cases: [string, ReturnType<typeof daneStatus>, boolean, RegExp][] = [
    ['default dane, validating', daneStatus(yes, 'dane', {}), true, /^outbound\.tls_default = "dane"$/],
    ['dane-only', daneStatus(yes, 'dane-only', {}), true, /"dane-only"/],
    ['resolver off loopback', daneStatus(remote, 'dane', {}), false, /^no DNSSEC validation: resolver 192\.0\.2\.53 is not on loopback.*trust_ad = true/],
    ['tls_default may, one entry asks', daneStatus(yes, 'may', { 'a.test': 'dane', 'b.test': 'verify' }), true, /^for 1 outbound\.tls_policy entry$/],
    ['tls_default may, no entry', daneStatus(yes, 'may', { 'b.test': 'verify' }), false, /no outbound\.tls_policy entry asks for dane/],
  ];
  for (const [name, got, on, why] of cases) {
    assert.equal(got.on, on, name);
    assert.match(got.why, why, name);
  }
});
