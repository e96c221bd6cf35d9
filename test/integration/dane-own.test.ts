// TLSA for our own host against a real Pebble on loopback (under netless: HTTP-01 on port 80):
// `sealpost dane show` prints 3 1 1 of the served key, checked with openssl
// (x509 -pubkey | pkey -pubin -outform DER | sha256sum); renewals keep the key (reuse_key);
// `sealpost dane rollover` stages a next key, shown beside the current one; a renewal before
// rollover_after (an injected clock) keeps the old key, the first one after switches.
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cacheRoot, loadEntry } from '../../src/acme/cache.ts';
import { type AcmeManager, startAcme } from '../../src/acme/manager.ts';
import { createChallengeTable, startChallengeServer } from '../../src/acme/responder.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/types.ts';
import { captureLog } from '../helpers/log.ts';
import { type Pebble, startPebble } from '../helpers/pebble.ts';
import { run, runOk } from '../helpers/proc.ts';
import { writeSealpostConfig } from '../helpers/sealpost-config.ts';
import { tempDir } from '../helpers/tmp.ts';

const HOST = 'mx.dane.test';
// This file's own address for port 80 (Pebble's fake DNS answers it for every name).
const RESPONDER_IP = '127.0.0.14';
const SEALPOST = path.resolve(import.meta.dirname, '../../scripts/sealpost');
const DAY = 86_400_000;

describe('TLSA for our own host across ACME renewals (Pebble)', { timeout: 240_000 }, () => {
  let pebble: Pebble;
  let config: Config;
  let configFile: string;
  let manager: AcmeManager;
  /** The manager's clock runs this far ahead of the real one. */
  let ahead = 0;
  const logs = captureLog();
  const cleanups: (() => unknown)[] = [];
  const scope = { after: (fn: () => unknown) => void cleanups.push(fn) };

  before(async () => {
    pebble = await startPebble(scope, { httpPort: 80, answerIp: RESPONDER_IP });
    const dir = await tempDir(scope);
    configFile = path.join(dir, 'sealpost.toml');
    await writeSealpostConfig(configFile, {
      hostname: HOST,
      data_dir: path.join(dir, 'data'),
      listen: { smtp: ['127.0.0.1:2525'], acme_http: [`${RESPONDER_IP}:80`] },
      acme: { enabled: true, directory: pebble.directoryUrl, email: 'postmaster@dane.test', ca_file: pebble.httpsCaFile, rollover_after: '2d' },
      domain: [{ name: 'dane.test', mailboxes: ['alice'] }],
    });
    const loaded = await loadConfig(configFile);
    assert.ok(loaded.ok, JSON.stringify(!loaded.ok && loaded.problems));
    config = loaded.config;
    const challenges = createChallengeTable();
    const responder = await startChallengeServer(config.listen.acmeHttp, challenges, logs.log);
    scope.after(() => responder.close());
    manager = await startAcme({
      config,
      challenges,
      log: logs.log,
      clock: { now: () => Date.now() + ahead },
      mode: 'once',
      poll: { attempts: 30, minMs: 100, maxMs: 500 },
    });
    scope.after(() => manager.stop());
  });

  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  const sealpost = (args: string[]) => run(SEALPOST, [...args, '--config', configFile], { timeoutMs: 60_000 });

  /** The 3 1 1 data of each record `dane show` prints, in order. */
  async function shown(): Promise<string[]> {
    const result = await sealpost(['dane', 'show']);
    assert.equal(result.code, 0, result.stderr);
    for (const line of result.stdout.split('\n').filter((l) => l !== '' && !l.startsWith(';'))) {
      assert.match(line, new RegExp(`^_25\\._tcp\\.${HOST.replace(/\./g, '\\.')}\\. IN TLSA 3 1 1 [0-9a-f]{64}   ; `), line);
    }
    return [...result.stdout.matchAll(/ IN TLSA 3 1 1 ([0-9a-f]{64})/g)].map((m) => m[1] ?? '');
  }

  /** What openssl says of the certificate in force: sha256 of its SubjectPublicKeyInfo in DER. */
  async function opensslSpki(): Promise<string> {
    const entry = await loadEntry(cacheRoot(config.dataDir), HOST);
    assert.equal(entry.kind, 'found');
    const certPem = entry.kind === 'found' ? entry.entry.certPem : '';
    const out = await runOk('bash', ['-c', 'openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum'], {
      input: certPem,
      timeoutMs: 10_000,
    });
    return out.stdout.split(' ')[0] ?? '';
  }

  async function renew(): Promise<string> {
    const outcome = await manager.renewNow(true);
    assert.equal(outcome.kind, 'issued', JSON.stringify(outcome));
    return outcome.kind === 'issued' ? outcome.serial : '';
  }

  it('dane show prints 3 1 1 of the served key; renewals keep the key, the record stays valid', async () => {
    const first = await renew();
    const [current, ...rest] = await shown();
    assert.deepEqual(rest, []);
    assert.equal(current, await opensslSpki());
    const second = await renew();
    assert.notEqual(second, first, 'a new certificate');
    assert.deepEqual(await shown(), [current], 'the same key (acme.reuse_key = true by default)');
    assert.equal(await opensslSpki(), current);
    const json = JSON.parse((await sealpost(['dane', 'show', '--json'])).stdout) as { name: string; records: { key: string; data: string }[] };
    assert.equal(json.name, `_25._tcp.${HOST}.`);
    assert.deepEqual(
      json.records.map((r) => [r.key, r.data]),
      [['current', current]],
    );
  });

  it('dane rollover stages a next key; the first renewal after rollover_after switches to it', async () => {
    const [current] = await shown();
    const staged = await sealpost(['dane', 'rollover']);
    assert.equal(staged.code, 0, staged.stderr);
    assert.match(staged.stdout, /staged a new ecdsa-p256 key/);
    const both = await shown();
    assert.equal(both.length, 2);
    assert.equal(both[0], current);
    const next = both[1];
    assert.notEqual(next, current);
    assert.match((await sealpost(['dane', 'rollover'])).stdout, /already staged/, 'a second rollover keeps the staged key');
    assert.deepEqual(await shown(), both);

    // A renewal one day later: rollover_after (2d) has not passed, the old key stays.
    ahead += DAY;
    await renew();
    assert.equal(await opensslSpki(), current);
    assert.deepEqual(await shown(), both);

    // Past rollover_after: the renewal uses the staged key; only its record is left to publish.
    ahead += DAY + 1000;
    await renew();
    assert.equal(await opensslSpki(), next);
    assert.deepEqual(await shown(), [next]);
    await assert.rejects(access(path.join(cacheRoot(config.dataDir), HOST, 'next-key.json')), 'the staged key file is gone');
    const rolled = logs.records.filter((r) => r['event'] === 'cert' && r['action'] === 'renewed').map((r) => r['key']);
    assert.deepEqual(rolled.slice(-2), ['kept', 'rolled-over']);
  });
});
