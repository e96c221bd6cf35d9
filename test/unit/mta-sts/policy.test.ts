// The hosted MTA-STS policies: exact RFC 8461 text, parsed back by our own fetcher's parser, the
// id changing exactly with the policy, and the listener's answers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Config } from '../../../src/config/types.ts';
import { hostedPolicies, policyHosts, policyReply } from '../../../src/mta-sts/policy.ts';
import { parseStsPolicy, parseStsTxt } from '../../../src/tls-policy/mta-sts.ts';

type Slice = Pick<Config, 'hostname' | 'domains' | 'mtaSts'>;
const base: Slice = {
  hostname: 'mx.example.org',
  domains: [
    { name: 'example.org', mailboxes: ['a'], aliases: {}, catchAll: '', mtaSts: 'enforce' },
    { name: 'example.net', mailboxes: ['a'], aliases: {}, catchAll: '', mtaSts: 'testing' },
    { name: 'off.example', mailboxes: ['a'], aliases: {}, catchAll: '' },
    { name: 'none.example', mailboxes: ['a'], aliases: {}, catchAll: '', mtaSts: 'none' },
  ],
  mtaSts: { extraMx: ['backup.example.org'], maxAgeSeconds: 604_800 },
};

describe('hostedPolicies', () => {
  test('one policy per domain with mta_sts on, in RFC 8461 §3.2 syntax', { timeout: 5000 }, () => {
    const policies = hostedPolicies(base);
    assert.deepEqual(
      policies.map((p) => p.host),
      ['mta-sts.example.org', 'mta-sts.example.net'],
    );
    assert.deepEqual(policyHosts(base), ['mta-sts.example.org', 'mta-sts.example.net']);
    assert.equal(policies[0]?.text, 'version: STSv1\r\nmode: enforce\r\nmx: mx.example.org\r\nmx: backup.example.org\r\nmax_age: 604800\r\n');
    for (const p of policies) {
      assert.deepEqual(parseStsPolicy(p.text), { mode: p.mode, mx: ['mx.example.org', 'backup.example.org'], maxAge: 604_800 });
      assert.deepEqual(parseStsTxt([p.txt]), { id: p.id });
      assert.equal(p.txtName, `_mta-sts.${p.domain}`);
    }
  });

  test('the id changes exactly when the policy text does', { timeout: 5000 }, () => {
    const [a] = hostedPolicies(base);
    const same = hostedPolicies({ ...base, domains: [...base.domains] });
    assert.equal(same[0]?.id, a?.id, 'same policy, same id');
    const cases: Slice[] = [
      { ...base, hostname: 'mx2.example.org' },
      { ...base, mtaSts: { ...base.mtaSts, extraMx: [] } },
      { ...base, mtaSts: { ...base.mtaSts, maxAgeSeconds: 86_400 } },
      { ...base, domains: [{ name: 'example.org', mailboxes: [], aliases: {}, catchAll: '', mtaSts: 'testing' }] },
    ];
    for (const c of cases) assert.notEqual(hostedPolicies(c)[0]?.id, a?.id);
    // Two domains with the same policy share its id: it names the text, not the domain.
    assert.match(a?.id ?? '', /^[0-9a-f]{16}$/);
  });
});

describe('policyReply', () => {
  const policies = hostedPolicies(base);
  const cases: [string, string, string | undefined, string, number][] = [
    ['the policy', 'GET', 'mta-sts.example.org', '/.well-known/mta-sts.txt', 200],
    ['a port and case in Host', 'GET', 'MTA-STS.Example.NET:443', '/.well-known/mta-sts.txt', 200],
    ['HEAD', 'HEAD', 'mta-sts.example.org', '/.well-known/mta-sts.txt', 200],
    ['another path', 'GET', 'mta-sts.example.org', '/', 404],
    ['a domain without a policy', 'GET', 'mta-sts.off.example', '/.well-known/mta-sts.txt', 404],
    ['our hostname', 'GET', 'mx.example.org', '/.well-known/mta-sts.txt', 404],
    ['no Host', 'GET', undefined, '/.well-known/mta-sts.txt', 404],
    ['POST', 'POST', 'mta-sts.example.org', '/.well-known/mta-sts.txt', 405],
  ];
  for (const [what, method, host, path, status] of cases) {
    test(what, { timeout: 5000 }, () => assert.equal(policyReply(policies, method, host, path).status, status));
  }
  test('the body is the policy of that host', { timeout: 5000 }, () => {
    assert.equal(policyReply(policies, 'GET', 'mta-sts.example.net', '/.well-known/mta-sts.txt').body, policies[1]?.text);
  });
});
