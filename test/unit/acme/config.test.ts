// [acme] and listen.acme_http in the config: defaults, normalization, problems with key paths.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../../src/config/schema.ts';

const base = { hostname: 'mx.example.test', data_dir: '/var/lib/sealpost', domain: [{ name: 'example.test' }] };

function problems(raw: Record<string, unknown>): string[] {
  const r = validateConfig({ ...base, ...raw }, '/etc/sealpost');
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
}

describe('[acme] config', { timeout: 5000 }, () => {
  it("defaults: disabled, Let's Encrypt, ECDSA, port 80 on both families", () => {
    const r = validateConfig(base, '/etc/sealpost');
    assert.ok(r.ok);
    assert.deepEqual(r.config.acme, {
      enabled: false,
      directory: 'https://acme-v02.api.letsencrypt.org/directory',
      email: '',
      names: [],
      keyType: 'ecdsa-p256',
      caFile: '',
      challenge: 'http-01',
      reuseKey: true,
      rolloverAfterMs: 2 * 86_400_000,
    });
    assert.deepEqual(r.config.listen.acmeHttp, [
      { host: '0.0.0.0', port: 80 },
      { host: '::', port: 80 },
    ]);
  });

  it('reuse_key and rollover_after: read, and wrong values named with the fix', () => {
    const r = validateConfig({ ...base, acme: { reuse_key: false, rollover_after: '3h' } }, '/etc/sealpost');
    assert.ok(r.ok);
    assert.equal(r.config.acme.reuseKey, false);
    assert.equal(r.config.acme.rolloverAfterMs, 3 * 3_600_000);
    const wrong = problems({ acme: { reuse_key: 'yes', rollover_after: 'two days' } });
    assert.ok(
      wrong.some((p) => p.startsWith('acme.reuse_key: ')),
      wrong.join('\n'),
    );
    assert.ok(
      wrong.some((p) => /^acme\.rollover_after: "two days" is not a duration/.test(p)),
      wrong.join('\n'),
    );
  });

  it('normalizes names, drops the hostname and duplicates, resolves ca_file', () => {
    const r = validateConfig(
      {
        ...base,
        listen: { acme_http: ['127.0.0.1:8080'] },
        acme: {
          enabled: true,
          names: ['MTA-STS.Example.Test', 'mx.example.test', 'mta-sts.example.test'],
          key_type: 'rsa-2048',
          ca_file: 'pebble.pem',
          email: 'postmaster@example.test',
        },
      },
      '/etc/sealpost',
    );
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    assert.deepEqual(r.config.acme.names, ['mta-sts.example.test']);
    assert.equal(r.config.acme.keyType, 'rsa-2048');
    assert.equal(r.config.acme.caFile, '/etc/sealpost/pebble.pem');
    assert.deepEqual(r.config.listen.acmeHttp, [{ host: '127.0.0.1', port: 8080 }]);
    assert.ok(Object.isFrozen(r.config.acme.names));
  });

  const cases: { what: string; raw: Record<string, unknown>; expect: RegExp }[] = [
    { what: 'http directory', raw: { acme: { directory: 'http://ca.example/dir' } }, expect: /^acme\.directory: .*https:\/\// },
    { what: 'not a URL', raw: { acme: { directory: 'letsencrypt' } }, expect: /^acme\.directory: / },
    { what: 'bad email', raw: { acme: { email: 'postmaster' } }, expect: /^acme\.email: / },
    { what: 'wildcard name', raw: { acme: { names: ['*.example.test'] } }, expect: /^acme\.names\[0\]: .*DNS-01/ },
    { what: 'single-label name', raw: { acme: { names: ['localhost'] } }, expect: /^acme\.names\[0\]: / },
    { what: 'address literal', raw: { acme: { names: ['[192.0.2.1]'] } }, expect: /^acme\.names\[0\]: / },
    { what: 'unknown key type', raw: { acme: { key_type: 'ed25519' } }, expect: /^acme\.key_type: must be one of "ecdsa-p256", "rsa-2048"/ },
    { what: 'typo in a key', raw: { acme: { enabeld: true } }, expect: /^acme\.enabeld: unknown key; did you mean "enabled"\?/ },
    { what: 'enabled without a port-80 listener', raw: { listen: { acme_http: [] }, acme: { enabled: true } }, expect: /^listen\.acme_http: .*port 80/ },
    { what: 'bad acme_http address', raw: { listen: { acme_http: ['example.test:80'] } }, expect: /^listen\.acme_http\[0\]: / },
    { what: 'enabled is not a boolean', raw: { acme: { enabled: 'yes' } }, expect: /^acme\.enabled: must be true or false/ },
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
