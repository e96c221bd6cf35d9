import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { checkKey, dkimKeyPath, dkimRecord, generateDkimKey, loadDkimKeys, validSelector, writeNewKey, zoneLine } from '../../../src/dkim/keys.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('rsa-2048 and ed25519 keys with their RFC 6376 / RFC 8463 records', () => {
  const rsa = generateDkimKey('rsa-2048');
  assert.equal(createPrivateKey(rsa).asymmetricKeyDetails?.modulusLength, 2048);
  const rsaRecord = dkimRecord(rsa);
  assert.match(rsaRecord, /^v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA[A-Za-z0-9+/=]+$/);
  const spki = Buffer.from(rsaRecord.split('p=')[1] ?? '', 'base64');
  assert.equal(createPublicKey({ key: spki, format: 'der', type: 'spki' }).asymmetricKeyType, 'rsa');

  const ed = generateDkimKey('ed25519');
  const edRecord = dkimRecord(ed);
  assert.match(edRecord, /^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
  const raw = Buffer.from(edRecord.split('p=')[1] ?? '', 'base64');
  assert.equal(raw.length, 32, 'RFC 8463 §4.2: the bare 32-byte key, not a SubjectPublicKeyInfo');
  assert.ok(createPublicKey(createPrivateKey(ed)).export({ format: 'der', type: 'spki' }).subarray(-32).equals(raw));
});

test('zoneLine splits long records into 255-byte strings', () => {
  const record = `v=DKIM1; k=rsa; p=${'A'.repeat(400)}`;
  const line = zoneLine('example.test', 's1', record);
  assert.match(line, /^s1\._domainkey\.example\.test\. IN TXT \( "/);
  const strings = [...line.matchAll(/"([^"]*)"/g)].map((m) => m[1] ?? '');
  assert.ok(strings.every((s) => s.length <= 255));
  assert.equal(strings.join(''), record);
  assert.equal(zoneLine('example.test', 's1', 'v=DKIM1; k=ed25519; p=x'), 's1._domainkey.example.test. IN TXT "v=DKIM1; k=ed25519; p=x"');
});

test('validSelector and checkKey', () => {
  for (const s of ['s1', 's2026', 'mail.2026-01', 'a']) assert.equal(validSelector(s), true, s);
  for (const s of ['', '-s', 's_1', 's..1', 'S1', 'a/b', '../x']) assert.equal(validSelector(s), false, s);
  assert.deepEqual(checkKey(generateDkimKey('ed25519')), { ok: true, algorithm: 'ed25519-sha256' });
  const small = generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  assert.match((checkKey(small) as { reason: string }).reason, /512 bits/);
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  assert.match((checkKey(ec) as { reason: string }).reason, /RSA or Ed25519/);
  assert.match((checkKey('garbage') as { reason: string }).reason, /not a PEM private key/);
});

test('writeNewKey (0600, never over an existing key) and loadDkimKeys naming every problem', { timeout: 10_000 }, async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'sealpost-dkim-'));
  dirs.push(dataDir);
  const file = dkimKeyPath(dataDir, 'example.test', 's1');
  assert.equal(file, path.join(dataDir, 'dkim', 'example.test', 's1.pem'));
  const pem = generateDkimKey('ed25519');
  await writeNewKey(file, pem, false);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  await assert.rejects(writeNewKey(file, generateDkimKey('ed25519'), false), { code: 'EEXIST' });
  assert.equal(await readFile(file, 'utf8'), pem);

  const keys = await loadDkimKeys(dataDir, [{ domain: 'example.test', selectors: ['s1'] }]);
  assert.deepEqual(
    keys.map((k) => [k.domain, k.selector, k.algorithm]),
    [['example.test', 's1', 'ed25519-sha256']],
  );

  await writeFile(dkimKeyPath(dataDir, 'example.test', 'bad'), 'not a key');
  await assert.rejects(
    loadDkimKeys(dataDir, [
      { domain: 'example.test', selectors: ['s1', 'gone', 'bad'] },
      { domain: 'other.test', selectors: ['s1'] },
    ]),
    (err: Error) => {
      assert.match(
        err.message,
        /example\.test selector gone: cannot read .*gone\.pem: ENOENT; create it with: sealpost dkim keygen --domain example\.test --selector gone/,
      );
      assert.match(err.message, /example\.test selector bad: .*bad\.pem is not a PEM private key/);
      assert.match(err.message, /other\.test selector s1: cannot read/);
      return true;
    },
  );
});
