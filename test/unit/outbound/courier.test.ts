// The remote courier without a network: DNS answers as data, so no hop reaches a connection.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import tls from 'node:tls';
import { validateConfig } from '../../../src/config/schema.ts';
import type { OutboundConfig } from '../../../src/config/types.ts';
import type { DeliveryJob } from '../../../src/core/delivery.ts';
import type { AttemptRecord } from '../../../src/outbound/attempts-store.ts';
import { RemoteCourier } from '../../../src/outbound/courier.ts';
import { captureLog } from '../../helpers/log.ts';
import { fakeResolver } from '../dns/fake-resolver.ts';

function outbound(settings: Record<string, unknown>): OutboundConfig {
  const r = validateConfig(
    { hostname: 'mx.example.test', data_dir: '/tmp/x', domain: [{ name: 'example.test', mailboxes: ['a'] }], outbound: settings },
    '/etc',
  );
  assert.ok(r.ok);
  return r.config.outbound;
}

const job = (rcpt: string): DeliveryJob => ({
  queueId: 'Q1',
  sender: 'a@example.test',
  receivedAt: 0,
  size: 3,
  body: Buffer.from('x\r\n'),
  smtputf8: false,
  eightBit: false,
  recipients: [{ id: 1, rcpt, address: rcpt, attempts: 0 }],
});

test('a delivery keeps the [outbound] snapshot it started with when a reload swaps in another', { timeout: 5000 }, async () => {
  let inForce = outbound({ tls_default: 'encrypt', port: 2525 });
  const reloaded = outbound({ tls_default: 'verify', port: 2525, tls_policy: { 'dest.test': 'none' } });
  const { log, records } = captureLog();
  const rows: AttemptRecord[] = [];
  const courier = new RemoteCourier({
    hostname: 'mx.example.test',
    outbound: () => inForce,
    resolver: fakeResolver({ 'dest.test': { MX: { kind: 'servfail', detail: 'SERVFAIL' } } }),
    trust: tls.createSecureContext(),
    log,
    attempts: { record: (r) => rows.push(r) },
    // The MTA-STS lookup is where a delivery waits; the reload lands meanwhile.
    sts: async () => {
      inForce = reloaded;
      return undefined;
    },
  });
  const outcomes = await courier.deliver(job('b@dest.test'));
  await courier.close();
  assert.equal(outcomes.get(1)?.kind, 'transient');
  assert.deepEqual(
    rows.map((r) => [r.policy, r.policySource]),
    [['encrypt', 'default']],
    'the level of the snapshot the delivery started with',
  );
  const hop = records.find((r) => r['event'] === 'hop');
  assert.equal(hop?.['policy'], 'encrypt');
  assert.equal(hop?.['error'], rows[0]?.error, 'the log record and the row say the same');
  // The next delivery reads the new snapshot: the table now says none for dest.test.
  const again = await courier.deliver(job('c@dest.test'));
  assert.equal(again.get(1)?.kind, 'transient');
  assert.deepEqual(
    rows.map((r) => [r.policy, r.policySource]),
    [
      ['encrypt', 'default'],
      ['none', 'table'],
    ],
  );
});

test('an MTA-STS policy cache that cannot be read defers the delivery; no host is tried without the policy', { timeout: 5000 }, async () => {
  const { log } = captureLog();
  const rows: AttemptRecord[] = [];
  const asked: string[] = [];
  const courier = new RemoteCourier({
    hostname: 'mx.example.test',
    outbound: () => outbound({ port: 2525 }),
    resolver: fakeResolver({ 'dest.test': { MX: [{ exchange: 'mx.dest.test', preference: 10 }] }, 'mx.dest.test': { A: ['127.0.0.9'] } }, asked),
    trust: tls.createSecureContext(),
    log,
    attempts: { record: (r) => rows.push(r) },
    // What PgStsCache.get does when PostgreSQL is away.
    sts: async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    },
  });
  const outcomes = await courier.deliver(job('b@dest.test'));
  await courier.close();
  const outcome = outcomes.get(1);
  assert.equal(outcome?.kind, 'transient');
  assert.match(outcome?.kind === 'transient' ? outcome.reason : '', /MTA-STS policy cache unavailable: connect ECONNREFUSED/);
  assert.deepEqual(asked, [], 'no MX lookup, no connection');
  assert.deepEqual(rows, []);
});
