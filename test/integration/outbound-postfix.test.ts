// The remote courier against a real Postfix receiver (own config dir, certificate from the test
// CA): verify delivers over verified TLS with the hop on record; a Postfix without TLS gets mail
// in plaintext under "may" and none under "encrypt". Loopback only (netless), needs root.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { freePort } from '../helpers/ports.ts';
import { startPostfixReceiver } from '../helpers/postfix.ts';
import { createTestPki, startPostfixTlsReceiver, type TestPki } from '../helpers/receivers.ts';
import { job, makeCourier, openTestDb, outboundConfig } from './outbound-setup.ts';

let dns: DnsServer;
let pki: TestPki;

before(async () => {
  dns = await startDnsServer();
  pki = await createTestPki();
});

after(() => dns.close());

test('Postfix receiver: verify → delivered over verified TLS; plain Postfix: may → plaintext, encrypt → deferred', { timeout: 120_000 }, async (t) => {
  const port = await freePort('127.0.0.60');
  const tlsPeer = await startPostfixTlsReceiver(t, pki, {
    name: 'tlspeer',
    mxName: 'mx.postfix-tls.test',
    host: '127.0.0.60',
    port,
    domains: ['postfix-tls.test'],
  });
  const plainPeer = await startPostfixReceiver(t, {
    name: 'plainpeer',
    hostname: 'mx.postfix-plain.test',
    listen: { host: '127.0.0.61', port },
    domains: ['postfix-plain.test'],
    mainCf: { inet_interfaces: 'all' },
  });
  t.after(() => plainPeer.stop());
  dns.zone.set('postfix-tls.test', { MX: [{ preference: 10, exchange: 'mx.postfix-tls.test' }] });
  dns.zone.set('mx.postfix-tls.test', { A: ['127.0.0.60'] });
  dns.zone.set('postfix-plain.test', { MX: [{ preference: 10, exchange: 'mx.postfix-plain.test' }] });
  dns.zone.set('mx.postfix-plain.test', { A: ['127.0.0.61'] });

  const db = await openTestDb(t);
  const outbound = outboundConfig(port, { tlsPolicy: { 'postfix-tls.test': 'verify', '.encrypt-only.test': 'encrypt' } });
  const { courier, log, attempts } = makeCourier(t, db, dns, pki.trust, outbound);
  const j = job(['alice@postfix-tls.test', 'bob@postfix-plain.test'], 'From: sender@sender.sealpost.test\nSubject: to postfix\n\nhello postfix\n..dot\n');
  const out = await courier.deliver(j);
  assert.equal(out.get(1)?.kind, 'delivered', JSON.stringify(out.get(1)));
  assert.equal(out.get(2)?.kind, 'delivered', JSON.stringify(out.get(2)));
  const [tlsMessage] = await tlsPeer.waitForMessages(1);
  assert.match(tlsMessage?.header('subject') ?? '', /to postfix/);
  assert.match(tlsMessage?.header('received') ?? '', /using TLSv1\.[23]/, 'Postfix recorded the TLS session');
  const hop = log.hops(j.queueId, 'postfix-tls.test').at(-1);
  assert.equal(hop?.policy, 'verify');
  assert.equal(hop?.policySource, 'table');
  assert.equal(hop?.tls?.verified, true);
  assert.match(hop?.reply?.text ?? '', /queued as/);
  const row = (await attempts.forMessage(j.queueId)).find((r) => r.domain === 'postfix-tls.test');
  assert.equal(row?.tls?.verified, true);
  assert.equal(row?.result, 'delivered');
  const [plainMessage] = await plainPeer.waitForMessages(1);
  assert.ok(!/using TLS/.test(plainMessage?.header('received') ?? ''), 'plaintext to the Postfix without TLS');
  assert.equal(log.hops(j.queueId, 'postfix-plain.test').at(-1)?.tls, null);

  // The same plain Postfix as the MX of a domain whose policy is encrypt: deferred, nothing sent.
  dns.zone.set('x.encrypt-only.test', { MX: [{ preference: 10, exchange: 'mx.postfix-plain.test' }] });
  const deferred = await courier.deliver(job(['carol@x.encrypt-only.test'], 'Subject: never\n\nx\n'));
  const d = deferred.get(1);
  assert.ok(d?.kind === 'transient', JSON.stringify(d));
  assert.match(d.reason, /TLS is required \(encrypt\) but the server does not offer STARTTLS/);
  assert.equal((await plainPeer.messages()).length, 1);
});
