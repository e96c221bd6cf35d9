// Which certificate the MX listener serves over STARTTLS, probed with `openssl s_client
// -starttls smtp`: an operator certificate (from a test CA) for its name, without SNI and for
// unknown names; the self-signed certificate without one (kept across restarts); never
// smtp-server's bundled "localhost" certificate. Also the TLS version floor and DHE suites.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { createCa, issueCert } from '../helpers/certs.ts';
import { startSealpost } from '../helpers/daemon.ts';
import { type StartTlsResult, sClientStartTls } from '../helpers/openssl.ts';
import { tempDir } from '../helpers/tmp.ts';

const HOST = 'mx.sealpost.test';

function assertNotBundledLocalhost(result: StartTlsResult): void {
  assert.ok(result.certificate, `a certificate was served\n${result.stdout}${result.stderr}`);
  assert.ok(!result.certificate.dnsNames.includes('localhost'), `smtp-server's bundled certificate served: ${result.certificate.subjectAltName}`);
  assert.doesNotMatch(result.certificate.subject, /CN=localhost/);
}

test('operator certificate: served for its name, without SNI and for unknown names; verifies against the CA', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const ca = await createCa('Sealpost Test Root');
  const leaf = await issueCert(ca, { names: [HOST] });
  const caFile = path.join(dir, 'ca.pem');
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  await writeFile(caFile, ca.certPem);
  await writeFile(certFile, leaf.chainPem);
  await writeFile(keyFile, leaf.keyPem, { mode: 0o600 });
  const operatorFingerprint = new X509Certificate(leaf.certPem).fingerprint256;

  const daemon = await startSealpost(t, { config: { tls: { cert_file: certFile, key_file: keyFile } } });
  const port = daemon.smtpPort;

  const named = await sClientStartTls({ port, servername: HOST, caFile });
  assert.ok(named.ok, named.stdout + named.stderr);
  assert.equal(named.certificate?.fingerprint256, operatorFingerprint);
  assert.deepEqual(named.verify, { code: 0, message: 'ok' });
  assert.equal(named.protocol, 'TLSv1.3');

  const noSni = await sClientStartTls({ port, noServername: true, caFile, verifyHostname: HOST });
  assert.ok(noSni.ok, noSni.stdout + noSni.stderr);
  assert.equal(noSni.certificate?.fingerprint256, operatorFingerprint, 'a client without SNI gets the default certificate');
  assert.deepEqual(noSni.verify, { code: 0, message: 'ok' });
  assertNotBundledLocalhost(noSni);

  const unknown = await sClientStartTls({ port, servername: 'unknown.other.test', caFile, verifyHostname: HOST });
  assert.ok(unknown.ok, unknown.stdout + unknown.stderr);
  assert.equal(unknown.certificate?.fingerprint256, operatorFingerprint, 'an unknown name gets the default certificate');
  assert.deepEqual(unknown.verify, { code: 0, message: 'ok' });

  // An IP literal as SNI (RFC 6066 §3 forbids it; clients send it anyway): the default too.
  const ipLiteral = await sClientStartTls({ port, servername: '127.0.0.1', caFile, verifyHostname: HOST });
  assert.ok(ipLiteral.ok, ipLiteral.stdout + ipLiteral.stderr);
  assert.equal(ipLiteral.certificate?.fingerprint256, operatorFingerprint);

  // Checked against the name the client asked for, the default certificate does not match it.
  const mismatch = await sClientStartTls({ port, servername: 'unknown.other.test', caFile });
  assert.equal(mismatch.verify?.code, 62, mismatch.stdout);

  // The session records tell which name was asked for and which certificate was served.
  await daemon.waitForLog((r) => r.event === 'session' && (r['tls'] as { sni?: string } | null)?.sni === 'unknown.other.test');
  const noSniSession = daemon.findLogs((r) => r.event === 'session' && (r['tls'] as { sniSent?: boolean } | null)?.sniSent === false);
  assert.ok(noSniSession.length >= 1, 'a session record with sniSent: false');
});

test('no operator certificate: a self-signed one for hostname, kept across a restart', { timeout: 60_000 }, async (t) => {
  const daemon = await startSealpost(t);
  const port = () => daemon.smtpPort;

  const first = await sClientStartTls({ port: port(), servername: HOST });
  assert.ok(first.ok, first.stdout + first.stderr);
  assertNotBundledLocalhost(first);
  assert.deepEqual(first.certificate?.dnsNames, [HOST]);
  assert.equal(first.certificate?.issuer, first.certificate?.subject, 'self-signed');
  assert.equal(first.verify?.code, 18, `openssl: self-signed certificate\n${first.stdout}`);

  const noSni = await sClientStartTls({ port: port(), noServername: true });
  assert.ok(noSni.ok, noSni.stdout + noSni.stderr);
  assert.equal(noSni.certificate?.fingerprint256, first.certificate?.fingerprint256);
  const unknown = await sClientStartTls({ port: port(), servername: 'unknown.other.test' });
  assert.equal(unknown.certificate?.fingerprint256, first.certificate?.fingerprint256);

  // It is the one kept in the data dir.
  const kept = new X509Certificate(await readFile(path.join(daemon.dataDir, 'certs', 'self-signed', 'cert.pem'), 'utf8'));
  assert.equal(kept.fingerprint256, first.certificate?.fingerprint256);

  await daemon.restart();
  const again = await sClientStartTls({ port: port(), noServername: true });
  assert.ok(again.ok, again.stdout + again.stderr);
  assert.equal(again.certificate?.fingerprint256, first.certificate?.fingerprint256, 'the same certificate after a restart');

  // The self-signed key is ECDSA P-256: TLS 1.2 clients get ECDHE-ECDSA.
  assert.equal(kept.publicKey.asymmetricKeyType, 'ec');
  const ecdhe = await sClientStartTls({ port: port(), noServername: true, extraArgs: ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-GCM-SHA256'] });
  assert.ok(ecdhe.ok, ecdhe.stdout + ecdhe.stderr);
  assert.equal(ecdhe.protocol, 'TLSv1.2');
  assert.equal(ecdhe.cipher, 'ECDHE-ECDSA-AES128-GCM-SHA256', ecdhe.stdout + ecdhe.stderr);
});

test('TLS 1.1 is refused by default (min_version TLSv1.2) and accepted when configured', { timeout: 60_000 }, async (t) => {
  // Security level 0: OpenSSL 3 would otherwise refuse TLS 1.1 on the client side already.
  const tls11 = ['-tls1_1', '-cipher', 'DEFAULT:@SECLEVEL=0'];
  const strict = await startSealpost(t);
  const refused = await sClientStartTls({ port: strict.smtpPort, noServername: true, extraArgs: tls11 });
  assert.equal(refused.ok, false, refused.stdout);
  assert.equal(refused.protocol, undefined);
  assert.match(refused.stdout + refused.stderr, /alert protocol version|unsupported protocol|no protocols available/i);
  const tls12 = await sClientStartTls({ port: strict.smtpPort, noServername: true, extraArgs: ['-tls1_2'] });
  assert.equal(tls12.protocol, 'TLSv1.2', tls12.stdout + tls12.stderr);
  await strict.stop();

  // The same probe succeeds against a listener that allows TLS 1.1: the refusal above is the server's.
  const lenient = await startSealpost(t, { config: { tls: { min_version: 'TLSv1.1' } } });
  const accepted = await sClientStartTls({ port: lenient.smtpPort, noServername: true, extraArgs: tls11 });
  assert.ok(accepted.ok, accepted.stdout + accepted.stderr);
  // The helper's `protocol` comes from the "New, …" line, which names the cipher's first version
  // (TLSv1.0 for ECDHE-RSA-AES256-SHA); the session block names the one negotiated.
  assert.match(accepted.stdout, /^\s*Protocol\s*: TLSv1\.1$/m);
});
