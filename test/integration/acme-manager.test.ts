// The ACME manager in-process against a real Pebble on loopback (run under netless: Pebble's
// HTTP-01 validation connects to port 80): issuance via HTTP-01 into a real CertStore served by
// a real node:tls server, restart reuse, forced renewal under a live session, a failing
// challenge, a corrupted cache entry.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { cacheRoot } from '../../src/acme/cache.ts';
import { type AcmeManager, startAcme } from '../../src/acme/manager.ts';
import { type ChallengeTable, createChallengeTable, startChallengeServer } from '../../src/acme/responder.ts';
import { readStatus } from '../../src/acme/status.ts';
import { validateConfig } from '../../src/config/schema.ts';
import type { Config } from '../../src/config/types.ts';
import { pickEntry } from '../../src/tls/names.ts';
import { startTls, type TlsService } from '../../src/tls/service.ts';
import { captureLog } from '../helpers/log.ts';
import { type Pebble, startPebble } from '../helpers/pebble.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

const HOST = 'mx.example.test';
// Every name resolves here (Pebble's fake DNS); this file's own address, so port 80 is never shared.
const RESPONDER_IP = '127.0.0.11';
const EXTRA = 'mail.example.test';

/** A challenge table that can be told to withhold answers (the responder then says 404). */
function switchableTable(): ChallengeTable & { withhold: boolean } {
  const inner = createChallengeTable();
  const table = {
    withhold: false,
    get: (token: string) => (table.withhold ? undefined : inner.get(token)),
    set: (token: string, value: string) => inner.set(token, value),
    delete: (token: string) => inner.delete(token),
  };
  return table;
}

/** Connects with SNI, verifying against `ca`; resolves with the socket once the handshake is done. */
function connect(port: number, servername: string, ca: string): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, ca, rejectUnauthorized: true }, () => resolve(socket));
    socket.once('error', reject);
  });
}

async function servedSerial(port: number, servername: string, ca: string): Promise<string> {
  const socket = await connect(port, servername, ca);
  const serial = socket.getPeerX509Certificate()?.serialNumber ?? '';
  socket.destroy();
  return serial;
}

describe('ACME manager against Pebble', { timeout: 180_000 }, () => {
  let pebble: Pebble;
  let root: string;
  let dataDir: string;
  let config: Config;
  let service: TlsService;
  let server: tls.Server;
  let port: number;
  const challenges = switchableTable();
  let responderClose: () => Promise<void>;
  const logs = captureLog();
  let manager: AcmeManager | undefined;

  const start = (log = logs.log, store = service.store): Promise<AcmeManager> =>
    startAcme({
      config,
      store,
      challenges,
      log,
      clock: { now: Date.now },
      poll: { attempts: 30, minMs: 100, maxMs: 500 },
      retry: { minBackoffMs: 3_600_000, maxBackoffMs: 6 * 3_600_000, maxRetryAfterMs: 86_400_000 },
    });

  // Cleanups registered by helpers, run by this suite's after() (hooks have no `after` of their own).
  const cleanups: (() => unknown)[] = [];
  const scope = { after: (fn: () => unknown) => void cleanups.push(fn) };

  before(async () => {
    pebble = await startPebble(scope, { httpPort: 80, answerIp: RESPONDER_IP });
    root = await pebble.rootPem();
    dataDir = await tempDir(scope);
    const validated = validateConfig(
      {
        hostname: HOST,
        data_dir: dataDir,
        listen: { smtp: ['127.0.0.1:2525'], acme_http: [`${RESPONDER_IP}:80`] },
        acme: { enabled: true, directory: pebble.directoryUrl, email: 'postmaster@example.test', names: [EXTRA], ca_file: pebble.httpsCaFile },
        domain: [{ name: 'example.test', mailboxes: ['alice'] }],
      },
      dataDir,
    );
    assert.ok(validated.ok, JSON.stringify(!validated.ok && validated.problems));
    config = validated.config;
    service = await startTls(config, logs.log, Date.now);
    server = tls.createServer({ SNICallback: (name, cb) => cb(null, pickEntry(name, service.store.current())?.context) }, (socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
    const responder = await startChallengeServer(config.listen.acmeHttp, challenges, logs.log);
    responderClose = responder.close;
  });

  after(async () => {
    await manager?.stop();
    service?.stop();
    server?.close();
    await responderClose?.();
    for (const fn of cleanups.reverse()) await fn();
  });

  it('serves the self-signed certificate, then the one issued via HTTP-01, without restarting the listener', async () => {
    const before = service.store.current().default;
    assert.equal(before?.source, 'self-signed');
    manager = await start();
    await waitFor(() => service.store.current().entries.some((e) => e.source === 'acme'), { what: 'an acme certificate in the store', timeoutMs: 60_000 });
    for (const name of [HOST, EXTRA]) {
      const socket = await connect(port, name, root);
      assert.ok(socket.authorized, `${name}: ${String(socket.authorizationError)}`);
      socket.destroy();
    }
    assert.ok(
      logs.records.some((r) => r['action'] === 'challenge-served'),
      'Pebble fetched the HTTP-01 response',
    );
    const cache = cacheRoot(dataDir);
    assert.equal((await stat(cache)).mode & 0o777, 0o700);
    assert.equal((await stat(path.join(cache, 'account.key'))).mode & 0o777, 0o600);
    const meta = JSON.parse(await readFile(path.join(cache, HOST, 'meta.json'), 'utf8')) as { keyFile: string; names: string[] };
    assert.deepEqual(meta.names, [HOST, EXTRA]);
    assert.equal((await stat(path.join(cache, HOST, meta.keyFile))).mode & 0o777, 0o600);
    const status = await readStatus(cache);
    assert.equal(status?.certificates[0]?.failures, 0);
    assert.ok(status?.certificates[0]?.nextRenewalAt);
  });

  it('a restart reuses the account and the certificate: no registration, no order', async () => {
    const serial = await servedSerial(port, HOST, root);
    const accountJson = await readFile(path.join(cacheRoot(dataDir), 'account.json'), 'utf8');
    await manager?.stop();
    const second = captureLog();
    const fresh = await startTls(config, second.log, Date.now);
    manager = await start(second.log, fresh.store);
    const entry = fresh.store.current().entries.find((e) => e.source === 'acme');
    assert.ok(entry, 'the cached certificate is in the new store at once');
    assert.equal(new X509Certificate(entry.material.certPem).serialNumber, serial);
    await manager.renewNow(false).then((o) => assert.equal(o.kind, 'not-due'));
    assert.equal(
      second.records.filter((r) => r['action'] === 'account-registered' || r['action'] === 'ordering').length,
      0,
      'no account registered, no order sent',
    );
    assert.equal(await readFile(path.join(cacheRoot(dataDir), 'account.json'), 'utf8'), accountJson);
    fresh.stop();
    await manager.stop();
    manager = await start();
  });

  it('a forced renewal swaps the certificate while a session opened before stays up', async () => {
    const oldSerial = await servedSerial(port, HOST, root);
    const session = await connect(port, HOST, root);
    const outcome = await manager!.renewNow(true);
    assert.equal(outcome.kind, 'issued', JSON.stringify(outcome));
    const newSerial = await servedSerial(port, HOST, root);
    assert.notEqual(newSerial, oldSerial);
    assert.equal(outcome.kind === 'issued' && outcome.serial, newSerial);
    // The old session still works (echo server) and still has the old certificate.
    const echoed = new Promise<string>((resolve) => session.once('data', (b: Buffer) => resolve(b.toString())));
    session.write('still here\n');
    assert.equal(await echoed, 'still here\n');
    assert.equal(session.getPeerX509Certificate()?.serialNumber, oldSerial);
    session.destroy();
    assert.ok(logs.records.some((r) => r['action'] === 'renewed' && r['serial'] === newSerial && r['replacedSerial'] === oldSerial));
  });

  it('a failing challenge leaves the old certificate serving, logs why, and is retried on schedule', async (t) => {
    // A manager with a short backoff, so the scheduled retry can be watched happening.
    await manager?.stop();
    const retryLogs = captureLog();
    manager = await startAcme({
      config,
      store: service.store,
      challenges,
      log: retryLogs.log,
      clock: { now: Date.now },
      poll: { attempts: 30, minMs: 100, maxMs: 500 },
      retry: { minBackoffMs: 3000, maxBackoffMs: 60_000, maxRetryAfterMs: 60_000 },
    });
    const serial = await servedSerial(port, HOST, root);
    challenges.withhold = true;
    let outcome: Awaited<ReturnType<typeof manager.renewNow>>;
    try {
      outcome = await manager.renewNow(true);
    } finally {
      challenges.withhold = false;
    }
    assert.equal(outcome.kind, 'failed');
    assert.match(outcome.kind === 'failed' ? outcome.reason : '', /http-01 challenge for (mx|mail)\.example\.test failed: .*404/);
    assert.equal(await servedSerial(port, HOST, root), serial, 'the old certificate keeps serving');
    const failed = retryLogs.records.find((r) => r['action'] === 'failed');
    assert.ok(failed, 'the failure is logged');
    assert.match(String(failed['error']), /http-01 challenge/);
    t.diagnostic(`logged: ${String(failed['error'])}`);
    const status = await readStatus(cacheRoot(dataDir));
    const cert = status?.certificates[0];
    assert.equal(cert?.failures, 1);
    assert.match(cert?.lastError ?? '', /404/);
    const retry = Date.parse(String(failed['nextAttemptAt']));
    assert.ok(retry >= Date.now() + 1000, `retry scheduled after a backoff: ${String(failed['nextAttemptAt'])}`);
    assert.equal(cert?.nextCheckAt, failed['nextAttemptAt'], 'the next check is the retry');
    // The responder answers again: the retry happens by itself, no operator needed.
    const renewed = await waitFor(() => retryLogs.records.find((r) => r['action'] === 'renewed'), {
      what: 'the scheduled retry to succeed',
      timeoutMs: 30_000,
    });
    assert.ok(Date.parse(String(renewed['time'])) >= retry - 50, 'not before the scheduled time');
    assert.notEqual(await servedSerial(port, HOST, root), serial);
    assert.equal((await readStatus(cacheRoot(dataDir)))?.certificates[0]?.failures, 0);
  });

  it('key_type = "rsa-2048" gets an RSA certificate', async () => {
    const rsaDir = await tempDir(scope);
    const validated = validateConfig(
      {
        hostname: 'rsa.example.test',
        data_dir: rsaDir,
        listen: { acme_http: [`${RESPONDER_IP}:80`] },
        acme: { enabled: true, directory: pebble.directoryUrl, key_type: 'rsa-2048', ca_file: pebble.httpsCaFile },
        domain: [{ name: 'example.test' }],
      },
      rsaDir,
    );
    assert.ok(validated.ok);
    const rsa = await startAcme({
      config: validated.config,
      challenges,
      log: logs.log,
      clock: { now: Date.now },
      mode: 'once',
      poll: { attempts: 30, minMs: 100, maxMs: 500 },
    });
    try {
      const outcome = await rsa.renewNow(false);
      assert.equal(outcome.kind, 'issued', JSON.stringify(outcome));
      const meta = JSON.parse(await readFile(path.join(cacheRoot(rsaDir), 'rsa.example.test', 'meta.json'), 'utf8')) as { chainFile: string };
      const leaf = new X509Certificate(await readFile(path.join(cacheRoot(rsaDir), 'rsa.example.test', meta.chainFile), 'utf8'));
      assert.equal(leaf.publicKey.asymmetricKeyType, 'rsa');
      assert.equal(leaf.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    } finally {
      await rsa.stop();
    }
  });

  it('a corrupted cache entry is refused at load and never served', async () => {
    await manager?.stop();
    manager = undefined;
    const cache = cacheRoot(dataDir);
    const meta = JSON.parse(await readFile(path.join(cache, HOST, 'meta.json'), 'utf8')) as { chainFile: string };
    const chainFile = path.join(cache, HOST, meta.chainFile);
    const chain = await readFile(chainFile, 'utf8');
    // Swap leaf and intermediate: every certificate parses, but the key no longer matches the leaf.
    const blocks = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    assert.ok(blocks.length >= 2);
    await writeFile(chainFile, `${[...blocks].reverse().join('\n')}\n`);

    const third = captureLog();
    const fresh = await startTls(config, third.log, Date.now);
    challenges.withhold = true; // it cannot re-issue: what serves is what was loaded
    const refusedManager = await start(third.log, fresh.store);
    try {
      const refused = third.records.find((r) => r['action'] === 'refused' && r['source'] === 'acme');
      assert.ok(refused, 'the refusal is logged');
      assert.match(String(refused['error']), /private key does not belong/);
      assert.equal(fresh.store.current().entries.filter((e) => e.source === 'acme').length, 0);
      assert.equal(fresh.store.current().default?.source, 'self-signed');
      // With no good certificate it orders at once; withheld, that fails and is scheduled again.
      await waitFor(() => third.records.find((r) => r['action'] === 'failed'), { what: 'the failed re-issuance', timeoutMs: 60_000 });
      assert.equal(fresh.store.current().default?.source, 'self-signed');
    } finally {
      challenges.withhold = false;
      await refusedManager.stop();
      fresh.stop();
    }
  });
});
