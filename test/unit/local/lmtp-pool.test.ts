import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import type { DeliveryJob } from '../../../src/core/delivery.ts';
import { LmtpPool } from '../../../src/local/lmtp-pool.ts';

/** A scripted LMTP server that records every command per connection and how many connections are open at once. */
async function recordingServer(): Promise<{ port: number; connections: string[][]; peak: () => number; close: () => void; cutAll: () => void }> {
  const connections: string[][] = [];
  const sockets = new Set<net.Socket>();
  let open = 0;
  let peak = 0;
  const server = net.createServer((c) => {
    const seen: string[] = [];
    connections.push(seen);
    sockets.add(c);
    peak = Math.max(peak, ++open);
    c.on('close', () => {
      open--;
      sockets.delete(c);
    });
    c.write('220 lmtp.test ready\r\n');
    let buffer = '';
    let inData = false;
    let rcpts = 0;
    c.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      for (let nl = buffer.indexOf('\r\n'); nl !== -1; nl = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            // Answer after a moment, so concurrent deliveries overlap if they may.
            setTimeout(() => c.write('250 2.0.0 ok\r\n'.repeat(rcpts)), 20);
          }
          continue;
        }
        const verb = (line.split(/[ :]/)[0] ?? '').toUpperCase();
        seen.push(verb);
        if (verb === 'LHLO') c.write('250-lmtp.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n');
        else if (verb === 'MAIL') {
          rcpts = 0;
          c.write('250 2.1.0 ok\r\n');
        } else if (verb === 'RCPT') {
          rcpts++;
          c.write('250 2.1.5 ok\r\n');
        } else if (verb === 'DATA') {
          inData = true;
          c.write('354 go\r\n');
        } else if (verb === 'QUIT') c.end('221 bye\r\n');
        else c.write('250 2.0.0 ok\r\n');
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    peak: () => peak,
    close: () => server.close(),
    cutAll: () => {
      for (const s of sockets) s.destroy();
    },
  };
}

let n = 0;
function job(): DeliveryJob {
  n++;
  return {
    queueId: `Q${n}`,
    sender: 's@remote.test',
    receivedAt: 0,
    size: 0,
    body: Buffer.from('Subject: x\r\n\r\nhello\r\n'),
    smtputf8: false,
    eightBit: false,
    recipients: [{ id: 1, rcpt: 'a@l.test', address: 'a@l.test', attempts: 0 }],
  };
}

const opts = { hostname: 'mx.test', server: 'test', connectTimeoutMs: 2000, commandTimeoutMs: 2000, dataTimeoutMs: 2000 };

test('two messages in a row: one connection, LHLO once, RSET between; QUIT after the idle time', { timeout: 10_000 }, async () => {
  const server = await recordingServer();
  const pool = new LmtpPool({ idleMs: 150, concurrency: 5, maxMessages: 100 });
  try {
    const target = { host: '127.0.0.1', port: server.port };
    for (let i = 0; i < 2; i++) {
      const j = job();
      assert.equal((await pool.deliver(target, j, j.recipients, opts)).get(1)?.kind, 'delivered');
    }
    assert.equal(server.connections.length, 1);
    assert.deepEqual(server.connections[0], ['LHLO', 'MAIL', 'RCPT', 'DATA', 'RSET', 'MAIL', 'RCPT', 'DATA']);
    assert.equal(pool.size(), 1);
    const deadline = Date.now() + 5000;
    while (pool.size() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(pool.size(), 0, 'closed after the idle time');
    const waitQuit = Date.now() + 2000;
    while (server.connections[0]?.at(-1) !== 'QUIT' && Date.now() < waitQuit) await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.connections[0]?.at(-1), 'QUIT');
  } finally {
    await pool.close();
    server.close();
  }
});

test('concurrency 2: six messages at once use at most two connections, each reused', { timeout: 10_000 }, async () => {
  const server = await recordingServer();
  const pool = new LmtpPool({ idleMs: 1000, concurrency: 2, maxMessages: 100 });
  try {
    const target = { host: '127.0.0.1', port: server.port };
    const results = await Promise.all(
      Array.from({ length: 6 }, () => {
        const j = job();
        return pool.deliver(target, j, j.recipients, opts);
      }),
    );
    assert.deepEqual(
      results.map((r) => r.get(1)?.kind),
      Array(6).fill('delivered'),
    );
    assert.equal(server.peak(), 2);
    assert.equal(server.connections.length, 2);
    assert.equal(server.connections.flat().filter((c) => c === 'LHLO').length, 2);
  } finally {
    await pool.close();
    server.close();
  }
});

test('a kept connection the server closed meanwhile: the next message opens a new one and is delivered', { timeout: 10_000 }, async () => {
  const server = await recordingServer();
  const pool = new LmtpPool({ idleMs: 5000, concurrency: 5, maxMessages: 100 });
  try {
    const target = { host: '127.0.0.1', port: server.port };
    const first = job();
    await pool.deliver(target, first, first.recipients, opts);
    server.cutAll();
    await new Promise((r) => setTimeout(r, 50));
    const second = job();
    assert.equal((await pool.deliver(target, second, second.recipients, opts)).get(1)?.kind, 'delivered');
    assert.equal(server.connections.length, 2);
  } finally {
    await pool.close();
    server.close();
  }
});
