// The self-signed certificate of last resort: what it is, where it is kept, when it is replaced.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ensureSelfSigned, selfSignedDir, selfSignedVerdict } from '../../../src/tls/self-signed.ts';
import { selfSignedCert } from '../../helpers/certs.ts';
import { captureLog } from '../../helpers/log.ts';

const DAY = 86_400_000;
const hostname = 'mx.example.test';
const now = Date.UTC(2030, 0, 1);
let root: string;

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'sealpost-selfsigned-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('selfSignedVerdict', { timeout: 20_000 }, () => {
  test('table', async () => {
    const good = await selfSignedCert({ names: [hostname], notBefore: new Date(now - DAY), notAfter: new Date(now + 365 * DAY) });
    const other = await selfSignedCert({ names: ['other.test'], notBefore: new Date(now - DAY), notAfter: new Date(now + 365 * DAY) });
    const cases: [string, { certPem: string; keyPem: string } | undefined, number, RegExp | 'reuse'][] = [
      ['nothing kept', undefined, now, /no certificate kept/],
      ['a good one', { certPem: good.certPem, keyPem: good.keyPem }, now, 'reuse'],
      ['31 days left', { certPem: good.certPem, keyPem: good.keyPem }, now + 334 * DAY, 'reuse'],
      ['29 days left', { certPem: good.certPem, keyPem: good.keyPem }, now + 336 * DAY, /within 30 days/],
      ['expired', { certPem: good.certPem, keyPem: good.keyPem }, now + 400 * DAY, /within 30 days/],
      ['the clock went back', { certPem: good.certPem, keyPem: good.keyPem }, now - 3 * DAY, /not valid until/],
      ['another hostname', { certPem: other.certPem, keyPem: other.keyPem }, now, /is for other\.test, not mx\.example\.test/],
      ['key and cert do not match', { certPem: good.certPem, keyPem: other.keyPem }, now, /unusable: the private key does not belong/],
      ['garbage', { certPem: 'x', keyPem: 'y' }, now, /unusable: no PEM certificate/],
    ];
    for (const [name, material, at, expected] of cases) {
      const verdict = selfSignedVerdict(material, hostname, at);
      if (expected === 'reuse') assert.deepEqual(verdict, { reuse: true }, name);
      else {
        assert.ok(!verdict.reuse, name);
        assert.match(verdict.why, expected, name);
      }
    }
  });
});

describe('ensureSelfSigned', { timeout: 60_000 }, () => {
  test('first start generates ECDSA P-256 for hostname, kept with tight modes; later starts reuse it', async () => {
    const dir = selfSignedDir(path.join(root, 'data'));
    assert.equal(dir, path.join(root, 'data', 'certs', 'self-signed'));
    const { log, records } = captureLog();

    const first = await ensureSelfSigned({ dir, hostname, now, log });
    assert.ok(first.ok);
    assert.equal(first.generated, true);
    const cert = new X509Certificate(first.material.certPem);
    assert.equal(cert.subjectAltName, 'DNS:mx.example.test');
    assert.equal(cert.subject, 'CN=mx.example.test');
    assert.equal(cert.issuer, cert.subject);
    assert.equal(cert.publicKey.asymmetricKeyType, 'ec');
    assert.equal(cert.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.ok(cert.verify(cert.publicKey), 'self-signed');
    assert.ok(cert.validToDate.getTime() - now >= 364 * DAY && cert.validToDate.getTime() - now <= 366 * DAY);
    assert.ok(cert.validFromDate.getTime() <= now);
    assert.equal(cert.ca, false);

    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await stat(path.join(dir, 'key.pem'))).mode & 0o777, 0o600);
    assert.deepEqual((await readdir(dir)).sort(), ['cert.pem', 'key.pem'], 'no temporary files left behind');
    assert.equal(await readFile(path.join(dir, 'cert.pem'), 'utf8'), first.material.certPem);
    assert.equal(await readFile(path.join(dir, 'key.pem'), 'utf8'), first.material.keyPem);
    const generated = records.find((r) => r['action'] === 'generated');
    assert.equal(generated?.['event'], 'cert');
    assert.equal(generated?.['why'], 'no certificate kept yet');

    const second = await ensureSelfSigned({ dir, hostname, now: now + 100 * DAY, log });
    assert.ok(second.ok);
    assert.equal(second.generated, false);
    assert.deepEqual(second.material, first.material);
  });

  test('replaced when expiring, for another hostname, or damaged', async () => {
    const dir = path.join(root, 'replace');
    const { log } = captureLog();
    const first = await ensureSelfSigned({ dir, hostname, now, log });
    assert.ok(first.ok);

    const expiring = await ensureSelfSigned({ dir, hostname, now: now + 340 * DAY, log });
    assert.ok(expiring.ok && expiring.generated);
    assert.notEqual(expiring.material.certPem, first.material.certPem);

    const renamed = await ensureSelfSigned({ dir, hostname: 'mail.example.test', now: now + 340 * DAY, log });
    assert.ok(renamed.ok && renamed.generated);
    assert.equal(new X509Certificate(renamed.material.certPem).subjectAltName, 'DNS:mail.example.test');

    await writeFile(path.join(dir, 'cert.pem'), 'not a certificate');
    const repaired = await ensureSelfSigned({ dir, hostname: 'mail.example.test', now: now + 340 * DAY, log });
    assert.ok(repaired.ok && repaired.generated);
    assert.equal(await readFile(path.join(dir, 'cert.pem'), 'utf8'), repaired.material.certPem);
  });

  test('a directory that cannot be created is a failure value, not a throw', async () => {
    const blocker = path.join(root, 'a-file');
    await writeFile(blocker, '');
    const { log } = captureLog();
    const result = await ensureSelfSigned({ dir: path.join(blocker, 'certs'), hostname, now, log });
    assert.ok(!result.ok);
    assert.match(result.reason, /could not store the self-signed certificate in .*a-file\/certs/);
  });
});
