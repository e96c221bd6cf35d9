// The test DNS server itself: the same answers over TCP (length-prefixed) as over UDP (node:dns).
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { createNodeResolver } from '../../src/dns/node-resolver.ts';
import { startDnsServer } from '../helpers/dns-server.ts';
import { freePort } from '../helpers/ports.ts';

function query(name: string, type: number): Buffer {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const header = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  const tail = Buffer.from([0, 0, type, 0, 1]);
  return Buffer.concat([header, ...labels, tail]);
}

test('UDP through node:dns and TCP by hand', { timeout: 10_000 }, async (t) => {
  const dns = await startDnsServer(new Map([['a.test', { A: ['192.0.2.7'], AAAA: ['2001:db8::7'], TXT: ['v=STSv1; id=1', 'x'.repeat(300)] }]]));
  t.after(() => dns.close());
  const resolver = createNodeResolver({ servers: [dns.address], timeoutMs: 1000 });
  assert.deepEqual(await resolver.resolve4('a.test'), { kind: 'records', records: ['192.0.2.7'] });
  assert.deepEqual(await resolver.resolve6('a.test'), { kind: 'records', records: ['2001:db8::7'] });
  assert.deepEqual(await resolver.resolveTxt('a.test'), { kind: 'records', records: ['v=STSv1; id=1', 'x'.repeat(300)] });
  assert.deepEqual(await resolver.resolveMx('a.test'), { kind: 'nodata' });
  assert.deepEqual(await resolver.resolve4('b.test'), { kind: 'nxdomain' });

  const socket = net.connect(dns.port, '127.0.0.1');
  t.after(() => socket.destroy());
  const q = query('a.test', 1);
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(q.length);
  socket.write(Buffer.concat([prefix, q]));
  const reply = await new Promise<Buffer>((resolve) => {
    let got = Buffer.alloc(0);
    socket.on('data', (c) => {
      got = Buffer.concat([got, c]);
      if (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) resolve(got.subarray(2));
    });
  });
  assert.equal(reply.readUInt16BE(0), 0x1234, 'same id');
  assert.equal(reply.readUInt16BE(2) & 0x000f, 0, 'NOERROR');
  assert.equal(reply.readUInt16BE(6), 1, 'one answer');
  assert.deepEqual([...reply.subarray(reply.length - 4)], [192, 0, 2, 7]);
  assert.ok(dns.queries.includes('a.test A'));
});

test('reverse lookups: a PTR answer, an unknown address is nxdomain, an unreachable server is not', { timeout: 10_000 }, async (t) => {
  const dns = await startDnsServer(new Map([['7.2.0.192.in-addr.arpa', { PTR: ['mx.a.test'] }]]));
  t.after(() => dns.close());
  const resolver = createNodeResolver({ servers: [dns.address], timeoutMs: 1000 });
  assert.deepEqual(await resolver.reverse('192.0.2.7'), { kind: 'records', records: ['mx.a.test'] });
  assert.deepEqual(await resolver.reverse('192.0.2.8'), { kind: 'nxdomain' });
  // Nothing listens there: a DNS failure, never "this address has no PTR" (SPF would then not temperror).
  const port = await freePort();
  const unreachable = createNodeResolver({ servers: [`127.0.0.1:${port}`], timeoutMs: 1000 });
  const answer = await unreachable.reverse('192.0.2.7');
  assert.notEqual(answer.kind, 'nxdomain');
  assert.notEqual(answer.kind, 'records');
});
