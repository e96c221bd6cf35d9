import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reviveBody } from '../../../src/cluster/protocol.ts';

test('a body that crossed the channel becomes a Buffer again; a spool file outside the spool is refused', () => {
  const bytes = new Uint8Array(Buffer.from('xxhello')).subarray(2);
  const revived = reviveBody(bytes, '/data/spool');
  assert.ok(Buffer.isBuffer(revived));
  assert.equal(revived.toString(), 'hello');
  const spooled = { kind: 'spooled' as const, prefix: new Uint8Array(Buffer.from('Received: x\r\n')) as Buffer, file: '/data/spool/ABC', offset: 10, size: 99 };
  const back = reviveBody(spooled, '/data/spool');
  assert.ok(back && !Buffer.isBuffer(back) && Buffer.isBuffer(back.prefix));
  assert.equal(back.file, '/data/spool/ABC');
  assert.equal(reviveBody({ ...spooled, file: '/etc/passwd' }, '/data/spool'), undefined);
  assert.equal(reviveBody({ ...spooled, file: '/data/spool/../x' }, '/data/spool'), undefined);
});
