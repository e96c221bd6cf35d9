// Forwarding with SRS and ARC, end to end on loopback: a sender at 127.0.0.9 (swaks) mails an
// alias of ours that forwards to a Postfix receiver's domain; Sealpost sends it on from 127.0.0.1
// with an SRS0 envelope sender. At the receiver, mailauth (with the test DNS) finds SPF passing
// for our domain (it would fail for the original sender's), the original DKIM signature intact
// and our ARC set valid; Mail::SRS (libmail-srs-perl) reverses the address with our secret. A
// message to a missing mailbox there is accepted, then bounced by Postfix to the SRS address, and
// that bounce comes back through us to the original sender. Forged and expired SRS addresses get
// 550 5.1.1 at RCPT. Needs root (Postfix).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { authenticate, type DKIMSignOptions, dkimSign } from 'mailauth';
import { dkimRecord, generateDkimKey } from '../../src/dkim/keys.ts';
import { createNodeResolver } from '../../src/dns/node-resolver.ts';
import { mailauthResolver } from '../../src/mailauth/resolver.ts';
import { srsForward } from '../../src/srs/srs.ts';
import { type SealpostDaemon, startSealpost } from '../helpers/daemon.ts';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { headerValue } from '../helpers/maildir.ts';
import { freePort } from '../helpers/ports.ts';
import { type PostfixReceiver, startPostfixReceiver } from '../helpers/postfix.ts';
import { run } from '../helpers/proc.ts';
import type { Overrides, SealpostToml } from '../helpers/sealpost-config.ts';
import { swaks } from '../helpers/swaks.ts';
import { makeTempDir, removeTempDir, type Scope } from '../helpers/tmp.ts';
import { prepareWithCli, smtpLines } from './submission-setup.ts';

const RECEIVER_IP = '127.0.0.20';
/** The original sender's server: its SPF names this address only. */
const SENDER_IP = '127.0.0.9';
const DAY = 86_400_000;

/** mailauth answers false for a check it did not run. */
const statusOf = (result: false | { status: { result: string } }): string => (result ? result.status.result : 'not run');

describe('forwarding with SRS and ARC', { timeout: 300_000 }, () => {
  const cleanups: (() => unknown)[] = [];
  const scope: Scope = { after: (fn) => void cleanups.push(fn) };
  let dns: DnsServer;
  let receiver: PostfixReceiver;
  let sealpost: SealpostDaemon;
  let secret: string;

  before(async () => {
    const dir = await makeTempDir('sealpost-srs-');
    cleanups.push(() => removeTempDir(dir));
    const senderKey = generateDkimKey('rsa-2048');
    dns = await startDnsServer(
      new Map([
        ['remote.test', { MX: [{ preference: 10, exchange: 'mx.remote.test' }] }],
        ['sender.test', { MX: [{ preference: 10, exchange: 'mx.remote.test' }], TXT: [`v=spf1 ip4:${SENDER_IP} -all`] }],
        ['mx.remote.test', { A: [RECEIVER_IP] }],
        ['s1._domainkey.sender.test', { TXT: [dkimRecord(senderKey)] }],
        // Our domain's SPF: the address Sealpost delivers from on loopback.
        ['example.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] }],
      ]),
    );
    cleanups.push(() => dns.close());
    const smtpPort = await freePort();
    const mxPort = await freePort(RECEIVER_IP);
    const overrides = {
      data_dir: path.join(dir, 'data'),
      listen: { smtp: [`127.0.0.1:${smtpPort}`] },
      dns: { servers: [dns.address] },
      // Nobody on loopback may relay: the forward is what sends mail on.
      relay: { networks: ['127.0.0.250/32'] },
      domain: [
        {
          name: 'example.test',
          mailboxes: ['alice'],
          aliases: { postmaster: 'alice', fwd: 'friend@remote.test', gone: 'missing@remote.test' },
          dkim_selectors: ['arc1'],
        },
      ],
      outbound: { port: mxPort, mta_sts: false },
      arc: { enabled: true },
    } as unknown as Overrides<SealpostToml>; // dkim_selectors and [arc] are not in the helper's type
    const { records } = await prepareWithCli(path.join(dir, 'cli'), overrides, { keys: [{ domain: 'example.test', selector: 'arc1', type: 'rsa-2048' }] });
    for (const [name, txt] of records) dns.zone.set(name, { TXT: [txt] });
    receiver = await startPostfixReceiver(scope, {
      hostname: 'mx.remote.test',
      listen: { host: RECEIVER_IP, port: mxPort },
      domains: ['remote.test', 'sender.test'],
      mailboxes: ['friend@remote.test', 'orig@sender.test'],
      mainCf: {
        inet_interfaces: 'all',
        // Unknown mailboxes are accepted, then bounced: the bounce goes to the envelope sender (our SRS address).
        smtpd_reject_unlisted_recipient: 'no',
        transport_maps: `inline:{ example.test=smtp:[127.0.0.1]:${smtpPort} }`,
      },
    });
    cleanups.push(() => receiver.stop());
    sealpost = await startSealpost(scope, { config: overrides });
    secret = (await readFile(path.join(sealpost.dataDir, 'srs', 'secret'), 'utf8')).trim();

    const message = [
      'From: Orig <orig@sender.test>',
      'To: fwd@example.test',
      'Subject: forwarded with SRS',
      'Message-ID: <srs-1@sender.test>',
      'Date: Wed, 02 Dec 2026 03:00:00 +0000',
      '',
      'Hello through the forward.',
      '',
    ].join('\r\n');
    // mailauth signs with signatureData only; its .d.ts still marks the single-key fields required (as src/dkim/signer.ts).
    const signOptions = { canonicalization: 'relaxed/relaxed', signatureData: [{ signingDomain: 'sender.test', selector: 's1', privateKey: senderKey }] };
    const signed = await dkimSign(message, signOptions as unknown as DKIMSignOptions);
    assert.match(signed.signatures, /^DKIM-Signature: /);
    const sent = await swaks(
      [
        '--server',
        `127.0.0.1:${smtpPort}`,
        '--local-interface',
        SENDER_IP,
        '--ehlo',
        'mail.sender.test',
        '--from',
        'orig@sender.test',
        '--to',
        'fwd@example.test',
        '--data',
        '-',
      ],
      { input: signed.signatures + message },
    );
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  test('the forward arrives with an SRS sender: SPF passes for our domain, the original DKIM and our ARC set verify', { timeout: 120_000 }, async () => {
    const [arrived] = await receiver.waitForMessages(1, 60_000);
    assert.ok(arrived);
    const returnPath = (headerValue(arrived.raw, 'return-path') ?? '').replace(/^<|>$/g, '');
    assert.match(returnPath, /^SRS0=[A-Za-z0-9+/]{4}=[A-Z2-7]{2}=sender\.test=orig@example\.test$/);
    // Postfix's own trace field says which address Sealpost connected from.
    const ip = /\[(127\.\d+\.\d+\.\d+)\]/.exec(headerValue(arrived.raw, 'received') ?? '')?.[1] ?? '';
    assert.equal(ip, '127.0.0.1');
    const nodeResolver = createNodeResolver({ servers: [dns.address], timeoutMs: 2000 });
    const resolver = mailauthResolver(nodeResolver, nodeResolver);
    const checked = await authenticate(Buffer.from(arrived.raw), {
      ip,
      helo: 'mx.sealpost.test',
      sender: returnPath,
      mta: 'mx.remote.test',
      resolver,
      disableBimi: true,
    });
    assert.equal(statusOf(checked.spf), 'pass', JSON.stringify(checked.spf));
    const original = checked.dkim.results.find((r) => r.signingDomain === 'sender.test');
    assert.equal(original?.status.result, 'pass', `the original DKIM signature is untouched: ${JSON.stringify(checked.dkim.results)}`);
    assert.equal(statusOf(checked.arc), 'pass', JSON.stringify(checked.arc));
    assert.match(arrived.raw, /ARC-Seal: i=1; a=rsa-sha256; .*d=example\.test; s=arc1/s);
    // Without SRS the receiver would have checked the original sender's domain, whose SPF does not name us.
    const unrewritten = await authenticate(Buffer.from(arrived.raw), {
      ip,
      helo: 'mx.sealpost.test',
      sender: 'orig@sender.test',
      mta: 'mx.remote.test',
      resolver,
      disableBimi: true,
    });
    assert.equal(statusOf(unrewritten.spf), 'fail');
    // A second implementation reverses our address with our secret.
    const perl = await run('perl', ['-MMail::SRS', '-e', 'print Mail::SRS->new(Secret => [$ARGV[0]], MaxAge => 21)->reverse($ARGV[1])', secret, returnPath]);
    assert.equal(perl.stdout, 'orig@sender.test', perl.stderr);
    const delivered = sealpost.findLogs({ event: 'delivered', to: 'friend@remote.test' }).at(-1);
    assert.equal(delivered?.['mailFrom'], returnPath, 'the delivered record names the SRS sender');
    assert.ok(!sealpost.logs().some((r) => JSON.stringify(r).includes(secret)), 'the secret is in no log record');
  });

  test("the receiver's bounce to the SRS address comes back through us to the original sender", { timeout: 120_000 }, async () => {
    const message = 'From: orig@sender.test\r\nTo: gone@example.test\r\nSubject: to a missing mailbox\r\n\r\nbounce me\r\n';
    const sent = await swaks(
      ['--server', `127.0.0.1:${sealpost.smtpPort}`, '--local-interface', SENDER_IP, '--from', 'orig@sender.test', '--to', 'gone@example.test', '--data', '-'],
      { input: message },
    );
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    const bounce = await receiver.waitForMessages(2, 90_000).then((all) => all.find((m) => m.maildir === 'sender.test/orig'));
    assert.ok(bounce, 'the bounce reached orig@sender.test');
    assert.equal(headerValue(bounce.raw, 'return-path'), '<>');
    assert.match(headerValue(bounce.raw, 'from') ?? '', /MAILER-DAEMON@mx\.remote\.test/i);
    assert.match(bounce.raw, /missing@remote\.test/);
    assert.match(bounce.raw, /to a missing mailbox/);
    // It came in at an SRS address of ours (the receiver bounced to the envelope sender we gave it).
    const received = await sealpost.waitForLog((r) => r.event === 'received' && r.from === '' && Array.isArray(r.to) && /^SRS0=/.test(String(r.to[0])));
    assert.match(String((received.to as string[])[0]), /^SRS0=.*=sender\.test=orig@example\.test$/);
  });

  test('forged and expired SRS addresses are refused at RCPT with 550 5.1.1', { timeout: 60_000 }, async () => {
    const keys = { secrets: [secret], domain: 'example.test' };
    const valid = srsForward('someone@sender.test', keys, Date.now()) ?? '';
    const forged = valid.replace(/^SRS0=..../, (tag) => (tag === 'SRS0=AAAA' ? 'SRS0=BBBB' : 'SRS0=AAAA'));
    const expired = srsForward('someone@sender.test', keys, Date.now() - 22 * DAY) ?? '';
    const s = await smtpLines(sealpost.smtpPort);
    try {
      await s.command();
      await s.command('EHLO mx.remote.test');
      assert.match(await s.command('MAIL FROM:<>'), /^250/);
      assert.match(await s.command(`RCPT TO:<${forged}>`), /^550 5\.1\.1 .*invalid SRS address/);
      assert.match(await s.command(`RCPT TO:<${expired}>`), /^550 5\.1\.1 .*expired SRS address/);
      assert.match(await s.command(`RCPT TO:<${valid}>`), /^250/, 'a fresh one with our secret is taken');
      await s.command('QUIT');
    } finally {
      s.close();
    }
  });
});
