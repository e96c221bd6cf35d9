// STARTTLS session resumption on the real daemon: a client that comes back with the session of its
// first connection resumes it (no certificate, no signature), on the same listener and on another
// one (all listeners share one ticket key), with TLS 1.3 and 1.2; the self-signed certificate
// a fresh daemon makes is ECDSA P-256. netless.
import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type tls from 'node:tls';
import { type SealpostDaemon, startSealpost } from '../helpers/daemon.ts';
import { freePort } from '../helpers/ports.ts';
import { connectSmtp } from './inbound-smtp.ts';

describe('STARTTLS session resumption', { timeout: 60_000 }, () => {
  const cleanups: (() => unknown)[] = [];
  const scope = { after: (fn: () => unknown) => cleanups.push(fn) };
  let daemon: SealpostDaemon;
  let ports: number[];

  before(async () => {
    const asked = [await freePort(), await freePort()];
    daemon = await startSealpost(scope, { config: { listen: { smtp: asked.map((p) => `127.0.0.1:${p}`) } } });
    ports = daemon.ports.smtp;
    assert.equal(ports.length, 2, 'two port-25 listeners');
  });

  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  /** One STARTTLS session: EHLO, STARTTLS, EHLO again (a TLS 1.3 ticket comes with the first data), QUIT. */
  async function starttls(
    port: number,
    options: tls.ConnectionOptions,
  ): Promise<{ reused: boolean; session: Buffer | undefined; served: X509Certificate | undefined }> {
    const smtp = await connectSmtp(port);
    try {
      assert.equal((await smtp.reply()).code, 220);
      assert.equal((await smtp.command('EHLO client.test')).code, 250);
      assert.equal((await smtp.command('STARTTLS')).code, 220);
      const socket = await smtp.upgrade({ servername: 'mx.sealpost.test', ...options });
      const tickets: Buffer[] = [];
      socket.on('session', (session: Buffer) => tickets.push(session));
      assert.equal((await smtp.command('EHLO client.test')).code, 250);
      assert.equal((await smtp.command('QUIT')).code, 221);
      return { reused: socket.isSessionReused(), session: tickets.at(-1) ?? socket.getSession(), served: socket.getPeerX509Certificate() };
    } finally {
      smtp.destroy();
    }
  }

  for (const version of ['TLSv1.3', 'TLSv1.2'] as const) {
    it(`${version}: the second connection resumes the first one's session, on the same listener and on the other`, async () => {
      const pin = { minVersion: version, maxVersion: version };
      const first = await starttls(ports[0] as number, pin);
      assert.equal(first.reused, false);
      assert.ok(first.session, 'the server issued a session ticket');
      const same = await starttls(ports[0] as number, { ...pin, session: first.session });
      assert.equal(same.reused, true, 'resumed on the same listener');
      const other = await starttls(ports[1] as number, { ...pin, session: first.session });
      assert.equal(other.reused, true, 'resumed on the other listener: one ticket key for all');
    });
  }

  it('the self-signed certificate of a fresh daemon is ECDSA P-256', async () => {
    const { served } = await starttls(ports[0] as number, {});
    assert.equal(served?.publicKey.asymmetricKeyType, 'ec');
    assert.equal(served?.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  });
});
