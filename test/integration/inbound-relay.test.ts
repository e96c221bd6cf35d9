// No open relay under any address trick: from a client outside relay.networks, RCPT to another
// domain is refused (554 5.7.1), and percent hacks, source routes, bang paths, quoted "@", trailing
// dots, case and IDN forms end as a refusal or as one of our own mailboxes, never as mail queued
// for another domain. swaks per case (exit code + the RCPT reply), a raw client for SMTPUTF8.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { type SealpostDaemon, startSealpost } from '../helpers/daemon.ts';
import { swaks } from '../helpers/swaks.ts';
import { connectSmtp, queueList, suiteScope } from './inbound-smtp.ts';

/** What swaks reported for RCPT TO: the reply code and enhanced code, and its exit code. */
async function rcptReply(port: number, rcpt: string): Promise<{ exit: number | null; code: number; enhanced: string; line: string }> {
  const result = await swaks([
    '--server',
    `127.0.0.1:${port}`,
    '--from',
    'mallory@attacker.test',
    '--to',
    rcpt,
    '--ehlo',
    'attacker.test',
    '--timeout',
    '10',
    '--quit-after',
    'RCPT',
  ]);
  // swaks prints the server's replies as "<-  250 …" (accepted) or "<** 554 …" (refused).
  const lines = result.stdout.split('\n');
  const at = lines.findIndex((l) => l.startsWith(' -> RCPT TO:'));
  const line = lines.slice(at + 1).find((l) => /^<(-|\*\*) {1,2}\d{3} /.test(l)) ?? '';
  const match = /^<(?:-|\*\*) {1,2}(\d{3}) (\d\.\d\.\d+)?/.exec(line);
  assert.ok(at >= 0 && match, `swaks sent RCPT TO:<${rcpt}> and got a reply:\n${result.stdout}${result.stderr}`);
  return { exit: result.code, code: Number(match[1]), enhanced: match[2] ?? '', line };
}

describe('inbound: relay refused, address tricks', () => {
  const scope = suiteScope();
  let daemon: SealpostDaemon;
  before(async () => {
    daemon = await startSealpost(scope, {
      config: {
        // 127.0.0.1 (the test clients) is not a relay network here.
        relay: { networks: ['192.0.2.0/24'] },
        domain: [
          { name: 'example.test', mailboxes: ['alice', 'bob'], aliases: { postmaster: 'alice' } },
          // bücher.test, configured in its A-label (punycode) form.
          { name: 'xn--bcher-kva.test', mailboxes: ['hans'] },
        ],
      },
    });
  });

  // [RCPT, reply code, enhanced code]. swaks exits 0 when RCPT was accepted, 24 when not.
  const cases: [string, number, string][] = [
    ['user@other.test', 554, '5.7.1'],
    ['USER@OTHER.TEST', 554, '5.7.1'],
    // Percent hack: the whole "user%other.test" is a local part at example.test: unknown user.
    ['user%other.test@example.test', 550, '5.1.1'],
    // Source route: ignored (RFC 5321 §3.6.1); what remains is user@other.test.
    ['@example.test:user@other.test', 554, '5.7.1'],
    // smtp-server's parser refuses a source route of several hops, and a quoted local part with "@".
    ['@example.test,@example.test:user@other.test', 501, '5.1.3'],
    // Bang path: a local part at example.test.
    ['other.test!user@example.test', 550, '5.1.1'],
    ['"user@other.test"@example.test', 501, '5.1.3'],
    ['"user@other.test"', 501, '5.1.3'],
    // Trailing dots: not a valid domain, never taken for one of ours or another.
    ['user@other.test.', 501, '5.1.3'],
    ['alice@example.test.', 501, '5.1.3'],
    // Another domain that merely ends like ours.
    ['alice@notexample.test', 554, '5.7.1'],
    ['alice@example.test.other.test', 554, '5.7.1'],
    // IP literals are other hosts.
    ['user@[192.0.2.1]', 554, '5.7.1'],
    ['user@[127.0.0.1]', 554, '5.7.1'],
    // Ours, in any case.
    ['ALICE@EXAMPLE.TEST', 250, '2.1.5'],
    ['PostMaster@Example.Test', 250, '2.1.5'],
    ['nobody@example.test', 550, '5.1.1'],
    // IDN: the A-label form of our punycode domain is ours; other A-labels are not.
    ['hans@xn--bcher-kva.test', 250, '2.1.5'],
    ['hans@XN--BCHER-KVA.TEST', 250, '2.1.5'],
    ['hans@xn--bcher-kva.other.test', 554, '5.7.1'],
  ];

  for (const [rcpt, code, enhanced] of cases) {
    test(`RCPT TO:<${rcpt}> → ${code} ${enhanced}`, { timeout: 20_000 }, async () => {
      const got = await rcptReply(daemon.smtpPort, rcpt);
      assert.equal(got.code, code, got.line);
      assert.equal(got.enhanced, enhanced, got.line);
      assert.equal(got.exit, code === 250 ? 0 : 24, got.line);
      if (code === 554) assert.match(got.line, /Relay access denied/);
    });
  }

  test('SMTPUTF8: the U-label of our punycode domain is ours (and delivered); other U-labels are relaying', { timeout: 30_000 }, async () => {
    const smtp = await connectSmtp(daemon.smtpPort);
    try {
      await smtp.reply();
      assert.equal((await smtp.command('EHLO attacker.test')).code, 250);
      assert.equal((await smtp.command('MAIL FROM:<mallory@attacker.test> SMTPUTF8')).code, 250);
      const foreign = await smtp.command('RCPT TO:<user@bücher.other.test>');
      assert.equal(foreign.code, 554, foreign.text);
      assert.match(foreign.text, /^5\.7\.1 /);
      const ours = await smtp.command('RCPT TO:<hans@bücher.test>');
      assert.equal(ours.code, 250, ours.text);
      const upper = await smtp.command('RCPT TO:<hans@BÜCHER.test>');
      assert.equal(upper.code, 250, upper.text);
      assert.equal((await smtp.command('DATA')).code, 354);
      smtp.write('Subject: idn\r\n\r\nfür hans\r\n.\r\n');
      const queued = await smtp.reply();
      assert.equal(queued.code, 250, queued.text);
    } finally {
      smtp.destroy();
    }
    const [message] = await daemon.waitForMail(1, { domain: 'xn--bcher-kva.test', mailbox: 'hans' });
    assert.equal(message?.header('delivered-to'), 'hans@xn--bcher-kva.test');
  });

  test('nothing was ever queued for another domain', { timeout: 30_000 }, async () => {
    // Everything accepted went to local mailboxes; wait for it to leave the queue, then look.
    await daemon.waitForMail(1, { domain: 'xn--bcher-kva.test', mailbox: 'hans' });
    const queued = await queueList(daemon);
    const remote = queued.flatMap((m) => m.recipients).filter((r) => r.transport !== 'local' || !/@(example\.test|xn--bcher-kva\.test)$/.test(r.address));
    assert.deepEqual(remote, []);
    const received = daemon.findLogs({ event: 'received' });
    assert.ok(received.length >= 1, 'the SMTPUTF8 test above had a message accepted');
    for (const r of received) for (const to of r['to'] as string[]) assert.doesNotMatch(to, /other\.test|\[/, `accepted ${to}`);
    assert.equal(daemon.findLogs((r) => r.event === 'delivered' && r['transport'] === 'remote').length, 0);
  });
});
