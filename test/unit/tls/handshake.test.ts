// Real TLS handshakes against smtp-server listeners wired through tlsBinding, on 127.0.0.1:
// which certificate each ClientHello gets (implicit TLS and STARTTLS), listener options, and a
// swap that new handshakes see while an open session keeps working.
// Run under /work/shared/bin/netless.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { SMTPServer } from 'smtp-server';
import type { TlsBinding } from '../../../src/inbound/session.ts';
import { tlsBinding } from '../../../src/tls/smtp-server.ts';
import { type CertStore, createCertStore } from '../../../src/tls/store.ts';
import { createCa, issueCert, selfSignedCert, type TestCert } from '../../helpers/certs.ts';
import { captureLog } from '../../helpers/log.ts';

const hostname = 'mx.example.test';
const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
const material = (c: TestCert) => ({ certPem: c.chainPem, keyPem: c.keyPem });

let store: CertStore;
let selfSigned: TestCert;
let exact: TestCert;
let wildcard: TestCert;
let renewed: TestCert;
const servers: SMTPServer[] = [];
const detachers: (() => void)[] = [];
const sockets: net.Socket[] = [];
/** What the servers reported (smtp-server emits 'error' for a failed handshake). */
const serverErrors: Error[] = [];
let implicitPort = 0;
let starttlsPort = 0;

/** Reads SMTP reply lines until a final one ("250 …", not "250-…"); rejects after `ms`. */
function reply(socket: net.Socket, ms = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => finish(new Error(`no SMTP reply within ${ms} ms; got ${JSON.stringify(text)}`)), ms);
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (/(^|\r\n)\d{3} [^\r\n]*\r\n$/.test(text)) finish();
    };
    const onClose = () => finish(new Error(`connection closed; got ${JSON.stringify(text)}`));
    function finish(err?: Error): void {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(text);
    }
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** Implicit TLS: handshake, then the 220 greeting. Returns the socket and the served leaf. */
async function connectTls(options: tls.ConnectionOptions = {}): Promise<{ socket: tls.TLSSocket; fingerprint: string; greeting: string }> {
  const socket = tls.connect({ host: '127.0.0.1', port: implicitPort, rejectUnauthorized: false, ...options });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  const greeting = await reply(socket);
  return { socket, fingerprint: socket.getPeerX509Certificate()?.fingerprint256 ?? '', greeting };
}

/** STARTTLS: plain greeting, EHLO, STARTTLS, then the handshake over the same connection. */
async function connectStarttls(servername?: string): Promise<string> {
  const plain = net.connect({ host: '127.0.0.1', port: starttlsPort });
  sockets.push(plain);
  assert.match(await reply(plain), /^220 /);
  plain.write('EHLO client.test\r\n');
  assert.match(await reply(plain), /250[- ]STARTTLS/);
  plain.write('STARTTLS\r\n');
  assert.match(await reply(plain), /^220 /);
  const secure = tls.connect({ socket: plain, rejectUnauthorized: false, ...(servername ? { servername } : {}) });
  sockets.push(secure);
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', resolve);
    secure.once('error', reject);
  });
  secure.write('EHLO client.test\r\n');
  assert.match(await reply(secure), /^250/);
  return secure.getPeerX509Certificate()?.fingerprint256 ?? '';
}

async function startServer(binding: TlsBinding, secure: boolean): Promise<number> {
  const server = new SMTPServer({ ...binding.serverOptions, secure, logger: false, authOptional: true, disabledCommands: ['AUTH'], closeTimeout: 100 });
  servers.push(server);
  server.on('error', (err: Error) => serverErrors.push(err));
  detachers.push(binding.attach(server));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.server.address() as net.AddressInfo).port;
}

before(async () => {
  const ca = await createCa('Handshake CA');
  // RSA for the default, so the DHE-RSA check below has an RSA key to sign with.
  selfSigned = await selfSignedCert({ names: [hostname], keyType: 'rsa-2048' });
  exact = await issueCert(ca, { names: ['mail.other.test'] });
  wildcard = await issueCert(ca, { names: ['*.wild.test'] });
  renewed = await issueCert(ca, { names: [hostname, 'mail.other.test'] });
  store = createCertStore({ hostname, listener: { minVersion: 'TLSv1.2' }, log: captureLog().log });
  assert.ok(store.set('self-signed', [material(selfSigned)]).ok);
  assert.ok(store.set('acme', [material(exact)]).ok);
  assert.ok(store.set('operator', [material(wildcard)]).ok);
  const binding: TlsBinding = tlsBinding(store, { minVersion: 'TLSv1.2' }, captureLog().log);
  implicitPort = await startServer(binding, true);
  starttlsPort = await startServer(binding, false);
});

after(async () => {
  for (const s of sockets) s.destroy();
  for (const detach of detachers) detach();
  await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
});

describe('TLS handshakes through tlsBinding', { timeout: 30_000 }, () => {
  test('implicit TLS: no SNI → default, exact → exact, one label under a wildcard → wildcard, two → default', async () => {
    const cases: [string | undefined, TestCert][] = [
      [undefined, selfSigned],
      [hostname, selfSigned],
      ['MAIL.OTHER.TEST', exact],
      ['mail.other.test', exact],
      ['a.wild.test', wildcard],
      ['a.b.wild.test', selfSigned],
      ['unknown.test', selfSigned],
    ];
    for (const [servername, expected] of cases) {
      const { socket, fingerprint, greeting } = await connectTls(servername ? { servername } : {});
      assert.equal(fingerprint, fp(expected.certPem), `SNI ${servername ?? '(none)'}`);
      assert.match(greeting, /^220 /);
      socket.destroy();
    }
  });

  test('STARTTLS gets the same choice', async () => {
    assert.equal(await connectStarttls(), fp(selfSigned.certPem));
    assert.equal(await connectStarttls('a.wild.test'), fp(wildcard.certPem));
    assert.equal(await connectStarttls('mail.other.test'), fp(exact.certPem));
  });

  test("listener options reach smtp-server's default context as well as the SNI contexts", async () => {
    for (const servername of [undefined, 'mail.other.test']) {
      const old = tls.connect({
        host: '127.0.0.1',
        port: implicitPort,
        rejectUnauthorized: false,
        maxVersion: 'TLSv1.1',
        minVersion: 'TLSv1',
        ciphers: 'DEFAULT:@SECLEVEL=0',
        ...(servername ? { servername } : {}),
      });
      sockets.push(old);
      // smtp-server's own default would be TLSv1; ours is min_version = TLSv1.2.
      const err = await new Promise<Error>((resolve, reject) => {
        old.once('error', resolve);
        old.once('secureConnect', () => reject(new Error('a TLS 1.1 client got in')));
      });
      assert.match(err.message, /protocol version|unsupported protocol/i);
    }
    assert.ok(
      serverErrors.some((e) => /unsupported protocol/.test(e.message)),
      'the server refused the TLS 1.1 ClientHello',
    );
    // dhparam 'auto': DHE-RSA works besides ECDHE-RSA for peers that only speak DHE.
    const dhe = await connectTls({ maxVersion: 'TLSv1.2', ciphers: 'DHE-RSA-AES128-GCM-SHA256' });
    assert.equal(dhe.socket.getCipher().name, 'DHE-RSA-AES128-GCM-SHA256');
    assert.equal(dhe.fingerprint, fp(selfSigned.certPem));
    dhe.socket.destroy();
  });

  test('default and SNI contexts alike: no client-initiated renegotiation, no static-RSA or CBC suite in TLS 1.2', async () => {
    for (const servername of [undefined, 'mail.other.test']) {
      const sni = servername ? { servername } : {};
      const { socket } = await connectTls({ maxVersion: 'TLSv1.2', ...sni });
      const outcome = await new Promise<string>((resolve) => {
        socket.once('error', (err) => resolve(`error: ${err.message}`));
        socket.once('close', () => resolve('closed'));
        const started = socket.renegotiate({ rejectUnauthorized: false }, (err) => resolve(err ? `error: ${err.message}` : 'renegotiated'));
        if (!started) resolve('not started');
      });
      assert.notEqual(outcome, 'renegotiated', `SNI ${servername ?? '(none)'}`);
      assert.match(outcome, /no renegotiation|closed|error/i);
      socket.destroy();
      for (const ciphers of ['AES256-GCM-SHA384', 'ECDHE-RSA-AES256-SHA', 'ECDHE-ECDSA-AES128-SHA256']) {
        await assert.rejects(
          connectTls({ maxVersion: 'TLSv1.2', ciphers, ...sni }),
          /handshake failure|no shared cipher|ECONNRESET|socket disconnected/i,
          `${ciphers} SNI ${servername ?? '(none)'}`,
        );
      }
      const good = await connectTls({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256', ...sni });
      assert.match(good.socket.getCipher().name, /^ECDHE-(ECDSA-CHACHA20-POLY1305|RSA-AES128-GCM-SHA256)$/);
      good.socket.destroy();
    }
  });

  test('after a swap new handshakes get the new certificate; a session opened before stays usable', async () => {
    const before = await connectTls();
    const beforeSni = await connectTls({ servername: 'mail.other.test' });
    assert.equal(before.fingerprint, fp(selfSigned.certPem));

    const swapped = store.set('acme', [material(renewed)]);
    assert.ok(swapped.ok && swapped.changed);
    assert.equal(swapped.snapshot.default?.source, 'acme');

    const noSni = await connectTls();
    assert.equal(noSni.fingerprint, fp(renewed.certPem), 'the default context was rebuilt by updateSecureContext');
    const sni = await connectTls({ servername: 'mail.other.test' });
    assert.equal(sni.fingerprint, fp(renewed.certPem));
    assert.equal(await connectStarttls(), fp(renewed.certPem));

    for (const open of [before, beforeSni]) {
      open.socket.write('NOOP\r\n');
      assert.match(await reply(open.socket), /^250 /);
      open.socket.write('EHLO client.test\r\n');
      assert.match(await reply(open.socket), /^250/);
    }
  });
});
