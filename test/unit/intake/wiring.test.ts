// The intake's signing (intake/wiring.ts): DKIM keys read again while the daemon runs (SIGHUP, or a
// key another node wrote): new mail is signed with the key now on disk; a key gone missing keeps
// the keys in use.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import { dkimVerify } from 'mailauth';
import { validateConfig } from '../../../src/config/schema.ts';
import { dkimKeyPath, dkimRecord, generateDkimKey, writeNewKey } from '../../../src/dkim/keys.ts';
import { loadSigning, reloadDkim } from '../../../src/intake/wiring.ts';
import { captureLog } from '../../helpers/log.ts';
import { tempDir } from '../../helpers/tmp.ts';

test('reloadDkim: a key replaced on disk signs from then on; a missing one keeps the keys in use', { timeout: 20_000 }, async (t) => {
  const dataDir = await tempDir(t);
  const validated = validateConfig(
    {
      hostname: 'mx.example.test',
      data_dir: dataDir,
      listen: { smtp: ['127.0.0.1:2525'] },
      domain: [{ name: 'example.test', mailboxes: ['alice'], dkim_selectors: ['s1'] }],
    },
    dataDir,
  );
  assert.ok(validated.ok, JSON.stringify(!validated.ok && validated.problems));
  const config = validated.config;
  const file = dkimKeyPath(dataDir, 'example.test', 's1');
  const first = generateDkimKey('ed25519');
  await writeNewKey(file, first, false);
  const signing = await loadSigning(config, Date.now);
  const message = Buffer.from('From: alice@example.test\r\nTo: bob@elsewhere.test\r\nSubject: rotated\r\n\r\nbody\r\n');
  const verifiesWith = async (pem: string): Promise<string | undefined> => {
    const signed = await signing.signer.sign(message, 'example.test');
    assert.equal(signed.kind, 'signed');
    const resolver = async (name: string) => {
      if (name === 's1._domainkey.example.test') return [[dkimRecord(pem)]];
      throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' });
    };
    const verified = await dkimVerify(Buffer.concat([Buffer.from(signed.kind === 'signed' ? signed.headers : ''), message]), { resolver });
    return verified.results[0]?.status.result;
  };
  assert.equal(await verifiesWith(first), 'pass');

  const second = generateDkimKey('ed25519');
  await writeNewKey(file, second, true);
  const { log, records } = captureLog();
  await reloadDkim(signing, log);
  assert.equal(await verifiesWith(second), 'pass', 'signed with the key now on disk');
  assert.deepEqual(records.find((r) => r['state'] === 'dkim-reloaded')?.['keys'], ['example.test/s1']);

  await reloadDkim(signing, log);
  assert.equal(records.filter((r) => r['state'] === 'dkim-reloaded').length, 1, 'an unchanged key is not logged again');

  await rm(file);
  await reloadDkim(signing, log);
  assert.ok(
    records.some((r) => r['state'] === 'dkim-reload-failed'),
    'the missing key is logged',
  );
  assert.equal(await verifiesWith(second), 'pass', 'the key in use stays');
});
