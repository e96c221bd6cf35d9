// Inbound sender authentication on port 25, end to end: the real daemon asks the in-process DNS
// server (config dns.servers) for SPF, DKIM and DMARC records and stamps Authentication-Results
// on what it delivers; forged results in our name are removed; with dmarc_reject a spoofed p=reject
// domain is refused. Messages are DKIM-signed here with mailauth, as a sending MTA would. netless.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { dkimSign } from 'mailauth';
import { dkimRecord, generateDkimKey } from '../../src/dkim/keys.ts';
import { type SealpostDaemon, startSealpost } from '../helpers/daemon.ts';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { composeMessage, headerValue, headerValues } from '../helpers/maildir.ts';
import type { Overrides, SealpostToml } from '../helpers/sealpost-config.ts';
import { swaks } from '../helpers/swaks.ts';
import { waitFor } from '../helpers/wait.ts';
import { connectSmtp } from './inbound-smtp.ts';

const HOST = 'mx.sealpost.test';
const senderKey = generateDkimKey('rsa-2048');
const edKey = generateDkimKey('ed25519');

async function signed(message: string, domain: string, selector: string): Promise<string> {
  const options = { signatureData: [{ signingDomain: domain, selector, privateKey: senderKey }] } as Parameters<typeof dkimSign>[1];
  return (await dkimSign(message, options)).signatures + message;
}

describe('Authentication-Results on port 25', { timeout: 120_000 }, () => {
  const cleanups: (() => unknown)[] = [];
  const scope = { after: (fn: () => unknown) => cleanups.push(fn) };
  let dns: DnsServer;
  let daemon: SealpostDaemon;
  let strict: SealpostDaemon;

  const send = (target: SealpostDaemon, from: string, data: string) =>
    swaks(
      ['--server', `127.0.0.1:${target.smtpPort}`, '--ehlo', 'out.sender.test', '--from', from, '--to', 'alice@example.test', '--data', '-', '--timeout', '15'],
      { input: data },
    );
  const delivered = async (target: SealpostDaemon, subject: string) => {
    const found = await waitFor(async () => (await target.readMaildir('example.test', 'alice')).find((m) => m.subject === subject), {
      what: `"${subject}" in alice's Maildir`,
    });
    return { raw: found.raw, results: headerValues(found.raw, 'authentication-results'), spf: headerValue(found.raw, 'received-spf') };
  };

  before(async () => {
    dns = await startDnsServer(
      new Map([
        ['sender.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'], A: ['127.0.0.1'] }],
        ['s1._domainkey.sender.test', { TXT: [dkimRecord(senderKey)] }],
        ['s50._domainkey.sender.test', { TXT: [dkimRecord(senderKey)] }],
        ['_dmarc.sender.test', { TXT: ['v=DMARC1; p=reject'] }],
        ['spoof.test', { TXT: ['v=spf1 -all'], A: ['192.0.2.66'] }],
        ['_dmarc.spoof.test', { TXT: ['v=DMARC1; p=reject'] }],
        ['relaxed.test', { TXT: ['v=spf1 ?all'], A: ['192.0.2.67'] }],
        ['early.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] }],
        ['stream.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] }],
        ['s1._domainkey.stream.test', { TXT: [dkimRecord(senderKey)] }],
        ['_dmarc.stream.test', { TXT: ['v=DMARC1; p=reject'] }],
        ['_dmarc.relaxed.test', { TXT: ['v=DMARC1; p=none'] }],
        ['ed1._domainkey.stream.test', { TXT: [dkimRecord(edKey)] }],
      ]),
    );
    cleanups.push(() => dns.close());
    // Loopback is not a trusted network here: our test clients are "other servers".
    const config: Record<string, unknown> = { relay: { networks: ['192.0.2.0/24'] }, dns: { servers: [dns.address], timeout_ms: 1000 } };
    daemon = await startSealpost(scope, { config: config as Overrides<SealpostToml> });
    strict = await startSealpost(scope, {
      config: { ...config, inbound: { reverse_dns: false, min_free_mb: 0, dmarc_reject: true } } as Overrides<SealpostToml>,
    });
  });

  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  it('a signed message from a permitted address: spf, dkim and dmarc pass', async () => {
    const message = await signed(
      composeMessage({
        from: 'news@sender.test',
        to: ['alice@example.test'],
        subject: 'good',
        headers: { Date: 'Mon, 23 Nov 2026 10:00:00 +0000', 'Message-ID': '<a1@sender.test>' },
      }),
      'sender.test',
      's1',
    );
    const sent = await send(daemon, 'news@sender.test', message);
    assert.equal(sent.code, 0, sent.stdout);
    const got = await delivered(daemon, 'good');
    assert.equal(got.results.length, 1);
    const results = got.results[0] ?? '';
    assert.match(results, new RegExp(`^${HOST.replace(/\./g, '\\.')};`));
    assert.match(results, /dkim=pass header\.i=@sender\.test header\.s=s1 header\.a=rsa-sha256/);
    assert.match(results, /spf=pass .*smtp\.mailfrom=news@sender\.test/);
    assert.match(results, /dmarc=pass .*header\.from=sender\.test/);
    assert.match(got.spf ?? '', /^pass /);
    // Our Received comes first; the results follow it (both are ours).
    assert.match(got.raw, /Received: from out\.sender\.test[\s\S]*?\r\nReceived-SPF: pass[\s\S]*?\r\nAuthentication-Results: /);
    const record = await daemon.waitForLog({ event: 'received', subject: 'good' });
    assert.deepEqual(record['auth'], { spf: 'pass', dkim: 'pass', dmarc: 'pass' });
    const asked = dns.queries.join(' ');
    assert.ok(asked.includes('s1._domainkey.sender.test TXT') && asked.includes('_dmarc.sender.test TXT'), 'looked up through our DNS server');
  });

  it('a spoofed From: fails spf and dmarc but is delivered by default; a broken signature is dkim=fail', async () => {
    const spoof = composeMessage({ from: 'ceo@spoof.test', to: ['alice@example.test'], subject: 'spoofed' });
    assert.equal((await send(daemon, 'ceo@spoof.test', spoof)).code, 0);
    const got = await delivered(daemon, 'spoofed');
    assert.match(got.results[0] ?? '', /dkim=none/);
    assert.match(got.results[0] ?? '', /spf=fail/);
    assert.match(got.results[0] ?? '', /dmarc=fail \(p=REJECT/);

    const good = await signed(
      composeMessage({ from: 'news@sender.test', to: ['alice@example.test'], subject: 'tampered', body: 'Original text.\n' }),
      'sender.test',
      's1',
    );
    const tampered = good.replace('Original text.', 'Changed text.');
    assert.equal((await send(daemon, 'news@sender.test', tampered)).code, 0);
    const broken = await delivered(daemon, 'tampered');
    assert.match(broken.results[0] ?? '', /dkim=(fail|neutral)/);
    assert.match(broken.results[0] ?? '', /spf=pass/);
  });

  it('50 DKIM-Signature fields: at most 5 key lookups, the one aligned with From: among them', async () => {
    const message = composeMessage({ from: 'news@sender.test', to: ['alice@example.test'], subject: 'many signatures' });
    // 49 signatures of unrelated domains on top, the aligned one (a fresh selector, so no cache
    // answers for it) at the bottom, where "the first five" would not reach it.
    const signatureData = [
      ...Array.from({ length: 49 }, (_, i) => ({ signingDomain: `noise${i}.test`, selector: 'n1', privateKey: senderKey })),
      { signingDomain: 'sender.test', selector: 's50', privateKey: senderKey },
    ];
    const signatures = (await dkimSign(message, { signatureData } as Parameters<typeof dkimSign>[1])).signatures;
    assert.equal(signatures.match(/^DKIM-Signature:/gim)?.length, 50);
    assert.ok(signatures.lastIndexOf('d=sender.test') > signatures.lastIndexOf('d=noise48.test'), 'aligned signature last');
    const before = dns.queries.length;
    assert.equal((await send(daemon, 'news@sender.test', signatures + message)).code, 0);
    const got = await delivered(daemon, 'many signatures');
    const keyLookups = dns.queries.slice(before).filter((q) => q.includes('._domainkey.') && q.endsWith(' TXT'));
    assert.ok(keyLookups.length <= 5, `${keyLookups.length} key lookups: ${keyLookups.join(', ')}`);
    assert.ok(keyLookups.includes('s50._domainkey.sender.test TXT'), keyLookups.join(', '));
    assert.match(got.results[0] ?? '', /dkim=pass header\.i=@sender\.test header\.s=s50/);
    assert.match(got.results[0] ?? '', /dmarc=pass/);
    // The stored message keeps every signature: only the checks see fewer.
    assert.equal(got.raw.match(/^DKIM-Signature:/gim)?.length, 50);
  });

  it("Authentication-Results forged in our name are removed; other servers' are kept", async () => {
    const forged = composeMessage({
      from: 'ceo@spoof.test',
      to: ['alice@example.test'],
      subject: 'forged',
      headers: { 'Authentication-Results': `${HOST.toUpperCase()}; dkim=pass; spf=pass; dmarc=pass`, 'X-Note': 'forged' },
    }).replace('X-Note: forged', `Authentication-Results: other.example; spf=none`);
    assert.equal((await send(daemon, 'ceo@spoof.test', forged)).code, 0);
    const got = await delivered(daemon, 'forged');
    const ours = got.results.filter((r) => r.toLowerCase().startsWith(HOST));
    assert.equal(ours.length, 1, JSON.stringify(got.results));
    assert.match(ours[0] ?? '', /dmarc=fail/);
    assert.ok(got.results.some((r) => r.startsWith('other.example;')));
  });

  it('with dmarc_reject: a p=reject domain that fails DMARC is refused with 550 5.7.1; p=none and passing mail are not', async () => {
    const spoof = composeMessage({ from: 'ceo@spoof.test', to: ['alice@example.test'], subject: 'refused' });
    const refused = await send(strict, 'ceo@spoof.test', spoof);
    assert.equal(refused.code, 26, refused.stdout);
    assert.match(refused.stdout, /550 5\.7\.1 Message rejected: it fails the DMARC policy of spoof\.test/);
    const relaxed = composeMessage({ from: 'someone@relaxed.test', to: ['alice@example.test'], subject: 'p=none' });
    assert.equal((await send(strict, 'someone@relaxed.test', relaxed)).code, 0);
    const good = await signed(composeMessage({ from: 'news@sender.test', to: ['alice@example.test'], subject: 'strict good' }), 'sender.test', 's1');
    assert.equal((await send(strict, 'news@sender.test', good)).code, 0);
    await delivered(strict, 'strict good');
    assert.match((await delivered(strict, 'p=none')).results[0] ?? '', /dmarc=fail/);
    assert.equal(
      (await strict.readMaildir('example.test', 'alice')).some((m) => m.subject === 'refused'),
      false,
    );
    const rejected = await strict.waitForLog({ event: 'rejected', stage: 'data' });
    assert.deepEqual(rejected['auth'], { spf: 'fail', dkim: 'none', dmarc: 'fail' });
  });

  it('SPF is asked for as MAIL FROM is accepted, before DATA; the result is the one stamped', async () => {
    const smtp = await connectSmtp(daemon.smtpPort);
    try {
      assert.equal((await smtp.reply()).code, 220);
      assert.equal((await smtp.command('EHLO out.early.test')).code, 250);
      assert.equal((await smtp.command('MAIL FROM:<bulk@early.test>')).code, 250);
      assert.equal((await smtp.command('RCPT TO:<alice@example.test>')).code, 250);
      // No DATA yet: the daemon has only the envelope, and already asks for the SPF record.
      await waitFor(() => dns.queries.includes('early.test TXT'), { what: 'the SPF TXT query for early.test before DATA', timeoutMs: 20_000 });
      assert.equal((await smtp.command('DATA')).code, 354);
      const message = composeMessage({ from: 'bulk@early.test', to: ['alice@example.test'], subject: 'early spf' });
      assert.equal((await smtp.command(`${message}.`, 20_000)).code, 250);
      await smtp.command('QUIT');
    } finally {
      smtp.destroy();
    }
    const got = await delivered(daemon, 'early spf');
    assert.match(got.results[0] ?? '', /spf=pass .*smtp\.mailfrom=bulk@early\.test/);
    assert.match(got.spf ?? '', /^pass /);
    // Asked for once, at MAIL FROM: that evaluation is the one stamped.
    assert.equal(dns.queries.filter((q) => q === 'early.test TXT').length, 1);
  });

  it('the DMARC record and the DKIM key are asked for once the header block has arrived, before the body has', async () => {
    const message = await signed(
      composeMessage({ from: 'news@stream.test', to: ['alice@example.test'], subject: 'streamed', body: 'line\n'.repeat(2000) }),
      'stream.test',
      's1',
    );
    const split = message.indexOf('\r\n\r\n') + 4;
    const smtp = await connectSmtp(daemon.smtpPort);
    try {
      assert.equal((await smtp.reply()).code, 220);
      assert.equal((await smtp.command('EHLO out.stream.test')).code, 250);
      assert.equal((await smtp.command('MAIL FROM:<news@stream.test>')).code, 250);
      assert.equal((await smtp.command('RCPT TO:<alice@example.test>')).code, 250);
      assert.equal((await smtp.command('DATA')).code, 354);
      // The header block and the first body line; the rest (and the final dot) only once both lookups came.
      smtp.write(message.slice(0, split + 6));
      await waitFor(() => dns.queries.includes('_dmarc.stream.test TXT') && dns.queries.includes('s1._domainkey.stream.test TXT'), {
        what: 'the DMARC and DKIM key queries of stream.test while the body is still coming',
        timeoutMs: 20_000,
      });
      assert.equal((await smtp.command(`${message.slice(split + 6)}.`, 20_000)).code, 250);
      await smtp.command('QUIT');
    } finally {
      smtp.destroy();
    }
    const got = await delivered(daemon, 'streamed');
    assert.match(got.results[0] ?? '', /dkim=pass header\.i=@stream\.test header\.s=s1/);
    assert.match(got.results[0] ?? '', /dmarc=pass .*header\.from=stream\.test/);
    assert.equal(dns.queries.filter((q) => q === '_dmarc.stream.test TXT').length, 1, 'looked up once: the checks used the answer');
  });

  it('a body that arrives in pieces (a CRLF split, dot-stuffed lines) under four signatures (l=, simple and relaxed, RSA and Ed25519): each passes', async () => {
    const body = `${'.leading dot, stuffed by the client\n..two dots\ntrailing blanks  \t\n'.repeat(40)}\n\n`;
    const message = composeMessage({ from: 'news@stream.test', to: ['alice@example.test'], subject: 'pieces', body });
    const signatureData = [
      { signingDomain: 'stream.test', selector: 's1', privateKey: senderKey, canonicalization: 'simple/simple' },
      { signingDomain: 'stream.test', selector: 'ed1', privateKey: edKey, canonicalization: 'relaxed/relaxed' },
      { signingDomain: 'stream.test', selector: 's1', privateKey: senderKey, canonicalization: 'relaxed/simple', maxBodyLength: 100 },
      { signingDomain: 'stream.test', selector: 'ed1', privateKey: edKey, canonicalization: 'simple/relaxed', maxBodyLength: 1001 },
    ];
    const signed = (await dkimSign(message, { signatureData } as Parameters<typeof dkimSign>[1])).signatures + message;
    // RFC 5321 §4.5.2: the client doubles a leading dot; the server takes it away again.
    const wire = signed.replace(/\r\n\./g, '\r\n..');
    const smtp = await connectSmtp(daemon.smtpPort);
    try {
      assert.equal((await smtp.reply()).code, 220);
      assert.equal((await smtp.command('EHLO out.stream.test')).code, 250);
      assert.equal((await smtp.command('MAIL FROM:<news@stream.test>')).code, 250);
      assert.equal((await smtp.command('RCPT TO:<alice@example.test>')).code, 250);
      assert.equal((await smtp.command('DATA')).code, 354);
      // Cut inside the blank line after the header block, inside a CRLF of the body, and just
      // after a stuffed dot; a pause after each piece so the server reads them apart.
      const blank = wire.indexOf('\r\n\r\n');
      const crlf = wire.indexOf('\r\n', blank + 200);
      const dot = wire.indexOf('\r\n..', crlf + 50) + 3;
      for (const [from, to] of [
        [0, blank + 3],
        [blank + 3, crlf + 1],
        [crlf + 1, dot],
      ] as const) {
        smtp.write(wire.slice(from, to));
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      assert.equal((await smtp.command(`${wire.slice(dot)}.`, 20_000)).code, 250);
      await smtp.command('QUIT');
    } finally {
      smtp.destroy();
    }
    const got = await delivered(daemon, 'pieces');
    const results = got.results[0] ?? '';
    assert.equal(results.match(/dkim=pass/g)?.length, 4, results);
    assert.match(results, /dkim=pass header\.i=@stream\.test header\.s=ed1 header\.a=ed25519-sha256/);
    assert.match(results, /dmarc=pass/);
  });

  it('a signed message large enough for the spool (3 MiB, fed to the checks as it arrives, at their pace): dkim=pass', async () => {
    const body = `${'z'.repeat(78)}\n`.repeat(40_000);
    const message = composeMessage({ from: 'news@stream.test', to: ['alice@example.test'], subject: 'large signed', body });
    const signatureData = [
      { signingDomain: 'stream.test', selector: 's1', privateKey: senderKey, canonicalization: 'relaxed/relaxed' },
      { signingDomain: 'stream.test', selector: 'ed1', privateKey: edKey, canonicalization: 'simple/simple', maxBodyLength: 2_000_000 },
    ];
    const signed = (await dkimSign(message, { signatureData } as Parameters<typeof dkimSign>[1])).signatures + message;
    const smtp = await connectSmtp(daemon.smtpPort);
    try {
      assert.equal((await smtp.reply()).code, 220);
      assert.equal((await smtp.command('EHLO out.stream.test')).code, 250);
      assert.equal((await smtp.command('MAIL FROM:<news@stream.test>')).code, 250);
      assert.equal((await smtp.command('RCPT TO:<alice@example.test>')).code, 250);
      assert.equal((await smtp.command('DATA')).code, 354);
      assert.equal((await smtp.command(`${signed}.`, 60_000)).code, 250);
      await smtp.command('QUIT');
    } finally {
      smtp.destroy();
    }
    const got = await delivered(daemon, 'large signed');
    const results = got.results[0] ?? '';
    assert.equal(results.match(/dkim=pass/g)?.length, 2, results);
    assert.ok(got.raw.length > 3_000_000);
  });
});
