import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Courier, DeliveryJob, Outcome } from '../../../src/core/delivery.ts';
import { envelopeSender, forwardingCourier } from '../../../src/outbound/forward.ts';
import { buildDirectory } from '../../../src/routing/recipients.ts';
import { srsForward } from '../../../src/srs/srs.ts';

const directory = buildDirectory([
  { name: 'example.test', mailboxes: ['alice'], aliases: { fwd: 'friend@remote.test' }, catchAll: '' },
  { name: 'second.test', mailboxes: ['bob'], aliases: {}, catchAll: '' },
]);
const keys = { secrets: ['forward-test-secret'], domain: 'example.test' };
const NOW = 1_795_000_000_000;
const srs = (sender: string) => srsForward(sender, keys, NOW);

test('envelopeSender: SRS only for a forward (rcpt ours, address elsewhere) of a sender not ours', () => {
  const forward = { rcpt: 'fwd@example.test', address: 'friend@remote.test' };
  const relayed = { rcpt: 'friend@remote.test', address: 'friend@remote.test' };
  const cases: [string, { rcpt: string; address: string }, string | undefined][] = [
    ['someone@sender.test', forward, srs('someone@sender.test')],
    ['', forward, ''],
    ['alice@example.test', forward, 'alice@example.test'],
    ['bob@second.test', forward, 'bob@second.test'],
    // Our own SRS addresses are not rewritten again (they are at our domain).
    [srs('x@y.test') ?? '', forward, srs('x@y.test')],
    ['someone@sender.test', relayed, 'someone@sender.test'],
    // A bounce (<>) to an SRS address keeps <>; a non-null sender to one is rewritten.
    ['', { rcpt: srs('orig@sender.test') ?? '', address: 'orig@sender.test' }, ''],
    ['someone@sender.test', { rcpt: srs('orig@sender.test') ?? '', address: 'orig@sender.test' }, srs('someone@sender.test')],
  ];
  for (const [sender, r, expected] of cases) assert.equal(envelopeSender(sender, r, directory, keys, NOW), expected, `${sender} → ${r.address}`);
});

test('forwardingCourier: one delivery per envelope sender, the outcomes of all put together', async () => {
  const seen: { sender: string; ids: number[] }[] = [];
  const inner: Courier = {
    async deliver(job: DeliveryJob) {
      seen.push({ sender: job.sender, ids: job.recipients.map((r) => r.id) });
      return new Map<number, Outcome>(job.recipients.map((r) => [r.id, { kind: 'delivered' }]));
    },
  };
  const courier = forwardingCourier(inner, { directory: () => directory, keys, now: () => NOW });
  const job: DeliveryJob = {
    queueId: 'Q1',
    sender: 'someone@sender.test',
    receivedAt: NOW,
    size: 10,
    body: Buffer.from('x\r\n'),
    smtputf8: false,
    eightBit: false,
    recipients: [
      { id: 1, rcpt: 'fwd@example.test', address: 'friend@remote.test', attempts: 0 },
      { id: 2, rcpt: 'friend@remote.test', address: 'friend@remote.test', attempts: 0 },
    ],
  };
  const out = await courier.deliver(job);
  assert.deepEqual([...out.keys()].sort(), [1, 2]);
  // The outcome of a rewritten delivery names the sender used (for the "delivered" record).
  assert.deepEqual(out.get(1), { kind: 'delivered', mailFrom: srs('someone@sender.test') });
  assert.deepEqual(out.get(2), { kind: 'delivered' });
  assert.deepEqual(
    seen.sort((a, b) => (a.ids[0] ?? 0) - (b.ids[0] ?? 0)),
    [
      { sender: srs('someone@sender.test'), ids: [1] },
      { sender: 'someone@sender.test', ids: [2] },
    ],
  );
  seen.length = 0;
  await courier.deliver({ ...job, recipients: [job.recipients[1] as DeliveryJob['recipients'][number]] });
  assert.deepEqual(seen, [{ sender: 'someone@sender.test', ids: [2] }], 'nothing forwarded: the job as it was');
});
