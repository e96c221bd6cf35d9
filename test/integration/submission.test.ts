// Submission end to end, as a new user would try it: `sealpost dkim keygen` and `sealpost user
// add`, then the real daemon with 587 (STARTTLS) and 465 (implicit TLS), driven by swaks, Python's
// smtplib and a line-level client. Local mail lands in the Maildir, remote mail reaches a test MX
// found through the in-process DNS server, signed with DKIM keys that verify with mailauth and
// with dkimpy. Runs under netless (loopback only).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dkimVerify } from 'mailauth';
import nodemailer from 'nodemailer';
import { type SealpostDaemon, startSealpost } from '../helpers/daemon.ts';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { headerValues } from '../helpers/maildir.ts';
import { sClientStartTls } from '../helpers/openssl.ts';
import { freePort } from '../helpers/ports.ts';
import { run } from '../helpers/proc.ts';
import { createTestPki, type Receiver, startReceiver } from '../helpers/receivers.ts';
import type { Overrides, SealpostToml } from '../helpers/sealpost-config.ts';
import { swaks } from '../helpers/swaks.ts';
import { makeTempDir, removeTempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';
import { dkimpyVerify, PYTHON, plainToken, prepareWithCli, smtpLines } from './submission-setup.ts';

const PASSWORD = 'correct horse battery staple';
const ALICE = 'alice@example.test';

describe('submission on 587 and 465', { timeout: 240_000 }, () => {
  const cleanups: (() => unknown)[] = [];
  const scope = { after: (fn: () => unknown) => cleanups.push(fn) };
  let daemon: SealpostDaemon;
  let dns: DnsServer;
  let receiver: Receiver;
  let records: Map<string, string>;
  let ports: { submission: number; submissions: number; metrics: number };
  /** sealpost_auth_attempts_total by result, from listen.metrics. */
  const authCounts = async (): Promise<Record<string, number>> => {
    const text = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
    return Object.fromEntries([...text.matchAll(/^sealpost_auth_attempts_total\{result="(\w+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
  };

  const auth = (port: number, extra: string[], localInterface = '127.0.0.1') =>
    swaks([
      '--server',
      `127.0.0.1:${port}`,
      '--local-interface',
      localInterface,
      '--ehlo',
      'client.swaks.test',
      '--timeout',
      '15',
      '--auth-user',
      ALICE,
      '--auth-password',
      PASSWORD,
      ...extra,
    ]);
  const dkimResolver = async (name: string, type: string) => {
    const record = type === 'TXT' ? records.get(name) : undefined;
    if (record) return [[record]];
    throw Object.assign(new Error(`no ${type} ${name}`), { code: 'ENOTFOUND' });
  };

  before(async () => {
    const dir = await makeTempDir('sealpost-submission-');
    cleanups.push(() => removeTempDir(dir));
    ports = { submission: await freePort(), submissions: await freePort(), metrics: await freePort() };
    const mxPort = await freePort();
    receiver = await startReceiver('valid', { host: '127.0.0.1', port: mxPort, mxName: 'mx.remote.test', pki: await createTestPki() });
    cleanups.push(() => receiver.close());
    dns = await startDnsServer(
      new Map([
        ['remote.test', { MX: [{ preference: 10, exchange: 'mx.remote.test' }] }],
        ['mx.remote.test', { A: ['127.0.0.1'] }],
      ]),
    );
    cleanups.push(() => dns.close());
    // Keys the schema grows beyond SealpostToml's declared ones: written as given.
    const raw: Record<string, unknown> = {
      data_dir: path.join(dir, 'data'),
      listen: { submission: [`127.0.0.1:${ports.submission}`], submissions: [`127.0.0.1:${ports.submissions}`], metrics: [`127.0.0.1:${ports.metrics}`] },
      submission: { min_version: 'TLSv1' },
      auth: { slow_after: 2, delay_ms: 300, max_failures: 4, lockout_s: 600 },
      dns: { servers: [dns.address], timeout_ms: 1000 },
      domain: [
        { name: 'example.test', mailboxes: ['alice', 'bob'], aliases: { postmaster: 'alice', sales: 'bob' }, dkim_selectors: ['s1', 'e1'] },
        { name: 'other.test', mailboxes: ['carol'], aliases: { info: ALICE } },
      ],
      outbound: { port: mxPort, mta_sts: false, tls_default: 'may' },
    };
    const overrides = raw as Overrides<SealpostToml>;
    const prepared = await prepareWithCli(dir, overrides, {
      keys: [
        { domain: 'example.test', selector: 's1', type: 'rsa-2048' },
        { domain: 'example.test', selector: 'e1', type: 'ed25519' },
      ],
      users: [{ address: ALICE, password: PASSWORD }],
    });
    records = prepared.records;
    for (const [name, txt] of records) dns.zone.set(name, { TXT: [txt] });
    daemon = await startSealpost(scope, { config: overrides });
    const listening = daemon.findLogs({ event: 'daemon', state: 'listening' })[0];
    assert.deepEqual(listening?.['submission'], [`127.0.0.1:${ports.submission}`]);
    assert.deepEqual(listening?.['dkim'], ['example.test']);
  });

  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  it('offers AUTH only inside TLS and accepts no mail before STARTTLS and AUTH', async () => {
    const s = await smtpLines(ports.submission);
    try {
      assert.match(await s.command(), /^220 /);
      const plain = await s.command('EHLO client.example.test');
      assert.match(plain, /STARTTLS/);
      assert.doesNotMatch(plain, /AUTH/);
      // The right password in the clear is not even looked at.
      assert.match(await s.command(`AUTH PLAIN ${plainToken(ALICE, PASSWORD)}`), /^5\d\d /);
      assert.match(await s.command(`MAIL FROM:<${ALICE}>`), /^530 5\.7\.0 Must issue a STARTTLS command first/);
      await s.starttls();
      const secure = await s.command('EHLO client.example.test');
      assert.match(secure, /250[- ]AUTH PLAIN LOGIN\r\n/);
      assert.doesNotMatch(secure, /STARTTLS/);
      assert.match(await s.command(`MAIL FROM:<${ALICE}>`), /^530 5\.7\.0 Authentication required/);
      assert.match(await s.command(`AUTH PLAIN ${plainToken(ALICE, PASSWORD)}`), /^235 /);
      assert.match(await s.command(`MAIL FROM:<${ALICE}>`), /^250 /);
    } finally {
      s.close();
    }
    const implicit = await smtpLines(ports.submissions, { implicitTls: true });
    try {
      assert.match(await implicit.command(), /^220 /);
      const ehlo = await implicit.command('EHLO client.example.test');
      assert.match(ehlo, /AUTH PLAIN LOGIN/);
      assert.doesNotMatch(ehlo, /STARTTLS/);
    } finally {
      implicit.close();
    }
    // Without TLS, swaks finds no AUTH to use.
    const refused = await auth(ports.submission, ['--from', ALICE, '--to', 'bob@example.test']);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stdout + refused.stderr, /did not advertise authentication/i);
  });

  it('swaks --auth over STARTTLS on 587: delivered locally with ESMTPSA, Date/Message-ID added, DKIM-signed', async () => {
    const message = `From: Alice <${ALICE}>\r\nTo: bob@example.test\r\nSubject: via 587\r\n\r\nHello Bob.\r\n`;
    const sent = await swaks(
      [
        '--server',
        `127.0.0.1:${ports.submission}`,
        '--tls',
        '--auth-user',
        ALICE,
        '--auth-password',
        PASSWORD,
        '--from',
        ALICE,
        '--to',
        'bob@example.test',
        '--data',
        '-',
        '--timeout',
        '15',
      ],
      { input: message },
    );
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    const [delivered] = await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'bob' });
    assert.ok(delivered);
    assert.equal(delivered.subject, 'via 587');
    assert.match(delivered.header('received') ?? '', /by mx\.sealpost\.test \(Sealpost\) with ESMTPSA id \S+ \(using TLSv1\.3/);
    assert.match(delivered.header('message-id') ?? '', /^<\S+@mx\.sealpost\.test>$/);
    assert.match(delivered.header('date') ?? '', /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    const signatures = headerValues(delivered.raw, 'dkim-signature');
    assert.deepEqual(signatures.map((s) => /s=(\w+);/.exec(s)?.[1]).sort(), ['e1', 's1']);
    assert.equal(delivered.header('authentication-results'), undefined, 'our own users are not verified like strangers');
    const verified = await dkimVerify(Buffer.from(delivered.raw.replace(/^Return-Path:.*\r?\nDelivered-To:.*\r?\n/, '')), { resolver: dkimResolver });
    assert.deepEqual(
      verified.results.map((r) => r.status.result),
      ['pass', 'pass'],
    );
    assert.ok(!delivered.raw.includes(PASSWORD), 'no password in the message');
    const received = await daemon.waitForLog({ event: 'received', listener: 'submission', user: ALICE });
    assert.deepEqual(received['dkim'], { domain: 'example.test', selectors: ['s1', 'e1'] });
  });

  it('swaks --tlsc on 465 to another domain: the MX gets it with DKIM signatures that mailauth and dkimpy verify', async () => {
    const sent = await auth(ports.submissions, [
      '--tlsc',
      '--from',
      'postmaster@example.test',
      '--to',
      'carol@remote.test',
      '--header',
      'From: Postmaster <postmaster@example.test>',
      '--header',
      'Subject: via 465',
    ]);
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    const message = await waitFor(() => receiver.messages.find((m) => m.body.includes('Subject: via 465')), {
      what: 'the message at the remote MX',
      timeoutMs: 20_000,
    });
    assert.equal(message.from, 'postmaster@example.test');
    assert.deepEqual(message.to, ['carol@remote.test']);
    assert.equal(message.secure, true, 'delivered over STARTTLS (tls_default may)');
    assert.match(message.body, /with ESMTPSA/);
    const verified = await dkimVerify(Buffer.from(message.body), { resolver: dkimResolver });
    assert.deepEqual(verified.results.map((r) => [r.signingDomain, r.selector, r.status.result]).sort(), [
      ['example.test', 'e1', 'pass'],
      ['example.test', 's1', 'pass'],
    ]);
    assert.deepEqual(await dkimpyVerify(message.body, records), [true, true]);
    // And a tampered copy fails both: the verifiers are really checking.
    const tampered = message.body.replace('Subject: via 465', 'Subject: via 466');
    assert.deepEqual(await dkimpyVerify(tampered, records), [false, false]);
  });

  it('nodemailer, as an application uses it: requireTLS on 587 and secure on 465; a wrong password is an EAUTH error', async () => {
    const transport = (port: number, secure: boolean, pass = PASSWORD) =>
      nodemailer.createTransport({
        host: '127.0.0.1',
        port,
        secure,
        requireTLS: !secure,
        auth: { user: ALICE, pass },
        tls: { rejectUnauthorized: false, servername: 'mx.sealpost.test' },
      });
    for (const [port, secure, subject] of [
      [ports.submission, false, 'nodemailer 587'],
      [ports.submissions, true, 'nodemailer 465'],
    ] as const) {
      const sender = transport(port, secure);
      const info = await sender.sendMail({ from: `Alice <${ALICE}>`, to: 'bob@example.test', subject, text: 'Sent by nodemailer.' });
      sender.close();
      assert.deepEqual(info.accepted, ['bob@example.test']);
      assert.match(String(info.response), /^250 2\.0\.0 Ok: queued as /);
    }
    const mail = await waitFor(
      async () => {
        const subjects = (await daemon.readMaildir('example.test', 'bob')).map((m) => m.subject);
        return subjects.includes('nodemailer 587') && subjects.includes('nodemailer 465') ? subjects : undefined;
      },
      { what: "both nodemailer messages in bob's Maildir", timeoutMs: 15_000 },
    );
    assert.ok(mail.length >= 2);
    const wrong = transport(ports.submission, false, 'not the password');
    await assert.rejects(
      wrong.sendMail({ from: ALICE, to: 'bob@example.test', subject: 'x', text: 'x' }),
      (err: Error & { code?: string; responseCode?: number }) => {
        assert.equal(err.code, 'EAUTH');
        assert.equal(err.responseCode, 535);
        return true;
      },
    );
    wrong.close();
  });

  it("Python's smtplib: STARTTLS + login on 587 and SMTP_SSL on 465, as an alias in another domain", async () => {
    const script = `
import smtplib, ssl, sys
from email.message import EmailMessage
port, port_ssl, user, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
def message(subject):
    m = EmailMessage()
    m['From'] = 'Info <info@other.test>'
    m['To'] = 'bob@example.test'
    m['Subject'] = subject
    m.set_content('Sent by smtplib.')
    return m
with smtplib.SMTP('127.0.0.1', port, timeout=15) as s:
    s.ehlo('smtplib.example.test')
    assert not s.has_extn('auth'), 'AUTH before STARTTLS'
    s.starttls(context=context)
    s.ehlo('smtplib.example.test')
    s.login(user, password)
    s.send_message(message('smtplib 587'))
with smtplib.SMTP_SSL('127.0.0.1', port_ssl, context=context, timeout=15) as s:
    s.login(user, password)
    s.send_message(message('smtplib 465'))
print('sent')
`;
    const result = await run(PYTHON, ['-c', script, String(ports.submission), String(ports.submissions), ALICE, PASSWORD], { timeoutMs: 30_000 });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /sent/);
    const mail = await waitFor(
      async () => {
        const all = await daemon.readMaildir('example.test', 'bob');
        const subjects = all.map((m) => m.subject);
        return subjects.includes('smtplib 587') && subjects.includes('smtplib 465') ? all : undefined;
      },
      { what: "both smtplib messages in bob's Maildir", timeoutMs: 15_000 },
    );
    const viaSsl = mail.find((m) => m.subject === 'smtplib 465');
    // other.test has no key: mail from it leaves unsigned (signing is per From: domain).
    assert.equal(viaSsl?.header('dkim-signature'), undefined);
  });

  it('sending as someone else is refused: 553 5.7.1 at MAIL FROM, 550 5.7.1 for a From: header not owned', async () => {
    const envelope = await auth(ports.submission, ['--tls', '--from', 'bob@example.test', '--to', 'bob@example.test']);
    assert.equal(envelope.code, 23, envelope.stdout);
    assert.match(envelope.stdout, /553 5\.7\.1 <bob@example\.test>: Sender address rejected: not owned by user alice@example\.test/);
    const viaAlias = await auth(ports.submission, ['--tls', '--from', 'sales@example.test', '--to', 'bob@example.test']);
    assert.equal(viaAlias.code, 23, "an alias of another user is not alice's");
    const header = await auth(ports.submissions, ['--tlsc', '--from', ALICE, '--to', 'carol@remote.test', '--header', 'From: The CEO <bob@example.test>']);
    assert.equal(header.code, 26, header.stdout);
    assert.match(header.stdout, /550 5\.7\.1 From: header address <bob@example\.test> is not owned by user alice@example\.test/);
    assert.ok(!receiver.messages.some((m) => m.body.includes('The CEO')), 'nothing left for the remote MX');
    // RFC 5322 §4.5.3 obs-syntax "From :" is a From: field to every reader: alone it is checked,
    // before alice's own it makes two (RFC 5322 §3.6: exactly one).
    const obs: [string, RegExp][] = [
      ['From : The CEO <bob@example.test>\r\n', /550 5\.7\.1 From: header address <bob@example\.test> is not owned/],
      ['From\t: The CEO <bob@example.test>\r\nFrom: <alice@example.test>\r\n', /550 5\.7\.1 More than one From: header field/],
    ];
    for (const [from, expected] of obs) {
      // Not the first line: swaks drops a first line "From …" as an mbox separator.
      const data = `To: <carol@remote.test>\r\n${from}Subject: obs from\r\n\r\nThe CEO says hi\r\n`;
      const sent = await swaks(
        [
          '--server',
          `127.0.0.1:${ports.submissions}`,
          '--tlsc',
          '--ehlo',
          'client.swaks.test',
          '--timeout',
          '15',
          '--auth-user',
          ALICE,
          '--auth-password',
          PASSWORD,
          '--from',
          ALICE,
          '--to',
          'carol@remote.test',
          '--data',
          '-',
        ],
        { input: data },
      );
      assert.equal(sent.code, 26, `${JSON.stringify(from)}: ${sent.stdout}`);
      assert.match(sent.stdout, expected);
    }
    assert.ok(!receiver.messages.some((m) => m.body.includes('The CEO')), 'nothing left for the remote MX');
  });

  it('wrong passwords are refused, then slowed, then refused outright per client address; the log never has a password', async () => {
    const script = `
import smtplib, ssl, sys, json
port, user, good = int(sys.argv[1]), sys.argv[2], sys.argv[3]
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
def attempt(password, source):
    try:
        with smtplib.SMTP_SSL('127.0.0.1', port, context=context, timeout=60, source_address=(source, 0)) as s:
            s.ehlo('guess.example.test')
            s.user, s.password = user, password
            code, _ = s.auth('PLAIN', s.auth_plain)
            return code
    except smtplib.SMTPAuthenticationError as e:
        return e.smtp_code
    except smtplib.SMTPServerDisconnected:
        return 'closed'
codes = [attempt('guess-%d' % i, '127.0.0.2') for i in range(5)]
codes.append(attempt(good, '127.0.0.2'))
codes.append(attempt(good, '127.0.0.3'))
print(json.dumps(codes))
`;
    const since = daemon.logs().length;
    const counted = await authCounts();
    const result = await run(PYTHON, ['-c', script, String(ports.submissions), ALICE, PASSWORD], { timeoutMs: 60_000 });
    assert.equal(result.code, 0, result.stderr);
    // Four wrong guesses: 535; the fifth and even the right password from there: 421; elsewhere: fine.
    assert.deepEqual(JSON.parse(result.stdout), [535, 535, 535, 535, 421, 421, 235]);
    const failures = daemon
      .logs()
      .slice(since)
      .filter((r) => r.event === 'auth' && r['result'] === 'failed');
    assert.deepEqual(
      failures.map((r) => [r['failures'], r['delayedMs'], r['user'], r['clientIp']]),
      [
        [1, 0, ALICE, '127.0.0.2'],
        [2, 0, ALICE, '127.0.0.2'],
        [3, 300, ALICE, '127.0.0.2'],
        [4, 600, ALICE, '127.0.0.2'],
      ],
    );
    assert.equal(
      daemon
        .logs()
        .slice(since)
        .filter((r) => r.event === 'auth' && r['result'] === 'refused').length,
      2,
    );
    const everything = JSON.stringify(daemon.logs()) + daemon.stderr();
    assert.ok(!everything.includes('guess-') && !everything.includes(PASSWORD), 'no password in any log line');
    // The metrics: four failures, two refused while locked out, one success elsewhere.
    const now = await authCounts();
    assert.deepEqual(Object.fromEntries(Object.entries(now).map(([result, n]) => [result, n - (counted[result] ?? 0)])), {
      ok: 1,
      failed: 4,
      refused: 2,
      busy: 0,
    });
  });

  it('24 parallel TLS connections with a wrong AUTH PLAIN at once: at most max_failures get a password check, then even the right password gets 421', async () => {
    const source = '127.0.0.9';
    const since = daemon.logs().length;
    const sessions = await Promise.all(Array.from({ length: 24 }, () => smtpLines(ports.submissions, { implicitTls: true, localAddress: source })));
    try {
      await Promise.all(
        sessions.map(async (s) => {
          assert.match(await s.command(), /^220 /);
          assert.match(await s.command('EHLO burst.example.test'), /^250[- ]/);
        }),
      );
      // All at once: every AUTH is written before any answer can arrive.
      const replies = await Promise.all(sessions.map((s, i) => s.command(`AUTH PLAIN ${plainToken(ALICE, `burst-${i}`)}`)));
      const codes = replies.map((r) => Number(r.slice(0, 3)));
      const checked = codes.filter((c) => c === 535).length;
      assert.ok(checked >= 1 && checked <= 4, `535 (a password check) for ${checked} of 24: ${codes.join(' ')}`);
      for (const reply of replies) assert.match(reply, /^(535 5\.7\.8|454 4\.7\.0|421 4\.7\.0) /);
      // The rest keep guessing, one after the other, until the address is locked out.
      let locked = false;
      for (let i = 0; i < 10 && !locked; i++) {
        const s = await smtpLines(ports.submissions, { implicitTls: true, localAddress: source });
        try {
          await s.command();
          await s.command('EHLO burst.example.test');
          const reply = await s.command(`AUTH PLAIN ${plainToken(ALICE, `again-${i}`)}`);
          assert.match(reply, /^(535|454|421) /);
          locked = reply.startsWith('421 ');
        } finally {
          s.close();
        }
      }
      assert.ok(locked, 'locked out');
    } finally {
      for (const s of sessions) s.close();
    }
    const failed = daemon
      .logs()
      .slice(since)
      .filter((r) => r.event === 'auth' && r['result'] === 'failed' && r['clientIp'] === source);
    assert.ok(failed.length <= 4, `${failed.length} password checks failed, max_failures is 4`);
    const right = await smtpLines(ports.submissions, { implicitTls: true, localAddress: source });
    try {
      await right.command();
      await right.command('EHLO burst.example.test');
      assert.match(await right.command(`AUTH PLAIN ${plainToken(ALICE, PASSWORD)}`), /^421 4\.7\.0 /);
    } finally {
      right.close();
    }
  });

  it('users added, changed and deleted with the CLI take effect in the running daemon', async () => {
    const added = await daemon.cli(['user', 'add', 'bob@example.test'], 'bob-password-1\n');
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /may send as bob@example\.test, sales@example\.test/);
    const bob = (password: string) =>
      swaks([
        '--server',
        `127.0.0.1:${ports.submissions}`,
        '--tlsc',
        '--local-interface',
        '127.0.0.4',
        '--auth-user',
        'bob@example.test',
        '--auth-password',
        password,
        '--auth',
        'PLAIN',
        '--from',
        'sales@example.test',
        '--to',
        ALICE,
        '--timeout',
        '15',
      ]);
    assert.equal((await bob('bob-password-1')).code, 0);
    assert.equal((await daemon.cli(['user', 'passwd', 'bob@example.test'], 'bob-password-2\n')).code, 0);
    assert.equal((await bob('bob-password-1')).code, 28);
    assert.equal((await bob('bob-password-2')).code, 0);
    const listed = await daemon.cli(['user', 'list', '--json']);
    assert.deepEqual(
      (JSON.parse(listed.stdout) as { address: string }[]).map((u) => u.address),
      [ALICE, 'bob@example.test'],
    );
    assert.equal((await daemon.cli(['user', 'del', 'bob@example.test'])).code, 0);
    assert.equal((await bob('bob-password-2')).code, 28);
    const notMailbox = await daemon.cli(['user', 'add', 'postmaster@example.test'], 'whatever-password\n');
    assert.equal(notMailbox.code, 1);
    assert.match(notMailbox.stderr, /alias of alice@example\.test/);
    assert.equal((await daemon.cli(['user', 'add', 'carol@other.test'], 'short\n')).code, 1, 'too short');
  });

  it('per-listener min_version: TLS 1.0 admitted on 587 (with and without SNI), refused on 25', async () => {
    const old = ['-tls1', '-cipher', 'DEFAULT:@SECLEVEL=0'];
    for (const servername of [undefined, 'mx.sealpost.test']) {
      const probe = await sClientStartTls({ port: ports.submission, servername, noServername: servername === undefined, extraArgs: old });
      assert.match(probe.protocol ?? '', /^TLSv1(\.0)?$/, `587 ${servername ?? 'no SNI'}: ${probe.stdout.slice(-500)} ${probe.stderr}`);
    }
    const mx = await sClientStartTls({ port: daemon.smtpPort, servername: 'mx.sealpost.test', extraArgs: old });
    assert.equal(mx.ok, false, 'tls.min_version TLSv1.2 still holds on port 25');
    const modern = await sClientStartTls({ port: ports.submission });
    assert.equal(modern.protocol, 'TLSv1.3');
  });
});

describe('DKIM keys at startup', { timeout: 60_000 }, () => {
  it('a configured key that is missing stops the daemon, naming the command that makes it', async (t) => {
    const overrides: Record<string, unknown> = { domain: [{ name: 'example.test', mailboxes: ['alice'], dkim_selectors: ['gone'] }] };
    await assert.rejects(startSealpost(t, { config: overrides as Overrides<SealpostToml> }), (err: Error) => {
      assert.match(
        err.message,
        /cannot start: DKIM keys: example\.test selector gone: cannot read \S+gone\.pem: ENOENT; create it with: sealpost dkim keygen --domain example\.test --selector gone/,
      );
      return true;
    });
  });
});
