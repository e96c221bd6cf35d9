// The listeners' TLS against real clients (`openssl s_client`): no client-initiated
// renegotiation on 25 and 587 (STARTTLS) and 465 (implicit TLS); no static-RSA key exchange and
// no CBC suites in TLS 1.2, while ECDHE-GCM (RSA certificate) and ECDHE-ECDSA-CHACHA20 work.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { selfSignedCert } from '../helpers/certs.ts';
import { type Overrides, type SealpostToml, startSealpost } from '../helpers/daemon.ts';
import { sClientRenegotiate, sClientStartTls } from '../helpers/openssl.ts';
import { freePort } from '../helpers/ports.ts';
import { tempDir } from '../helpers/tmp.ts';

const HOST = 'mx.sealpost.test';

/** 25 and 587 (STARTTLS) and 465 (implicit TLS) on free loopback ports. */
async function allListeners(): Promise<{ overrides: Overrides<SealpostToml>; submission: number; submissions: number }> {
  const submission = await freePort();
  const submissions = await freePort();
  // listen.submission/submissions are not among SealpostToml's declared keys: written as given.
  const raw: Record<string, unknown> = { listen: { submission: [`127.0.0.1:${submission}`], submissions: [`127.0.0.1:${submissions}`] } };
  return { overrides: raw as Overrides<SealpostToml>, submission, submissions };
}

/** One TLS 1.2 handshake offering only `cipher`; implicit TLS when `starttls` is false. */
async function tls12With(port: number, cipher: string, starttls = true) {
  const extraArgs = ['-tls1_2', '-cipher', cipher];
  if (starttls) return sClientStartTls({ port, noServername: true, extraArgs });
  // sClientStartTls speaks STARTTLS; for 465 the same probe without it.
  const { run } = await import('../helpers/proc.ts');
  const { parseSClientOutput } = await import('../helpers/openssl.ts');
  const result = await run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-noservername', '-crlf', ...extraArgs], {
    input: 'QUIT\n',
    timeoutMs: 15_000,
  });
  return { ...parseSClientOutput(result.stdout), stdout: result.stdout, stderr: result.stderr };
}

describe('listener TLS hardening', { timeout: 120_000 }, () => {
  test('client-initiated renegotiation is refused on 25, 587 and 465', { timeout: 60_000 }, async (t) => {
    const { overrides, submission, submissions } = await allListeners();
    const daemon = await startSealpost(t, { config: overrides });
    for (const [port, starttls, name] of [
      [daemon.smtpPort, true, 'smtp'],
      [submission, true, 'submission'],
      [submissions, false, 'submissions'],
    ] as const) {
      const result = await sClientRenegotiate({ port, starttls });
      assert.ok(result.attempted, `${name}: s_client sent the renegotiation\n${result.stdout}\n${result.stderr}`);
      assert.equal(result.renegotiated, false, `${name}: the server renegotiated\n${result.stdout}\n${result.stderr}`);
    }
  });

  test('TLS 1.2 with an RSA certificate: ECDHE-RSA-AES128-GCM-SHA256 works; static RSA and CBC suites fail, on every listener', {
    timeout: 60_000,
  }, async (t) => {
    const { overrides, submission, submissions } = await allListeners();
    // The self-signed certificate is ECDSA: an operator's RSA one here.
    const dir = await tempDir(t);
    const cert = await selfSignedCert({ names: [HOST], keyType: 'rsa-2048' });
    const certFile = path.join(dir, 'cert.pem');
    const keyFile = path.join(dir, 'key.pem');
    await writeFile(certFile, cert.chainPem);
    await writeFile(keyFile, cert.keyPem, { mode: 0o600 });
    const daemon = await startSealpost(t, { config: { ...overrides, tls: { cert_file: certFile, key_file: keyFile } } as Overrides<SealpostToml> });
    for (const [port, starttls, name] of [
      [daemon.smtpPort, true, 'smtp'],
      [submission, true, 'submission'],
      [submissions, false, 'submissions'],
    ] as const) {
      const good = await tls12With(port, 'ECDHE-RSA-AES128-GCM-SHA256', starttls);
      assert.ok(good.ok, `${name}: ECDHE-RSA-AES128-GCM-SHA256\n${good.stdout}\n${good.stderr}`);
      assert.equal(good.cipher, 'ECDHE-RSA-AES128-GCM-SHA256');
      for (const weak of ['AES256-GCM-SHA384', 'ECDHE-RSA-AES256-SHA', 'AES128-SHA', 'ECDHE-RSA-AES128-SHA256']) {
        const refused = await tls12With(port, weak, starttls);
        assert.equal(refused.ok, false, `${name}: ${weak} was accepted (${refused.cipher})`);
      }
    }
  });

  test('TLS 1.2 with an ECDSA certificate: ECDHE-ECDSA-CHACHA20-POLY1305 and -AES128-GCM work, ECDHE-ECDSA CBC fails', { timeout: 60_000 }, async (t) => {
    const dir = await tempDir(t);
    const cert = await selfSignedCert({ names: [HOST], keyType: 'ecdsa-p256' });
    const certFile = path.join(dir, 'cert.pem');
    const keyFile = path.join(dir, 'key.pem');
    await writeFile(certFile, cert.chainPem);
    await writeFile(keyFile, cert.keyPem, { mode: 0o600 });
    const daemon = await startSealpost(t, { config: { tls: { cert_file: certFile, key_file: keyFile } } });
    for (const suite of ['ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-ECDSA-AES128-GCM-SHA256']) {
      const result = await tls12With(daemon.smtpPort, suite);
      assert.ok(result.ok, `${suite}\n${result.stdout}\n${result.stderr}`);
      assert.equal(result.cipher, suite);
    }
    for (const weak of ['ECDHE-ECDSA-AES256-SHA', 'ECDHE-ECDSA-AES128-SHA256']) {
      const refused = await tls12With(daemon.smtpPort, weak);
      assert.equal(refused.ok, false, `${weak} was accepted`);
    }
    // TLS 1.3 stays.
    const tls13 = await sClientStartTls({ port: daemon.smtpPort, noServername: true });
    assert.equal(tls13.protocol, 'TLSv1.3');
  });
});
