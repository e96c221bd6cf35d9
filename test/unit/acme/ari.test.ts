// ARI identifiers and renewalInfo parsing (RFC 9773 §4.1, §4.2).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ariCertId, ariCertIdFromHex, parseRenewalInfo, renewalInfoUrl } from '../../../src/acme/ari.ts';

describe('ariCertId', { timeout: 20_000 }, () => {
  it('matches the RFC 9773 §4.1 example', () => {
    assert.equal(ariCertIdFromHex('69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4', '87654321'), 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
    assert.equal(ariCertIdFromHex('69885B6B87464041E1B37B847BA0AE2CDE01C8D4', '00:87:65:43:21'), 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
  });

  it('reads AKI and serial from a real certificate', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sealpost-ari-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:P-256',
          '-nodes',
          '-keyout',
          path.join(dir, 'k.pem'),
          '-out',
          path.join(dir, 'c.pem'),
          '-subj',
          '/CN=x.example.test',
          '-set_serial',
          '0x87654321',
          '-days',
          '1',
        ],
        { stdio: 'ignore' },
      );
      const pem = readFileSync(path.join(dir, 'c.pem'), 'utf8');
      const aki = execFileSync('openssl', ['x509', '-in', path.join(dir, 'c.pem'), '-noout', '-ext', 'authorityKeyIdentifier'], { encoding: 'utf8' });
      const keyId = /([0-9A-F]{2}(:[0-9A-F]{2})+)/.exec(aki)?.[1] ?? '';
      assert.notEqual(keyId, '');
      assert.equal(ariCertId(new X509Certificate(pem).raw), ariCertIdFromHex(keyId, '87654321'));
      assert.match(ariCertId(new X509Certificate(pem).raw) ?? '', /\.AIdlQyE$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('returns undefined for garbage', () => {
    assert.equal(ariCertId(Buffer.from('not a certificate')), undefined);
    assert.equal(ariCertId(Buffer.from([0x30, 0x82, 0xff])), undefined);
  });
});

describe('parseRenewalInfo', { timeout: 5000 }, () => {
  it('accepts a window and an explanation', () => {
    const r = parseRenewalInfo({ suggestedWindow: { start: '2030-01-02T00:00:00Z', end: '2030-01-03T00:00:00Z' }, explanationURL: 'https://ca.example/why' });
    assert.deepEqual(r, {
      ok: true,
      window: { start: Date.parse('2030-01-02T00:00:00Z'), end: Date.parse('2030-01-03T00:00:00Z') },
      explanationUrl: 'https://ca.example/why',
    });
  });
  const bad: [string, unknown][] = [
    ['not an object', 'x'],
    ['no window', {}],
    ['bad times', { suggestedWindow: { start: 'yesterday', end: '2030-01-03T00:00:00Z' } }],
    ['reversed', { suggestedWindow: { start: '2030-01-03T00:00:00Z', end: '2030-01-02T00:00:00Z' } }],
  ];
  for (const [what, body] of bad) {
    it(`refuses: ${what}`, () => assert.equal(parseRenewalInfo(body).ok, false));
  }
  it('joins the URL', () => assert.equal(renewalInfoUrl('https://ca.example/renewal-info/', 'a.b'), 'https://ca.example/renewal-info/a.b'));
});
