// startTls: what the daemon serves at start (operator files or the kept self-signed one) and
// what SIGHUP's reload does with good and bad files.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { OPERATOR_POLL_MS, startTls } from '../../../src/tls/service.ts';
import { createCa, issueCert, type TestCert } from '../../helpers/certs.ts';
import { captureLog } from '../../helpers/log.ts';

const hostname = 'mx.example.test';
const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
let root: string;
let operatorA: TestCert;
let operatorB: TestCert;

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'sealpost-tls-service-'));
  const ca = await createCa('Service CA');
  operatorA = await issueCert(ca, { names: [hostname] });
  operatorB = await issueCert(ca, { names: [hostname, 'mail.example.test'] });
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const config = (dataDir: string, certFile = '', keyFile = '') => ({ hostname, dataDir, tls: { minVersion: 'TLSv1.2' as const, certFile, keyFile } });
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

describe('startTls', { timeout: 60_000 }, () => {
  test('without operator files: the self-signed certificate, generated once and kept', async () => {
    const dataDir = path.join(root, 'plain');
    const { log, records } = captureLog();
    const first = await startTls(config(dataDir), log, Date.now);
    const served = first.store.current().default;
    assert.equal(served?.source, 'self-signed');
    assert.deepEqual(served?.names, [hostname]);
    const binding = first.binding('TLSv1.2');
    assert.equal(binding.serverOptions.cert, served?.material.certPem);
    assert.equal(typeof binding.serverOptions.SNICallback, 'function');
    // Another listener's min_version: its own contexts from the same entries, built once and cached.
    const strict = first.binding('TLSv1.3');
    assert.equal(strict.serverOptions.minVersion, 'TLSv1.3');
    const sniContext = (b: typeof strict) =>
      new Promise<unknown>((resolve) =>
        (b.serverOptions.SNICallback as (name: string, cb: (err: Error | null, ctx?: unknown) => void) => void)(hostname, (_err, ctx) => resolve(ctx)),
      );
    const strictContext = await sniContext(strict);
    assert.ok(strictContext !== undefined && strictContext !== served?.context);
    assert.equal(await sniContext(strict), strictContext);
    assert.equal(await sniContext(binding), served?.context);
    first.stop();
    assert.ok(records.some((r) => r['action'] === 'generated'));
    assert.ok(records.some((r) => r['action'] === 'serving' && r['source'] === 'self-signed'));

    const second = await startTls(config(dataDir), captureLog().log, Date.now);
    assert.equal(second.store.current().default?.fingerprint, served?.fingerprint, 'reused on the next start');
    second.stop();
  });

  test('operator files covering hostname: served, nothing generated; reload swaps good files and keeps the old on bad ones', async () => {
    const dataDir = path.join(root, 'operator');
    const certFile = path.join(root, 'op-cert.pem');
    const keyFile = path.join(root, 'op-key.pem');
    await writeFile(certFile, operatorA.chainPem);
    await writeFile(keyFile, operatorA.keyPem);
    const { log, records } = captureLog();
    const service = await startTls(config(dataDir, certFile, keyFile), log, Date.now);
    assert.equal(service.store.current().default?.fingerprint, fp(operatorA.certPem));
    assert.equal(await exists(path.join(dataDir, 'certs', 'self-signed')), false);
    // A CA-issued leaf without its intermediate is served, with a warning.
    assert.ok(
      records.some((r) => r['action'] === 'lint' && r['level'] === 'warn' && r['severity'] === 'warning' && /no intermediate/.test(String(r['problem']))),
    );

    await writeFile(certFile, operatorB.chainPem);
    await writeFile(keyFile, operatorB.keyPem);
    await service.reload();
    assert.equal(service.store.current().default?.fingerprint, fp(operatorB.certPem));

    await writeFile(keyFile, operatorA.keyPem); // a half-finished update: the key of the old certificate
    await service.reload();
    assert.equal(service.store.current().default?.fingerprint, fp(operatorB.certPem), 'the good certificate stays');
    const refused = records.find((r) => r['action'] === 'refused' && r['source'] === 'operator');
    assert.equal(refused?.['file'], keyFile);
    assert.match(String(refused?.['reason']), /does not go with tls\.cert_file/);
    service.stop();
  });

  test('operator files that change on disk are picked up without a SIGHUP', async () => {
    const dataDir = path.join(root, 'watched');
    const certFile = path.join(root, 'watched-cert.pem');
    const keyFile = path.join(root, 'watched-key.pem');
    await writeFile(certFile, operatorA.chainPem);
    await writeFile(keyFile, operatorA.keyPem);
    const service = await startTls(config(dataDir, certFile, keyFile), captureLog().log, Date.now);
    assert.equal(service.store.current().default?.fingerprint, fp(operatorA.certPem));
    await writeFile(certFile, operatorB.chainPem);
    await writeFile(keyFile, operatorB.keyPem);
    const deadline = Date.now() + 4 * OPERATOR_POLL_MS;
    while (service.store.current().default?.fingerprint !== fp(operatorB.certPem)) {
      assert.ok(Date.now() < deadline, 'the new certificate was not picked up within four polls');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    service.stop();
  });

  test('operator files missing at start: logged, and the self-signed certificate keeps TLS on', async () => {
    const dataDir = path.join(root, 'missing');
    const { log, records } = captureLog();
    const service = await startTls(config(dataDir, path.join(root, 'nope.pem'), path.join(root, 'nope-key.pem')), log, Date.now);
    assert.equal(service.store.current().default?.source, 'self-signed');
    const refused = records.find((r) => r['action'] === 'refused');
    assert.equal(refused?.['level'], 'error');
    assert.match(String(refused?.['reason']), /does not exist/);
    service.stop();
  });

  test('no certificate at all is the one startup failure', async () => {
    const blocker = path.join(root, 'not-a-dir');
    await writeFile(blocker, '');
    await assert.rejects(startTls(config(blocker), captureLog().log, Date.now), /no TLS certificate for mx\.example\.test: could not store/);
  });
});
