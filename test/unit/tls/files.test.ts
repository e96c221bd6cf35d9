// loadCertFiles: the operator's PEM files, or which file is wrong and what to do.
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadCertFiles } from '../../../src/tls/files.ts';
import { createCa, issueCert, selfSignedCert } from '../../helpers/certs.ts';

let dir: string;
const file = (name: string) => path.join(dir, name);

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sealpost-certfiles-'));
  const ca = await createCa('Files CA');
  const inter = await createCa('Files Intermediate', { issuer: ca });
  const leaf = await issueCert(inter, { names: ['mx.example.test'] });
  const other = await selfSignedCert({ names: ['other.test'] });
  await writeFile(file('fullchain.pem'), leaf.chainPem);
  await writeFile(file('privkey.pem'), leaf.keyPem, { mode: 0o600 });
  await writeFile(file('other-key.pem'), other.keyPem);
  await writeFile(file('empty.pem'), '');
  await mkdir(file('a-directory'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadCertFiles', { timeout: 20_000 }, () => {
  test('a chain and its key', async () => {
    const loaded = await loadCertFiles(file('fullchain.pem'), file('privkey.pem'));
    assert.ok(loaded.ok);
    assert.equal(loaded.material.certPem.match(/BEGIN CERTIFICATE/g)?.length, 2);
    assert.match(loaded.material.keyPem, /BEGIN PRIVATE KEY/);
  });

  const cases: [string, string, string, string, RegExp][] = [
    ['missing cert file', 'nope.pem', 'privkey.pem', 'nope.pem', /tls\.cert_file .*nope\.pem does not exist; fix the path, or remove cert_file and key_file/],
    ['missing key file', 'fullchain.pem', 'nope.pem', 'nope.pem', /tls\.key_file .*nope\.pem does not exist/],
    ['a directory', 'a-directory', 'privkey.pem', 'a-directory', /is a directory/],
    [
      'files swapped',
      'privkey.pem',
      'fullchain.pem',
      'privkey.pem',
      /holds no PEM certificate \(it holds a private key: are cert_file and key_file swapped\?\)/,
    ],
    ['empty cert file', 'empty.pem', 'privkey.pem', 'empty.pem', /holds no PEM certificate; point it at the full chain/],
    ['empty key file', 'fullchain.pem', 'empty.pem', 'empty.pem', /holds no PEM private key; point it at the key/],
    [
      'key of another certificate',
      'fullchain.pem',
      'other-key.pem',
      'other-key.pem',
      /other-key\.pem does not go with tls\.cert_file .*fullchain\.pem: the private key does not belong/,
    ],
  ];
  for (const [name, cert, key, blamed, reason] of cases) {
    test(name, async () => {
      const loaded = await loadCertFiles(file(cert), file(key));
      assert.ok(!loaded.ok);
      assert.equal(loaded.file, file(blamed));
      assert.match(loaded.reason, reason);
    });
  }

  test('an unreadable file', { skip: process.getuid?.() === 0 ? 'root reads every file' : false }, async () => {
    await writeFile(file('locked.pem'), 'x');
    await chmod(file('locked.pem'), 0o000);
    const loaded = await loadCertFiles(file('locked.pem'), file('privkey.pem'));
    assert.ok(!loaded.ok);
    assert.match(loaded.reason, /permission denied/);
  });
});
