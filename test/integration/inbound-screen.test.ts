// The connection checks of port 25 with real clients on other loopback addresses: DNSBLs at
// connect against the test DNS server's blocklist zone (127.0.0.66 listed, 127.0.0.7 answered
// with Spamhaus's "query refused" code), an early talker, pipelining before EHLO offered it, the
// per-minute connection rate, and the DNSBL count in `sealpost status`; and a real Postfix from
// an unlisted address (it waits for the greeting, pipelines only after EHLO) passes them all.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StatusReport } from '../../src/cli/status.ts';
import { startSealpost } from '../helpers/daemon.ts';
import { startDnsServer } from '../helpers/dns-server.ts';
import { composeMessage } from '../helpers/maildir.ts';
import { startPostfixSender } from '../helpers/postfix.ts';
import { waitFor } from '../helpers/wait.ts';
import { connectSmtp } from './inbound-smtp.ts';

const ZONE = 'bl.sealpost.test';

test('port 25 connection checks: DNSBL, early talker, pipelining before EHLO, connection rate', { timeout: 120_000 }, async (t) => {
  const dns = await startDnsServer(
    new Map([
      [`66.0.0.127.${ZONE}`, { A: ['127.0.0.2'] }],
      [`7.0.0.127.${ZONE}`, { A: ['127.255.255.254'] }],
    ]),
  );
  t.after(() => dns.close());
  const daemon = await startSealpost(t, {
    config: {
      dns: { servers: [dns.address], timeout_ms: 1000 },
      inbound: { greet_pause_ms: 300, dnsbl: { zones: [{ zone: ZONE, weight: 2, codes: ['127.0.0.2-127.0.0.11'] }], threshold: 2 } },
      limits: { connections_per_minute_per_ip: 3 },
    },
  });
  const port = daemon.smtpPort;

  await t.test('a listed client is greeted, then refused naming the zone, with one log record', async () => {
    const smtp = await connectSmtp(port, { localAddress: '127.0.0.66' });
    try {
      assert.equal((await smtp.reply()).code, 220);
      const ehlo = await smtp.command('EHLO spam.client.test');
      assert.equal(ehlo.code, 554, ehlo.text);
      assert.equal(ehlo.text, `5.7.1 Service unavailable; client [127.0.0.66] blocked using ${ZONE}`);
      assert.equal((await smtp.command('MAIL FROM:<spam@client.test>')).code, 554);
      assert.equal((await smtp.command('QUIT')).code, 221);
    } finally {
      smtp.destroy();
    }
    const record = await daemon.waitForLog({ event: 'rejected', stage: 'connect', reason: 'dnsbl', clientIp: '127.0.0.66' });
    assert.equal(record['zone'], ZONE);
    assert.deepEqual(record['listed'], [`${ZONE}=127.0.0.2`]);
    assert.equal(record['score'], 2);
    assert.equal(daemon.findLogs({ event: 'rejected', reason: 'dnsbl' }).length, 1);
  });

  await t.test('an unlisted client passes and its mail is delivered', async () => {
    const smtp = await connectSmtp(port, { localAddress: '127.0.0.5' });
    try {
      assert.equal((await smtp.reply()).code, 220);
      assert.equal((await smtp.command('EHLO good.client.test')).code, 250);
      assert.equal((await smtp.command('MAIL FROM:<carol@remote.test>')).code, 250);
      assert.equal((await smtp.command('RCPT TO:<alice@example.test>')).code, 250);
      assert.equal((await smtp.command('DATA')).code, 354);
      const end = await smtp.command('Subject: from a clean client\r\n\r\nhello\r\n.');
      assert.equal(end.code, 250, end.text);
    } finally {
      smtp.destroy();
    }
    const mail = await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'alice' });
    assert.equal(mail[0]?.subject, 'from a clean client');
    assert.ok(dns.queries.includes(`5.0.0.127.${ZONE} A`), dns.queries.join(', '));
  });

  await t.test('"query refused" (127.255.255.254) is no listing: logged once as a configuration problem', async () => {
    for (let i = 0; i < 2; i++) {
      const smtp = await connectSmtp(port, { localAddress: '127.0.0.7' });
      try {
        assert.equal((await smtp.reply()).code, 220);
        const ehlo = await smtp.command('EHLO other.client.test');
        assert.equal(ehlo.code, 250, ehlo.text);
      } finally {
        smtp.destroy();
      }
    }
    const problem = await daemon.waitForLog({ problem: 'dnsbl', zone: ZONE });
    assert.equal(problem['why'], 'refused');
    assert.equal(problem['answer'], '127.255.255.254');
    assert.match(String(problem['msg']), /local resolver/);
    assert.equal(daemon.findLogs({ problem: 'dnsbl' }).length, 1);
    assert.equal(daemon.findLogs({ event: 'rejected', clientIp: '127.0.0.7' }).length, 0);
  });

  await t.test('an early talker gets 554 instead of the greeting and is closed', async () => {
    const smtp = await connectSmtp(port, { localAddress: '127.0.0.8' });
    try {
      smtp.write('EHLO early.client.test\r\n');
      const reply = await smtp.reply();
      assert.equal(reply.code, 554, reply.text);
      assert.match(reply.text, /^5\.5\.1 Protocol error: talked before the greeting/);
      assert.equal(await smtp.closed(), '');
    } finally {
      smtp.destroy();
    }
    const record = await daemon.waitForLog({ event: 'rejected', stage: 'connect', clientIp: '127.0.0.8' });
    assert.match(String(record['reason']), /early talker/);
    assert.equal(record['reply'], '554 5.5.1');
  });

  await t.test('commands pipelined with EHLO (before it offered PIPELINING) → 554 and close; after EHLO they pass', async () => {
    const smtp = await connectSmtp(port, { localAddress: '127.0.0.9' });
    try {
      assert.equal((await smtp.reply()).code, 220);
      smtp.write('EHLO hasty.client.test\r\nMAIL FROM:<carol@remote.test>\r\n');
      const reply = await smtp.reply();
      assert.equal(reply.code, 554, reply.text);
      assert.match(reply.text, /^5\.5\.0 .*pipelining/);
      await smtp.closed();
    } finally {
      smtp.destroy();
    }
    const record = await daemon.waitForLog({ event: 'rejected', stage: 'connect', clientIp: '127.0.0.9' });
    assert.match(String(record['reason']), /pipelining before EHLO/);

    const polite = await connectSmtp(port, { localAddress: '127.0.0.10' });
    try {
      assert.equal((await polite.reply()).code, 220);
      assert.match((await polite.command('EHLO polite.client.test')).text, /^PIPELINING$/m);
      polite.write('MAIL FROM:<carol@remote.test>\r\nRCPT TO:<alice@example.test>\r\n');
      assert.equal((await polite.reply()).code, 250);
      assert.equal((await polite.reply()).code, 250);
    } finally {
      polite.destroy();
    }
  });

  await t.test('over connections_per_minute_per_ip → 421; relay.networks are not counted', async () => {
    for (let i = 0; i < 3; i++) {
      const smtp = await connectSmtp(port, { localAddress: '127.0.0.11' });
      try {
        assert.equal((await smtp.reply()).code, 220);
      } finally {
        smtp.destroy();
      }
    }
    const over = await connectSmtp(port, { localAddress: '127.0.0.11' });
    try {
      const reply = await over.reply();
      assert.equal(reply.code, 421, reply.text);
      assert.match(reply.text, /^4\.7\.0 .*in the last minute/);
    } finally {
      over.destroy();
    }
    await daemon.waitForLog({
      event: 'rejected',
      stage: 'connect',
      clientIp: '127.0.0.11',
      reason: 'too many connections from this address in the last minute',
    });
    for (let i = 0; i < 4; i++) {
      const trusted = await connectSmtp(port);
      try {
        assert.equal((await trusted.reply()).code, 220);
      } finally {
        trusted.destroy();
      }
    }
  });

  await t.test('sealpost status counts the connections refused by DNSBL', async () => {
    const report = await waitFor(
      async () => {
        const r = await daemon.cli(['status', '--json']);
        const parsed = JSON.parse(r.stdout) as StatusReport;
        return parsed.refused?.dnsbl === 1 ? parsed : undefined;
      },
      { timeoutMs: 15_000, what: 'status to count the DNSBL refusal' },
    );
    assert.equal(report.refused?.dnsbl, 1);
    const text = await daemon.cli(['status']);
    assert.match(text.stdout, /^refused {7}1 connection by DNSBL in the last day$/m);
  });
});

test('a real Postfix: unlisted, it passes the greeting pause, the DNSBL and the pipelining check; listed, it is told the zone', {
  timeout: 90_000,
}, async (t) => {
  const dns = await startDnsServer(new Map([[`66.0.0.127.${ZONE}`, { A: ['127.0.0.2'] }]]));
  t.after(() => dns.close());
  const daemon = await startSealpost(t, {
    config: {
      dns: { servers: [dns.address], timeout_ms: 1000 },
      inbound: { greet_pause_ms: 300, dnsbl: { zones: [{ zone: ZONE }] } },
    },
  });
  const sender = await startPostfixSender(t, {
    relayTo: { host: '127.0.0.1', port: daemon.smtpPort },
    // From outside relay.networks, so every check applies; Postfix pipelines MAIL/RCPT/DATA after EHLO.
    mainCf: { smtp_bind_address: '127.0.0.5', smtp_tls_security_level: 'none' },
  });
  for (let i = 0; i < 3; i++) {
    const subject = `postfix through the checks ${i}`;
    await sender.inject('carol@origin.test', ['alice@example.test'], composeMessage({ from: 'carol@origin.test', to: ['alice@example.test'], subject }));
  }
  await sender.waitForQueueEmpty(60_000);
  const mail = await daemon.waitForMail(3, { domain: 'example.test', mailbox: 'alice', timeoutMs: 20_000 });
  assert.equal(mail.length, 3);
  assert.ok(dns.queries.includes(`5.0.0.127.${ZONE} A`), dns.queries.join(', '));
  assert.equal(daemon.findLogs({ event: 'rejected', stage: 'connect' }).length, 0);
  const sessions = daemon.findLogs({ event: 'session', clientIp: '127.0.0.5' });
  assert.ok(sessions.length >= 1 && sessions.every((r) => r['rejections'] === 0), JSON.stringify(sessions));

  // The same Postfix from the listed address is told why, as its log shows.
  const listed = await startPostfixSender(t, {
    name: 'listed',
    hostname: 'listed.origin.test',
    relayTo: { host: '127.0.0.1', port: daemon.smtpPort },
    mainCf: { smtp_bind_address: '127.0.0.66', smtp_tls_security_level: 'none' },
  });
  await listed.inject(
    'carol@origin.test',
    ['alice@example.test'],
    composeMessage({ from: 'carol@origin.test', to: ['alice@example.test'], subject: 'listed' }),
  );
  const line = await waitFor(async () => (await listed.log()).split('\n').find((l) => l.includes(`blocked using ${ZONE}`)), {
    timeoutMs: 30_000,
    what: "Postfix's log to show the DNSBL refusal",
  });
  assert.match(line, /554 5\.7\.1 Service unavailable; client \[127\.0\.0\.66\] blocked using/);
  assert.equal((await daemon.readMaildir('example.test', 'alice')).length, 3);
});
