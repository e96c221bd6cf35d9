// listen.https, [[domain]] mta_sts, [mta_sts] and acme.challenge in the config: defaults (the
// challenge follows the listeners asked for), problems with their key paths.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../../src/config/schema.ts';

const base = { hostname: 'mx.example.test', data_dir: '/var/lib/sealpost', domain: [{ name: 'example.test' }] };

function ok(raw: Record<string, unknown>) {
  const r = validateConfig({ ...base, ...raw }, '/etc/sealpost');
  assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
  return r.config;
}

function problems(raw: Record<string, unknown>): string[] {
  const r = validateConfig({ ...base, ...raw }, '/etc/sealpost');
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
}

describe('MTA-STS hosting config', { timeout: 5000 }, () => {
  it('defaults: no HTTPS listener, no policy, max_age one week, no extra MX', () => {
    const config = ok({});
    assert.deepEqual(config.listen.https, []);
    assert.equal(config.domains[0]?.mtaSts, 'none');
    assert.deepEqual(config.mtaSts, { extraMx: [], maxAgeSeconds: 604_800 });
  });

  it('reads the listener (port 443 by default), the mode, extra_mx and max_age', () => {
    const config = ok({
      listen: { https: ['0.0.0.0', '[::]:8443'] },
      domain: [{ name: 'example.test', mta_sts: 'enforce' }],
      mta_sts: { extra_mx: ['Backup.Example.Test', '*.example.net', 'mx.example.test'], max_age: '2w' },
    });
    assert.deepEqual(config.listen.https, [
      { host: '0.0.0.0', port: 443 },
      { host: '::', port: 8443 },
    ]);
    assert.equal(config.domains[0]?.mtaSts, 'enforce');
    assert.deepEqual(config.mtaSts, { extraMx: ['backup.example.test', '*.example.net'], maxAgeSeconds: 1_209_600 });
  });

  const challenges: [string, Record<string, unknown>, 'http-01' | 'tls-alpn-01', number][] = [
    ['nothing said: HTTP-01 on the default port 80', {}, 'http-01', 2],
    ['only https: TLS-ALPN-01, nothing on port 80', { listen: { https: ['0.0.0.0:443'] } }, 'tls-alpn-01', 0],
    ['both: HTTP-01', { listen: { https: ['0.0.0.0:443'], acme_http: ['0.0.0.0:80'] } }, 'http-01', 1],
    ['https and challenge = "http-01": the default port 80', { listen: { https: ['0.0.0.0:443'] }, acme: { challenge: 'http-01' } }, 'http-01', 2],
    [
      'acme_http listed and challenge = "tls-alpn-01"',
      { listen: { https: ['0.0.0.0:443'], acme_http: ['0.0.0.0:80'] }, acme: { challenge: 'tls-alpn-01' } },
      'tls-alpn-01',
      1,
    ],
  ];
  for (const [what, raw, challenge, port80] of challenges) {
    it(`acme.challenge: ${what}`, () => {
      const config = ok(raw);
      assert.equal(config.acme.challenge, challenge);
      assert.equal(config.listen.acmeHttp.length, port80);
    });
  }

  const cases: { what: string; raw: Record<string, unknown>; expect: RegExp }[] = [
    {
      what: 'an unknown mode',
      raw: { domain: [{ name: 'example.test', mta_sts: 'on' }] },
      expect: /^domain\[0\]\.mta_sts: must be one of "none", "testing", "enforce"/,
    },
    { what: 'tls-alpn-01 without https', raw: { acme: { enabled: true, challenge: 'tls-alpn-01' } }, expect: /^listen\.https: .*TLS-ALPN-01/ },
    { what: 'an unknown challenge', raw: { acme: { challenge: 'dns-01' } }, expect: /^acme\.challenge: must be one of/ },
    { what: 'a bad https address', raw: { listen: { https: ['example.test:443'] } }, expect: /^listen\.https\[0\]: / },
    { what: 'a bad extra_mx', raw: { mta_sts: { extra_mx: ['localhost'] } }, expect: /^mta_sts\.extra_mx\[0\]: / },
    { what: 'max_age not a duration', raw: { mta_sts: { max_age: '7 days' } }, expect: /^mta_sts\.max_age: .*duration/ },
    { what: 'max_age over a year', raw: { mta_sts: { max_age: '53w' } }, expect: /^mta_sts\.max_age: .*RFC 8461/ },
    { what: 'a typo in [mta_sts]', raw: { mta_sts: { maxage: '1w' } }, expect: /^mta_sts\.maxage: unknown key/ },
  ];
  for (const c of cases) {
    it(`refuses: ${c.what}`, () => {
      const found = problems(c.raw);
      assert.ok(
        found.some((p) => c.expect.test(p)),
        found.join('\n'),
      );
    });
  }
});

describe('MTA-STS hosting warnings', { timeout: 5000 }, () => {
  const warnings = (raw: Record<string, unknown>): string[] => {
    const r = validateConfig({ ...base, ...raw }, '/etc/sealpost');
    assert.ok(r.ok);
    return r.warnings.map((w) => `${w.path}: ${w.message}`);
  };
  const on = { domain: [{ name: 'example.test', mta_sts: 'testing' }] };
  it('a policy without the HTTPS listener', () => assert.match(warnings(on).join('\n'), /^domain\[0\]\.mta_sts: .*listen\.https is empty/));
  it('a policy without ACME', () => assert.match(warnings({ ...on, listen: { https: ['0.0.0.0:443'] } }).join('\n'), /\[acme\] is off/));
  it('none with both on', () =>
    assert.deepEqual(warnings({ ...on, listen: { https: ['0.0.0.0:443'] }, acme: { enabled: true, challenge: 'tls-alpn-01' } }), []));
});
