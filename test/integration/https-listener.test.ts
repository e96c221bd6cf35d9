// The HTTPS listener on its own (no CA): a ClientHello offering acme-tls/1 gets the pending
// TLS-ALPN-01 certificate for its SNI name (RFC 8737 §3), and nothing for a name without one;
// every other client gets the store's certificate and the policy; a client that never finishes
// its ClientHello does not hold up close(). Loopback only.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import { test } from 'node:test';
import tls from 'node:tls';
import * as acme from 'acme-client';
import { startHttpsListener } from '../../src/mta-sts/listener.ts';
import { hostedPolicies } from '../../src/mta-sts/policy.ts';
import { createAlpnChallenges } from '../../src/tls/alpn-challenges.ts';
import { createCertStore } from '../../src/tls/store.ts';
import { selfSignedCert } from '../helpers/certs.ts';
import { captureLog } from '../helpers/log.ts';
import { waitFor } from '../helpers/wait.ts';

const HOST = 'mta-sts.example.test';

function handshake(port: number, options: tls.ConnectionOptions): Promise<{ alpn: string | false; cert: tls.PeerCertificate }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => {
      const result = { alpn: s.alpnProtocol ?? false, cert: s.getPeerCertificate() };
      s.end(); // not destroy(): our TLS 1.3 Finished must reach the server
      resolve(result);
    });
    s.on('error', reject);
  });
}

test('acme-tls/1 gets the challenge certificate; others the store and the policy; close() does not wait for a stalled hello', {
  timeout: 30_000,
}, async (t) => {
  const { log, records } = captureLog();
  const store = createCertStore({ hostname: 'mx.example.test', listener: { minVersion: 'TLSv1.2' }, log });
  const own = await selfSignedCert({ names: ['mx.example.test', HOST] });
  assert.ok(store.set('acme', [{ certPem: own.certPem, keyPem: own.keyPem }]).ok);
  const alpn = createAlpnChallenges();
  const policies = hostedPolicies({
    hostname: 'mx.example.test',
    domains: [{ name: 'example.test', mailboxes: [], aliases: {}, catchAll: '', mtaSts: 'enforce' }],
    mtaSts: { extraMx: [], maxAgeSeconds: 86_400 },
  });
  const listener = await startHttpsListener({
    addresses: [{ host: '127.0.0.1', port: 0 }],
    store,
    tls: { minVersion: 'TLSv1.2' },
    policies: () => policies,
    alpn,
    log,
  });
  let closed = false;
  t.after(() => (closed ? undefined : listener.close()));
  const port = listener.addresses[0]?.port ?? 0;

  const keyAuthorization = 'token.thumbprint';
  const authz = { identifier: { type: 'dns', value: HOST } } as acme.Authorization;
  const [key, cert] = await acme.crypto.createAlpnCertificate(authz, keyAuthorization);
  alpn.set(HOST, { keyPem: key.toString(), certPem: cert.toString() });

  const validation = await handshake(port, { servername: HOST, ALPNProtocols: ['acme-tls/1'] });
  assert.equal(validation.alpn, 'acme-tls/1');
  const served = new X509Certificate(validation.cert.raw).toString();
  assert.ok(acme.crypto.isAlpnCertificateAuthorizationValid(served, keyAuthorization), 'the acmeIdentifier extension holds the key authorization');
  await waitFor(() => records.some((r) => r['action'] === 'challenge-served' && r['name'] === HOST), {
    what: `the challenge-served record in ${JSON.stringify(records)}`,
    timeoutMs: 5000,
  });
  await assert.rejects(handshake(port, { servername: 'other.example.test', ALPNProtocols: ['acme-tls/1'] }), 'no challenge pending for that name');

  const web = await handshake(port, { servername: HOST, ALPNProtocols: ['h2', 'http/1.1'] });
  assert.equal(web.alpn, 'http/1.1');
  assert.equal(web.cert.fingerprint256, new X509Certificate(own.certPem).fingerprint256, "the store's certificate");
  assert.match(web.cert.subjectaltname ?? '', /DNS:mta-sts\.example\.test/);

  // A client that sends half a record and then nothing: close() ends it.
  const stalled = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve) => stalled.once('connect', () => resolve()));
  stalled.write(Buffer.from([22, 3, 1, 0x02, 0x00, 1]));
  const gone = new Promise<void>((resolve) => stalled.once('close', () => resolve()));
  stalled.on('error', () => undefined);
  const started = Date.now();
  await listener.close();
  closed = true;
  await gone;
  assert.ok(Date.now() - started < 5000, `close() took ${Date.now() - started} ms`);
});
