// The HTTP-01 responder: pending tokens only, everything else 404 (RFC 8555 §8.3).
import assert from 'node:assert/strict';
import http from 'node:http';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { challengeReply, createChallengeTable, startChallengeServer } from '../../../src/acme/responder.ts';
import { createLogger } from '../../../src/log/log.ts';

const quiet = createLogger('error', new Writable({ write: (_c, _e, done) => done() }));

describe('challengeReply', { timeout: 5000 }, () => {
  const table = createChallengeTable();
  table.set('tok_en-1', 'tok_en-1.thumb');
  const cases: { method: string; url: string; status: number; body?: string }[] = [
    { method: 'GET', url: '/.well-known/acme-challenge/tok_en-1', status: 200, body: 'tok_en-1.thumb' },
    { method: 'HEAD', url: '/.well-known/acme-challenge/tok_en-1', status: 200 },
    { method: 'GET', url: '/.well-known/acme-challenge/tok_en-1?x=1', status: 200 },
    { method: 'GET', url: '/.well-known/acme-challenge/other', status: 404 },
    { method: 'GET', url: '/.well-known/acme-challenge/', status: 404 },
    { method: 'GET', url: '/.well-known/acme-challenge/../etc/passwd', status: 404 },
    { method: 'GET', url: '/', status: 404 },
    { method: 'GET', url: '/index.html', status: 404 },
    { method: 'POST', url: '/.well-known/acme-challenge/tok_en-1', status: 405 },
  ];
  for (const c of cases) {
    it(`${c.method} ${c.url} → ${c.status}`, () => {
      const reply = challengeReply(c.method, c.url, table);
      assert.equal(reply.status, c.status);
      if (c.body !== undefined) assert.equal(reply.body, c.body);
    });
  }
  it('a deleted token is gone', () => {
    const t = createChallengeTable();
    t.set('a', 'a.b');
    t.delete('a');
    assert.equal(challengeReply('GET', '/.well-known/acme-challenge/a', t).status, 404);
  });
});

function get(port: number, path: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
      })
      .on('error', reject);
  });
}

describe('startChallengeServer', { timeout: 10_000 }, () => {
  it('answers over HTTP on the bound port and stops on close()', async () => {
    const table = createChallengeTable();
    const server = await startChallengeServer([{ host: '127.0.0.1', port: 0 }], table, quiet);
    const port = server.addresses[0]?.port ?? 0;
    try {
      assert.equal((await get(port, '/.well-known/acme-challenge/abc')).status, 404);
      table.set('abc', 'abc.xyz');
      const reply = await get(port, '/.well-known/acme-challenge/abc');
      assert.deepEqual([reply.status, reply.body, reply.type], [200, 'abc.xyz', 'text/plain']);
    } finally {
      await server.close();
    }
    await assert.rejects(get(port, '/'));
  });

  it('rejects with the address when a port is taken, and releases the others', async () => {
    const first = await startChallengeServer([{ host: '127.0.0.1', port: 0 }], createChallengeTable(), quiet);
    const taken = first.addresses[0]?.port ?? 0;
    try {
      await assert.rejects(
        startChallengeServer(
          [
            { host: '127.0.0.1', port: 0 },
            { host: '127.0.0.1', port: taken },
          ],
          createChallengeTable(),
          quiet,
        ),
        new RegExp(`127\\.0\\.0\\.1:${taken}`),
      );
    } finally {
      await first.close();
    }
  });
});
