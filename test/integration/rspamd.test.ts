// rspamd at end of DATA, end to end: a real rspamd (Debian's, started by the test on loopback)
// judges what the real daemon receives on port 25. GTUBE is refused with 550, rspamd's
// "add header" test pattern lands in the mailbox's .Junk/ Maildir++ folder with the X-Spam
// fields, clean mail in the inbox; "rewrite subject" rewrites the Subject field too; a real
// Dovecot serving Sealpost's Maildirs shows the Junk folder over IMAP; rspamd slow (a delaying proxy) or stopped answers 451 under
// fail = "tempfail" and delivers under "accept"; with [outbound.rspamd] a relay client's GTUBE is
// refused too; `sealpost status` counts the actions and errors. netless.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type SealpostDaemon, startSealpost } from '../helpers/daemon.ts';
import { shareMaildirs, startDovecot } from '../helpers/dovecot.ts';
import { composeMessage, readMaildirAt, sealpostMaildir } from '../helpers/maildir.ts';
import { freePort } from '../helpers/ports.ts';
import { type DelayProxy, GTUBE, type Rspamd, startDelayProxy, startRspamd } from '../helpers/rspamd.ts';
import type { Overrides, SealpostToml } from '../helpers/sealpost-config.ts';
import { swaks } from '../helpers/swaks.ts';
import { makeTempDir, removeTempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';
import { prepareWithCli } from './submission-setup.ts';

const ALICE = 'alice@example.test';
const PASSWORD = 'correct horse battery staple';

describe('rspamd verdicts before 250', { timeout: 240_000 }, () => {
  const cleanups: (() => unknown)[] = [];
  const scope = { after: (fn: () => unknown) => cleanups.push(fn) };
  let rspamd: Rspamd;
  let proxy: DelayProxy;
  let tap: DelayProxy;
  let daemon: SealpostDaemon;
  let submissionPort: number;
  let metricsPort: number;
  let slow: SealpostDaemon;
  let lenient: SealpostDaemon;

  /** One message from 127.0.0.5 (an "other server") to alice, or from 127.0.0.2 (relay.networks) with `from`. */
  const send = (target: SealpostDaemon, subject: string, body: string, options: { bind?: string; to?: string } = {}) =>
    swaks(
      [
        '--server',
        `127.0.0.1:${target.smtpPort}`,
        '--local-interface',
        options.bind ?? '127.0.0.5',
        '--ehlo',
        'out.sender.test',
        '--from',
        'news@sender.test',
        '--to',
        options.to ?? 'alice@example.test',
        '--data',
        '-',
        '--timeout',
        '20',
      ],
      { input: composeMessage({ from: 'news@sender.test', to: [options.to ?? 'alice@example.test'], subject, body }) },
    );
  const inbox = (target: SealpostDaemon) => readMaildirAt(sealpostMaildir(target.dataDir, 'example.test', 'alice'));
  const junk = (target: SealpostDaemon) => readMaildirAt(path.join(sealpostMaildir(target.dataDir, 'example.test', 'alice'), '.Junk'));

  before(async () => {
    rspamd = await startRspamd(scope);
    proxy = await startDelayProxy(scope, rspamd.url, 3000);
    // In front of the main daemon's rspamd, passing requests on at once: what they carried.
    tap = await startDelayProxy(scope, rspamd.url, 0);
    const closed = `http://127.0.0.1:${await freePort()}`;
    // Loopback but 127.0.0.2 is not a trusted network here: our test clients are "other servers". No SPF/DKIM lookups.
    const base = { relay: { networks: ['127.0.0.2/32'] }, inbound: { reverse_dns: false, min_free_mb: 0, authentication_results: false } };
    const config = (rspamdSection: Record<string, unknown>, outbound?: Record<string, unknown>) =>
      ({ ...base, inbound: { ...base.inbound, rspamd: rspamdSection }, ...(outbound ? { outbound: { rspamd: outbound } } : {}) }) as Overrides<SealpostToml>;
    // The main daemon also has submission (587) with a user made by the CLI, for [outbound.rspamd] with User:.
    const dir = await makeTempDir('sealpost-rspamd-');
    cleanups.push(() => removeTempDir(dir));
    submissionPort = await freePort();
    metricsPort = await freePort();
    const main = {
      ...(config({ url: tap.url, junk_folder: true, timeout_ms: 20_000 }, { enabled: true }) as Record<string, unknown>),
      data_dir: path.join(dir, 'data'),
      listen: { submission: [`127.0.0.1:${submissionPort}`], metrics: [`127.0.0.1:${metricsPort}`] },
    } as Overrides<SealpostToml>;
    await prepareWithCli(dir, main, { users: [{ address: ALICE, password: PASSWORD }] });
    [daemon, slow, lenient] = await Promise.all([
      startSealpost(scope, { config: main }),
      startSealpost(scope, { config: config({ url: proxy.url, timeout_ms: 1000, fail: 'tempfail' }) }),
      startSealpost(scope, { config: config({ url: closed, timeout_ms: 1000, fail: 'accept' }) }),
    ]);
  });

  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  it("GTUBE is refused at end of DATA with 550 5.7.1 and rspamd's message", async () => {
    const sent = await send(daemon, 'gtube', `Buy now.\r\n${GTUBE.reject}\r\n`);
    assert.notEqual(sent.code, 0, sent.stdout);
    assert.match(sent.stdout, /<\*\* 550 5\.7\.1 Gtube pattern/);
    const record = await daemon.waitForLog((r) => r.event === 'rejected' && (r['rspamd'] as { action?: string } | undefined)?.action === 'reject');
    assert.equal(record['reply'], '550 5.7.1');
    assert.equal((await inbox(daemon)).length + (await junk(daemon)).length, 0, 'nothing delivered');
  });

  it('the "add header" test pattern lands in .Junk/ with X-Spam, X-Spam-Score and X-Spamd-Result', async () => {
    const sent = await send(daemon, 'tagged', `Cheap pills.\r\n${GTUBE.addHeader}\r\n`);
    assert.equal(sent.code, 0, sent.stdout);
    const [message] = await waitFor(
      async () => {
        const found = await junk(daemon);
        return found.length > 0 && found;
      },
      { what: 'the tagged message in .Junk/', timeoutMs: 20_000 },
    );
    assert.equal(message?.subject, 'tagged');
    assert.equal(message?.header('x-spam'), 'Yes');
    assert.match(message?.header('x-spam-score') ?? '', /^6\.00 \/ 15\.00$/);
    assert.match(message?.header('x-spamd-result') ?? '', /^default: True \[6\.00 \/ 15\.00\];\s+GTUBE\(/);
    assert.ok(
      (await inbox(daemon)).every((m) => m.subject !== 'tagged'),
      'not in the inbox',
    );
    // Maildir++: a folder is marked as one, so Dovecot lists it as "Junk".
    assert.ok(existsSync(path.join(sealpostMaildir(daemon.dataDir, 'example.test', 'alice'), '.Junk', 'maildirfolder')));
  });

  it('the "rewrite subject" test pattern has its Subject rewritten by rspamd and lands in .Junk/ with the X-Spam fields', async () => {
    const sent = await send(daemon, 'cheap watches', `Cheap watches.\r\n${GTUBE.rewriteSubject}\r\n`);
    assert.equal(sent.code, 0, sent.stdout);
    const message = await waitFor(async () => (await junk(daemon)).find((m) => /cheap watches/.test(m.subject ?? '')), {
      what: 'the rewritten message in .Junk/',
      timeoutMs: 20_000,
    });
    assert.equal(message.subject, '*** SPAM *** cheap watches');
    assert.equal(message.raw.match(/^subject:/gim)?.length, 1, 'one Subject field');
    assert.equal(message.header('x-spam'), 'Yes');
    assert.match(message.header('x-spam-score') ?? '', /^8\.00 \/ 15\.00$/);
    assert.match(message.header('x-spamd-result') ?? '', /GTUBE\(/);
    const received = await daemon.waitForLog((r) => r.event === 'received' && (r['rspamd'] as { action?: string } | undefined)?.action === 'rewrite subject');
    assert.equal(received['subject'], '*** SPAM *** cheap watches');
  });

  it('a message above 1 MiB (spooled while it arrives) is streamed to rspamd whole, with the envelope as headers', async () => {
    const filler = `${'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(20)}\r\n`.repeat(1500);
    const sent = await send(daemon, 'big', filler);
    assert.equal(
      sent.code,
      0,
      sent.stdout
        .split('\n')
        .filter((l) => l.startsWith('<'))
        .join('\n'),
    );
    const request = tap.requests.find((r) => r.bodyBytes > filler.length);
    assert.ok(request, `a request with the whole body; saw ${tap.requests.map((r) => r.bodyBytes).join(', ')} bytes`);
    assert.equal(request.headers['from'], 'news@sender.test');
    assert.equal(request.headers['rcpt'], 'alice@example.test');
    assert.equal(request.headers['ip'], '127.0.0.5');
    assert.equal(request.headers['helo'], 'out.sender.test');
    assert.equal(request.headers['mta-name'], 'mx.sealpost.test');
    assert.match(String(request.headers['queue-id']), /^\w+$/);
    const message = await waitFor(async () => (await inbox(daemon)).find((m) => m.subject === 'big'), {
      what: 'the big message in the inbox',
      timeoutMs: 30_000,
    });
    assert.equal(message.header('x-spam'), 'No');
  });

  it('a clean message lands in the inbox, marked X-Spam: No', async () => {
    const sent = await send(daemon, 'clean', 'Hello Alice,\r\nlunch on Friday?\r\n');
    assert.equal(sent.code, 0, sent.stdout);
    const message = await waitFor(async () => (await inbox(daemon)).find((m) => m.subject === 'clean'), {
      what: 'the clean message in the inbox',
      timeoutMs: 20_000,
    });
    assert.equal(message.header('x-spam'), 'No');
    const received = await daemon.waitForLog((r) => r.event === 'received' && r['subject'] === 'clean');
    assert.equal((received['rspamd'] as { action: string }).action, 'no action');
  });

  it("a real Dovecot serving Sealpost's Maildirs shows the spam in Junk and the clean mail in INBOX over IMAP", async () => {
    // Dovecot's mail processes run as the Maildirs' owner (README: mail_uid = sealpost); here the dovecot user.
    await shareMaildirs(path.join(daemon.dataDir, 'mail'));
    const dovecot = await startDovecot(scope, [{ address: ALICE }], { mailRoot: path.join(daemon.dataDir, 'mail') });
    const folders = await dovecot.imapFolders(ALICE);
    const junkFolder = folders.find((f) => f.name === 'Junk');
    assert.ok(junkFolder, `LIST shows Junk: ${JSON.stringify(folders)}`);
    assert.match(junkFolder.attributes, /\\Junk/, 'special_use \\Junk');
    const spam = await dovecot.imapSubjects(ALICE, 'Junk');
    assert.ok(spam.includes('tagged'), `Junk holds the tagged message: ${spam.join(' | ')}`);
    assert.ok(spam.includes('*** SPAM *** cheap watches'), `and the rewritten one: ${spam.join(' | ')}`);
    const inbox = await dovecot.imapSubjects(ALICE);
    assert.ok(inbox.includes('clean'), `INBOX holds the clean message: ${inbox.join(' | ')}`);
    assert.ok(!inbox.includes('tagged'), 'spam is not in INBOX');
    await dovecot.stop();
  });

  it('with [outbound.rspamd], GTUBE from relay.networks is refused; clean relay mail passes', async () => {
    const spam = await send(daemon, 'outgoing gtube', `${GTUBE.reject}\r\n`, { bind: '127.0.0.2', to: 'someone@remote.test' });
    assert.match(spam.stdout, /<\*\* 550 5\.7\.1 /, spam.stdout);
    const clean = await send(daemon, 'outgoing clean', 'Minutes of the meeting.\r\n', { bind: '127.0.0.2', to: 'bob@example.test' });
    assert.equal(clean.code, 0, clean.stdout);
  });

  it("with [outbound.rspamd], an authenticated user's GTUBE is refused, and rspamd is told the user", async () => {
    const sent = await swaks(
      [
        '--server',
        `127.0.0.1:${submissionPort}`,
        '--tls',
        '--auth-user',
        ALICE,
        '--auth-password',
        PASSWORD,
        '--from',
        ALICE,
        '--to',
        'someone@remote.test',
        '--data',
        '-',
        '--timeout',
        '20',
      ],
      { input: composeMessage({ from: ALICE, to: ['someone@remote.test'], subject: 'compromised', body: `${GTUBE.reject}\r\n` }) },
    );
    assert.match(
      sent.stdout,
      /<~\* 550 5\.7\.1 Gtube pattern/,
      sent.stdout
        .split('\n')
        .filter((l) => l.startsWith('<'))
        .join('\n'),
    );
    assert.ok(
      tap.requests.some((r) => r.headers['user'] === ALICE),
      'a request with User:',
    );
  });

  it('a slow rspamd hits timeout_ms: 451 under fail = "tempfail"; once stopped, 451 too', async () => {
    const started = Date.now();
    const sent = await send(slow, 'slow', 'Hello.\r\n');
    assert.match(sent.stdout, /<\*\* 451 4\.7\.0 /, sent.stdout);
    assert.ok(Date.now() - started < proxy.delayMs + 2000, 'answered at the timeout, not after rspamd');
    const record = await slow.waitForLog({ event: 'rspamd' });
    assert.match(String(record['error']), /within 1000 ms/);
    await proxy.close();
    const down = await send(slow, 'down', 'Hello.\r\n');
    assert.match(down.stdout, /<\*\* 451 4\.7\.0 /, down.stdout);
    await slow.waitForLog((r) => r.event === 'rspamd' && /ECONNREFUSED/.test(String(r['error'])));
    assert.equal((await inbox(slow)).length, 0);
  });

  it('rspamd stopped, fail = "accept": delivered unchecked and logged', async () => {
    const sent = await send(lenient, 'unchecked', 'Hello.\r\n');
    assert.equal(sent.code, 0, sent.stdout);
    const message = await waitFor(async () => (await inbox(lenient)).find((m) => m.subject === 'unchecked'), {
      what: 'the unchecked message',
      timeoutMs: 20_000,
    });
    assert.equal(message.header('x-spam'), undefined);
    await lenient.waitForLog((r) => r.event === 'rspamd' && r['fail'] === 'accept');
  });

  it("sealpost status shows the last day's rspamd actions and errors", async () => {
    const status = await waitFor(
      async () => {
        const res = await daemon.cli(['status', '--json']);
        const report = JSON.parse(res.stdout) as { rspamd?: Record<string, Record<string, number>> | null };
        const inbound = report.rspamd?.['inbound'];
        return (
          inbound?.['reject'] === 1 &&
          inbound['add header'] === 1 &&
          inbound['rewrite subject'] === 1 &&
          report.rspamd?.['outbound']?.['reject'] === 2 &&
          report
        );
      },
      { what: 'the rspamd counts in sealpost status', timeoutMs: 20_000, intervalMs: 500 },
    );
    assert.equal(status.rspamd?.['inbound']?.['no action'], 2);
    // The same counts in the Prometheus metrics (listen.metrics).
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const action = (direction: string, name: string) =>
      Number(new RegExp(`^sealpost_rspamd_actions_total\\{direction="${direction}",action="${name}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    assert.equal(action('inbound', 'reject'), 1, metrics);
    assert.equal(action('inbound', 'add header'), 1);
    assert.equal(action('inbound', 'rewrite subject'), 1);
    assert.equal(action('inbound', 'no action'), 2);
    assert.equal(action('outbound', 'reject'), 2);
    // The slow daemon's two failed scans (the timeout, then the refused connection), as an operator reads them.
    await waitFor(async () => /rspamd inbound\s+error 2 \(the last day\)/.test((await slow.cli(['status'])).stdout), {
      what: 'rspamd errors in the text of sealpost status',
      timeoutMs: 20_000,
      intervalMs: 500,
    });
  });
});
