// peekAlpn on real ClientHellos (Node's own, captured on a loopback socket) and on broken input.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, test } from 'node:test';
import tls from 'node:tls';
import { peekAlpn } from '../../../src/tls/client-hello.ts';

/** The first bytes a TLS client sends with these ALPN protocols. */
async function clientHello(alpn: string[] | undefined): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const got = new Promise<Buffer>((resolve) => server.once('connection', (s) => s.once('data', (b: Buffer) => (s.destroy(), resolve(b)))));
  const client = tls.connect({ host: '127.0.0.1', port, servername: 'mta-sts.example.test', ...(alpn ? { ALPNProtocols: alpn } : {}) });
  client.on('error', () => undefined);
  const hello = await got;
  client.destroy();
  server.close();
  return hello;
}

describe('peekAlpn', { timeout: 10_000 }, () => {
  test('acme-tls/1 alone, several, none', async () => {
    assert.deepEqual(peekAlpn(await clientHello(['acme-tls/1'])), { kind: 'hello', alpn: ['acme-tls/1'] });
    assert.deepEqual(peekAlpn(await clientHello(['h2', 'http/1.1'])), { kind: 'hello', alpn: ['h2', 'http/1.1'] });
    assert.deepEqual(peekAlpn(await clientHello(undefined)), { kind: 'hello', alpn: [] });
  });

  test('a partial record asks for more; other protocols are not TLS', async () => {
    const hello = await clientHello(['acme-tls/1']);
    for (const n of [0, 3, 5, hello.length - 1]) assert.deepEqual(peekAlpn(hello.subarray(0, n)), { kind: 'need-more' });
    assert.deepEqual(peekAlpn(Buffer.from('GET / HTTP/1.1\r\n')), { kind: 'not-tls' });
    assert.deepEqual(peekAlpn(Buffer.from([22, 9, 9, 0, 1, 0])), { kind: 'not-tls' });
  });

  test('lengths that run past the record end are read as no ALPN, never out of bounds', async () => {
    const hello = Buffer.from(await clientHello(['acme-tls/1']));
    // Corrupt the session id length to point past the end.
    hello[5 + 4 + 2 + 32] = 255;
    assert.deepEqual(peekAlpn(hello), { kind: 'hello', alpn: [] });
  });
});
