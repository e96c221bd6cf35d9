import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DnsAnswer } from '../../../src/dns/resolver.ts';
import { reverseLookup } from '../../../src/dns/reverse.ts';

test('reverse names: loopback without a query, the first PTR name, nothing on failure', async () => {
  const asked: string[] = [];
  const answers: Record<string, DnsAnswer<string>> = {
    '192.0.2.1': { kind: 'records', records: ['mail.example.test', 'other.example.test'] },
    '192.0.2.2': { kind: 'nxdomain' },
    '192.0.2.3': { kind: 'timeout', detail: 'slow' },
  };
  const reverse = reverseLookup({
    reverse: async (ip) => {
      asked.push(ip);
      return answers[ip] ?? { kind: 'nodata' };
    },
  });
  assert.equal(await reverse('127.0.0.1'), 'localhost');
  assert.equal(await reverse('::1'), 'localhost');
  assert.equal(await reverse('192.0.2.1'), 'mail.example.test');
  assert.equal(await reverse('192.0.2.2'), undefined);
  assert.equal(await reverse('192.0.2.3'), undefined);
  assert.deepEqual(asked, ['192.0.2.1', '192.0.2.2', '192.0.2.3']);
});
