// The source address and address families of outbound connections, on loopback with real SMTP
// receivers: [outbound] source_ipv4 binds 127.0.0.2 or 127.0.0.3 and the receiver sees that peer
// address (the hop record and the attempts row name it); address_family = "ipv4" uses the A record
// of a host that also has an AAAA (::1, where a receiver listens too); prefer = "ipv4" tries A first.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { freePort } from '../helpers/ports.ts';
import { createTestPki, type Receiver, startReceiver, type TestPki } from '../helpers/receivers.ts';
import { job, makeCourier, openTestDb, outboundConfig } from './outbound-setup.ts';

let dns: DnsServer;
let pki: TestPki;
let port: number;
let v4: Receiver;
let v6: Receiver;

before(async () => {
  dns = await startDnsServer();
  pki = await createTestPki();
  // One port free on both addresses: the same MX host answers on its A and its AAAA.
  for (;;) {
    port = await freePort('127.0.0.40');
    try {
      v6 = await startReceiver('valid', { host: '::1', port, mxName: 'mx.dual.test', pki });
      break;
    } catch {
      // taken on ::1: another port
    }
  }
  v4 = await startReceiver('valid', { host: '127.0.0.40', port, mxName: 'mx.dual.test', pki });
  dns.zone.set('dual.test', { MX: [{ preference: 10, exchange: 'mx.dual.test' }] });
  dns.zone.set('mx.dual.test', { A: ['127.0.0.40'], AAAA: ['::1'] });
});

after(async () => {
  await v4.close();
  await v6.close();
  await dns.close();
});

function arrived(r: Receiver, subject: string): { remoteAddress: string } | undefined {
  return r.messages.find((m) => m.body.includes(`Subject: ${subject}`));
}

test('source_ipv4 = 127.0.0.2, then 127.0.0.3: the receiver sees that peer address; the hop and the attempts row name it', { timeout: 30_000 }, async (t) => {
  for (const source of ['127.0.0.2', '127.0.0.3']) {
    const db = await openTestDb(t);
    const { courier, log, attempts } = makeCourier(t, db, dns, pki.trust, outboundConfig(port, { addressFamily: 'ipv4', ipv6: false, sourceIpv4: source }));
    const j = job(['carol@dual.test'], `Subject: from ${source}\n\nhello\n`);
    const out = await courier.deliver(j);
    assert.equal(out.get(1)?.kind, 'delivered', JSON.stringify(out.get(1)));
    assert.equal(arrived(v4, `from ${source}`)?.remoteAddress, source);
    const [hop] = log.hops(j.queueId);
    assert.equal((hop as unknown as { source: string }).source, source);
    assert.equal((await attempts.forMessage(j.queueId))[0]?.source, source);
  }
});

test('address_family = "ipv4": a host with AAAA (::1) and A is reached at its A; the default tries ::1 first', { timeout: 30_000 }, async (t) => {
  const ipv4Only = makeCourier(t, await openTestDb(t), dns, pki.trust, outboundConfig(port, { addressFamily: 'ipv4', ipv6: false }));
  const before = dns.queries.length;
  const j = job(['dave@dual.test'], 'Subject: ipv4 only\n\nhello\n');
  assert.equal((await ipv4Only.courier.deliver(j)).get(1)?.kind, 'delivered');
  assert.ok(arrived(v4, 'ipv4 only'), 'delivered at the A address');
  assert.ok(!arrived(v6, 'ipv4 only'), 'not at ::1');
  assert.ok(!dns.queries.slice(before).some((q) => q.endsWith(' AAAA')), `no AAAA lookup: ${dns.queries.slice(before).join(', ')}`);
  assert.equal(ipv4Only.log.hops(j.queueId)[0]?.ip, '127.0.0.40');

  const any = makeCourier(t, await openTestDb(t), dns, pki.trust, outboundConfig(port, { addressFamily: 'any', prefer: 'ipv6' }));
  const k = job(['erin@dual.test'], 'Subject: any family\n\nhello\n');
  assert.equal((await any.courier.deliver(k)).get(1)?.kind, 'delivered');
  assert.equal(arrived(v6, 'any family')?.remoteAddress, '::1', 'prefer = "ipv6" (the default) goes to the AAAA first');
});

test('prefer = "ipv4": both families used, the A address first', { timeout: 30_000 }, async (t) => {
  const { courier, log } = makeCourier(
    t,
    await openTestDb(t),
    dns,
    pki.trust,
    outboundConfig(port, { addressFamily: 'any', prefer: 'ipv4', sourceIpv4: '127.0.0.3' }),
  );
  const j = job(['frank@dual.test'], 'Subject: prefer ipv4\n\nhello\n');
  assert.equal((await courier.deliver(j)).get(1)?.kind, 'delivered');
  assert.equal(arrived(v4, 'prefer ipv4')?.remoteAddress, '127.0.0.3');
  assert.equal(log.hops(j.queueId)[0]?.ip, '127.0.0.40');
});
