import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { SpooledBody } from '../../../src/core/body.ts';
import { createRspamdClient, type ScanInput } from '../../../src/rspamd/client.ts';

const input = (body: ScanInput['body']): ScanInput => ({
  prepend: 'X-Ours: 1\r\n',
  body,
  queueId: 'Q1',
  sender: 'a@b.test',
  rcpts: ['c@d.test'],
  mtaName: 'mx.test',
});

async function listen(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('the rspamd client against loopback HTTP servers', { timeout: 30_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sealpost-rspamd-client-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a spooled body is sent whole after our fields, to /checkv2; the reply is read', async () => {
    const file = path.join(dir, 'spool');
    const rest = Buffer.alloc(3 * 1024 * 1024, 'a');
    await writeFile(file, Buffer.concat([Buffer.from('Subject: s\r\n\r\n'), rest]));
    const body: SpooledBody = { kind: 'spooled', prefix: Buffer.from('Subject: s\r\n\r\n'), file, offset: 14, size: 14 + rest.length };
    let seen: { url?: string; bytes: number; from?: string } = { bytes: 0 };
    const server = await listen((req, res) => {
      let bytes = 0;
      req.on('data', (c: Buffer) => (bytes += c.length));
      req.on('end', () => {
        seen = { url: req.url, bytes, from: req.headers['from'] as string };
        res.end(JSON.stringify({ action: 'no action', score: 0.5, required_score: 15, symbols: {} }));
      });
    });
    try {
      const result = await createRspamdClient({ url: `${server.url}/`, timeoutMs: 10_000, now: Date.now })(input(body));
      assert.ok(result.ok, !result.ok ? result.error : '');
      assert.equal(result.reply.action, 'no action');
      assert.deepEqual(seen, { url: '/checkv2', bytes: 'X-Ours: 1\r\n'.length + body.size, from: 'a@b.test' });
    } finally {
      await server.close();
    }
  });

  test('no answer within timeoutMs, a refused connection, an HTTP error, a server that hangs up mid-body: errors, never hangs', async () => {
    const silent = await listen(() => undefined);
    const failing = await listen((req, res) => {
      req.resume();
      req.on('end', () => {
        res.statusCode = 500;
        res.end('broken');
      });
    });
    const rude = await listen((req) => req.socket.destroy());
    const closed = await listen(() => undefined);
    await closed.close();
    const big = Buffer.alloc(8 * 1024 * 1024, 'b');
    try {
      const started = Date.now();
      const slow = await createRspamdClient({ url: silent.url, timeoutMs: 300, now: Date.now })(input(Buffer.from('x\r\n')));
      assert.ok(!slow.ok && /within 300 ms/.test(slow.error), JSON.stringify(slow));
      assert.ok(Date.now() - started < 5000);
      const refused = await createRspamdClient({ url: closed.url, timeoutMs: 5000, now: Date.now })(input(Buffer.from('x\r\n')));
      assert.ok(!refused.ok && /ECONNREFUSED/.test(refused.error), JSON.stringify(refused));
      const error = await createRspamdClient({ url: failing.url, timeoutMs: 5000, now: Date.now })(input(Buffer.from('x\r\n')));
      assert.ok(!error.ok && /HTTP 500/.test(error.error), JSON.stringify(error));
      const cut = await createRspamdClient({ url: rude.url, timeoutMs: 5000, now: Date.now })(input(big));
      assert.ok(!cut.ok, JSON.stringify(cut));
      assert.doesNotMatch(cut.error, /within/, 'ended by the hang-up, not the timeout');
    } finally {
      await Promise.all([silent.close(), failing.close(), rude.close()]);
    }
  });
});
