// Certificates on a full disk: the daemon must still start (and answer 452 until there is room),
// so a self-signed certificate or an ACME account key that cannot be stored is used from memory,
// logged, and made again at the next start. Small tmpfs mounts (test/helpers/tmpfs.ts).
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { startAcme } from '../../src/acme/manager.ts';
import { createChallengeTable } from '../../src/acme/responder.ts';
import { validateConfig } from '../../src/config/schema.ts';
import { ensureSelfSigned, selfSignedDir } from '../../src/tls/self-signed.ts';
import { captureLog } from '../helpers/log.ts';
import { makeTempDir, removeTempDir } from '../helpers/tmp.ts';
import { fillUp, tmpfsMounts } from '../helpers/tmpfs.ts';

async function fullDataDir(t: Parameters<typeof tmpfsMounts>[0]): Promise<string> {
  const mounts = tmpfsMounts(t);
  const base = await makeTempDir('sealpost-certs-full-');
  t.after(() => removeTempDir(base));
  const dataDir = path.join(base, 'data');
  await mounts.mount(dataDir, '512k');
  await fillUp(path.join(dataDir, 'filler'));
  return dataDir;
}

test('self-signed certificate on a full disk: made, served from memory, nothing half-written left', { timeout: 30_000 }, async (t) => {
  const dataDir = await fullDataDir(t);
  const { log, records } = captureLog();
  const ensured = await ensureSelfSigned({ dir: selfSignedDir(dataDir), hostname: 'mx.example.test', now: Date.now(), log });
  assert.ok(ensured.ok, !ensured.ok ? ensured.reason : '');
  assert.equal(ensured.generated, true);
  assert.match(ensured.material.certPem, /BEGIN CERTIFICATE/);
  assert.ok(records.some((r) => r['action'] === 'not-stored'));
  assert.deepEqual(await readdir(selfSignedDir(dataDir)), [], 'no temp files left behind');
});

test('ACME account key on a full disk: the manager starts, the key is used from memory', { timeout: 30_000 }, async (t) => {
  const dataDir = await fullDataDir(t);
  const validated = validateConfig(
    {
      hostname: 'mx.example.test',
      data_dir: dataDir,
      listen: { smtp: ['127.0.0.1:2525'], acme_http: ['127.0.0.1:8080'] },
      // Never contacted: mode 'once' issues only when asked.
      acme: { enabled: true, directory: 'https://127.0.0.1:9/dir', email: 'postmaster@example.test' },
      domain: [{ name: 'example.test', mailboxes: ['alice'] }],
    },
    dataDir,
  );
  assert.ok(validated.ok, JSON.stringify(!validated.ok && validated.problems));
  const { log, records } = captureLog();
  const manager = await startAcme({ config: validated.config, challenges: createChallengeTable(), log, clock: { now: Date.now }, mode: 'once' });
  await manager.stop();
  assert.ok(
    records.some((r) => r['action'] === 'account-key-not-stored'),
    JSON.stringify(records),
  );
});
