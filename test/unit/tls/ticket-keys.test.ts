// The session ticket key (ticket-keys.ts): derived per period, rotated on time; and through
// tlsBinding on a real smtp-server (implicit TLS on 127.0.0.1): a ticket still resumes after a
// certificate swap, and after a rotation the old ticket gets a full handshake, a new one resumes.
// Run under /work/shared/bin/netless.
import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, test } from 'node:test';
import tls from 'node:tls';
import { SMTPServer } from 'smtp-server';
import { tlsBinding } from '../../../src/tls/smtp-server.ts';
import { createCertStore } from '../../../src/tls/store.ts';
import { periodAt, startTicketKeys, type TicketKeys, ticketKeyFor } from '../../../src/tls/ticket-keys.ts';
import { selfSignedCert } from '../../helpers/certs.ts';
import { captureLog } from '../../helpers/log.ts';

const closers: (() => unknown)[] = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

test('a key per period from the secret: 48 bytes, the same for the same secret and period, another for the next', () => {
  const secret = Buffer.alloc(32, 7);
  const key = ticketKeyFor(secret, 100);
  assert.equal(key.length, 48);
  assert.deepEqual(ticketKeyFor(Buffer.alloc(32, 7), 100), key, 'another process with the secret derives the same key');
  assert.notDeepEqual(ticketKeyFor(secret, 101), key);
  assert.notDeepEqual(ticketKeyFor(Buffer.alloc(32, 8), 100), key);
  const hour = 3_600_000;
  assert.equal(periodAt(0, 12 * hour), 0);
  assert.equal(periodAt(12 * hour - 1, 12 * hour), 0);
  assert.equal(periodAt(12 * hour, 12 * hour), 1);
});

test('the key rotates when its period ends, and subscribers get the new one', { timeout: 10_000 }, async () => {
  const secret = Buffer.alloc(32, 1);
  const keys = startTicketKeys({ now: Date.now, secret, rotationMs: 100 });
  closers.push(() => keys.stop());
  const first = keys.current();
  const next = await new Promise<Buffer>((resolve) => keys.subscribe(resolve));
  assert.notDeepEqual(next, first);
  assert.deepEqual(next, keys.current());
  assert.deepEqual(next, ticketKeyFor(secret, periodAt(Date.now(), 100)));
});

/** A TicketKeys the test rotates by hand. */
function handRotated(): TicketKeys & { rotate(): void } {
  let period = 0;
  const listeners = new Set<(key: Buffer) => void>();
  const secret = Buffer.alloc(32, 3);
  return {
    current: () => ticketKeyFor(secret, period),
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    stop: () => listeners.clear(),
    rotate() {
      period++;
      for (const fn of listeners) fn(ticketKeyFor(secret, period));
    },
  };
}

/** Implicit TLS 1.3 up to the greeting; the ticket that came before it (a resumed session may get none). */
async function connect(port: number, session?: Buffer): Promise<{ reused: boolean; ticket: Buffer | undefined }> {
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: 'TLSv1.3', ...(session ? { session } : {}) });
  try {
    const tickets: Buffer[] = [];
    socket.on('session', (ticket: Buffer) => tickets.push(ticket));
    // The server sends its tickets right after the handshake, before the 220 greeting.
    await new Promise<void>((resolve, reject) => {
      socket.once('data', () => resolve());
      socket.once('error', reject);
    });
    return { reused: socket.isSessionReused(), ticket: tickets.at(-1) };
  } finally {
    socket.destroy();
  }
}

test('through tlsBinding: a ticket resumes after a certificate swap; after a rotation only a new ticket does', { timeout: 30_000 }, async () => {
  const hostname = 'mx.example.test';
  const store = createCertStore({ hostname, listener: { minVersion: 'TLSv1.2' }, log: captureLog().log });
  const first = await selfSignedCert({ names: [hostname] });
  const renewed = await selfSignedCert({ names: [hostname] });
  assert.ok(store.set('self-signed', [{ certPem: first.chainPem, keyPem: first.keyPem }]).ok);
  const tickets = handRotated();
  const binding = tlsBinding(store, { minVersion: 'TLSv1.2' }, captureLog().log, undefined, tickets);
  const server = new SMTPServer({ ...binding.serverOptions, secure: true, logger: false, authOptional: true, disabledCommands: ['AUTH'], closeTimeout: 100 });
  const detach = binding.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())), detach);
  const port = (server.server.address() as net.AddressInfo).port;

  const a = await connect(port);
  assert.equal(a.reused, false);
  assert.ok(a.ticket, 'a ticket with the first greeting');
  assert.equal((await connect(port, a.ticket)).reused, true);
  // A renewed certificate rebuilds the listener's default context: the key stays.
  assert.ok(store.set('self-signed', [{ certPem: renewed.chainPem, keyPem: renewed.keyPem }]).ok);
  assert.equal((await connect(port, a.ticket)).reused, true, 'resumed across the certificate swap');
  tickets.rotate();
  const b = await connect(port, a.ticket);
  assert.equal(b.reused, false, "the previous period's ticket gets a full handshake");
  assert.ok(b.ticket, 'and a ticket under the new key');
  assert.equal((await connect(port, b.ticket)).reused, true, 'a ticket of the new key resumes');
});
