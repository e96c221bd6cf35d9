// sealpost backup / restore against a real daemon under load: a backup taken while clients send,
// restored into a new data_dir, delivers every message acknowledged before the backup began
// (a spooled one intact), signs with the restored DKIM key (verified by dkimpy against the old
// record), and refuses a damaged backup, a newer schema and a non-empty data_dir.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { listFiles } from '../../src/backup/archive.ts';
import { type SealpostDaemon, startSealpost } from '../helpers/daemon.ts';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { freePort } from '../helpers/ports.ts';
import { run } from '../helpers/proc.ts';
import { createTestPki, type Receiver, startReceiver } from '../helpers/receivers.ts';
import { mergeConfig, type Overrides, type SealpostToml, testDefaults, writeSealpostConfig } from '../helpers/sealpost-config.ts';
import { makeTempDir, removeTempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';
import { dkimpyVerify, prepareWithCli, SEALPOST, smtpLines } from './submission-setup.ts';

const MIB = 1024 * 1024;

/**
 * Sends messages from alice@example.test to load@remote.test over one connection until stop();
 * records each 250's time. A refusal or a slow reply (a loaded machine) ends that client quietly:
 * what the test checks is only what was acknowledged.
 */
function loadClient(port: number, tag: string, acked: { id: string; at: number }[]): { stop(): Promise<void> } {
  let stopped = false;
  const done = (async () => {
    const s = await smtpLines(port);
    try {
      if (!(await s.command()).startsWith('220 ') || !(await s.command('EHLO load.example.test')).startsWith('250')) return;
      for (let n = 0; !stopped && n < 400; n++) {
        const id = `${tag}-${n}`;
        if (!(await s.command('MAIL FROM:<alice@example.test>')).startsWith('250 ')) return;
        if (!(await s.command('RCPT TO:<load@remote.test>')).startsWith('250 ')) return;
        if (!(await s.command('DATA')).startsWith('354 ')) return;
        const reply = await s.command(`From: alice@example.test\r\nTo: load@remote.test\r\nSubject: load ${id}\r\nX-Test-Id: ${id}\r\n\r\nmessage ${id}\r\n.`);
        if (reply.startsWith('250 ')) acked.push({ id, at: Date.now() });
        else return;
      }
      await s.command('QUIT');
    } catch {
      // a reply slower than smtpLines' 10 s: this client stops; its acknowledged messages count
    } finally {
      s.close();
    }
  })();
  return {
    async stop() {
      stopped = true;
      await done;
    },
  };
}

function testIdOf(body: string): string | undefined {
  return /^X-Test-Id: (\S+)/m.exec(body)?.[1];
}

describe('sealpost backup and restore', { timeout: 240_000 }, () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  let dir: string;
  let dns: DnsServer;
  let mxPort: number;
  let overrides: Overrides<SealpostToml>;
  let records: Map<string, string>;
  let daemon: SealpostDaemon;

  before(async () => {
    dir = await makeTempDir('sealpost-backup-');
    cleanups.push(() => removeTempDir(dir));
    mxPort = await freePort();
    dns = await startDnsServer(
      new Map([
        ['remote.test', { MX: [{ preference: 10, exchange: 'mx.remote.test' }] }],
        ['mx.remote.test', { A: ['127.0.0.1'] }],
      ]),
    );
    cleanups.push(() => dns.close());
    // Nothing listens on mxPort until after the restore: every remote message stays queued.
    const raw: Record<string, unknown> = {
      data_dir: path.join(dir, 'a'),
      dns: { servers: [dns.address], timeout_ms: 1000 },
      domain: [{ name: 'example.test', mailboxes: ['alice', 'bob'], aliases: { postmaster: 'alice' }, dkim_selectors: ['s1'] }],
      outbound: { port: mxPort, mta_sts: false, tls_default: 'may', connect_timeout_s: 2 },
      queue: { min_backoff: '1s', max_backoff: '3s' },
    };
    overrides = raw as Overrides<SealpostToml>;
    const prepared = await prepareWithCli(dir, overrides, { keys: [{ domain: 'example.test', selector: 's1', type: 'rsa-2048' }] });
    records = prepared.records;
    daemon = await startSealpost({ after: (fn) => cleanups.push(fn as () => Promise<void>) }, { config: overrides, startTimeoutMs: 60_000 });
  });

  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  const configFor = async (dataDir: string): Promise<string> => {
    const file = path.join(path.dirname(dataDir), `${path.basename(dataDir)}.toml`);
    await writeSealpostConfig(file, mergeConfig(testDefaults(dataDir, { smtp: 1, acmeHttp: 2 }), { ...overrides, data_dir: dataDir }));
    return file;
  };

  it('takes a backup under load that restores into a new data_dir and delivers what was acknowledged before it', { timeout: 200_000 }, async () => {
    // A spooled message (> 1 MiB) in the queue at backup time.
    const big = await smtpLines(daemon.smtpPort);
    const line = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(2);
    const bigBody = Array.from({ length: Math.ceil((2 * MIB) / (line.length + 2)) }, (_, i) => `${i}:${line}`).join('\r\n');
    try {
      assert.match(await big.command(), /^220 /);
      await big.command('EHLO big.example.test');
      await big.command('MAIL FROM:<alice@example.test>');
      assert.match(await big.command('RCPT TO:<big@remote.test>'), /^250 /);
      assert.match(await big.command('DATA'), /^354 /);
      assert.match(await big.command(`From: alice@example.test\r\nTo: big@remote.test\r\nSubject: big\r\nX-Test-Id: big\r\n\r\n${bigBody}\r\n.`), /^250 /);
    } finally {
      big.close();
    }

    // One message in a Maildir: named in every backup, copied only with --with-mail.
    const local = await smtpLines(daemon.smtpPort);
    try {
      await local.command();
      await local.command('EHLO local.example.test');
      await local.command('MAIL FROM:<someone@remote.test>');
      await local.command('RCPT TO:<bob@example.test>');
      await local.command('DATA');
      assert.match(await local.command('From: someone@remote.test\r\nSubject: local\r\nX-Test-Id: local\r\n\r\nfor bob\r\n.'), /^250 /);
    } finally {
      local.close();
    }
    await daemon.waitForMail(1, { domain: 'example.test', mailbox: 'bob' });

    const acked: { id: string; at: number }[] = [];
    const clients = [loadClient(daemon.smtpPort, 'a', acked), loadClient(daemon.smtpPort, 'b', acked), loadClient(daemon.smtpPort, 'c', acked)];
    await waitFor(() => acked.length >= 30, { timeoutMs: 60_000, what: '30 messages acknowledged by the load' });
    const began = Date.now();
    const archive = path.join(dir, 'backup.tar.zst');
    const made = await run(SEALPOST, ['backup', '--out', archive, '--config', daemon.configFile], { timeoutMs: 120_000 });
    const backupMs = Date.now() - began;
    const whileBackup = acked.filter((a) => a.at > began).length;
    await Promise.all(clients.map((c) => c.stop()));
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /backup written to .*backup\.tar\.zst: schema \d+/);
    assert.equal((await stat(archive)).mode & 0o777, 0o600);
    // An ack in the very millisecond the wait saw the 30th is before the backup too (it starts after `began`).
    const before = acked.filter((a) => a.at <= began).map((a) => a.id);
    assert.ok(before.length >= 30);
    // The directory form too, for the refusals below.
    const dirBackup = path.join(dir, 'backup-dir');
    const madeDir = await run(SEALPOST, ['backup', '--out', dirBackup, '--config', daemon.configFile], { timeoutMs: 120_000 });
    assert.equal(madeDir.code, 0, madeDir.stderr);
    const manifest = JSON.parse(await readFile(path.join(dirBackup, 'manifest.json'), 'utf8')) as {
      files: { path: string }[];
      spooled: number;
      maildirs: { name: string; files: number; copied: boolean }[];
    };
    assert.deepEqual(
      manifest.maildirs.map((m) => [m.name, m.files, m.copied]),
      [['example.test/bob', 1, false]],
    );
    assert.ok(!manifest.files.some((f) => f.path.startsWith('data/mail/')));
    const withMail = path.join(dir, 'backup-mail');
    const madeMail = await run(SEALPOST, ['backup', '--out', withMail, '--with-mail', '--config', daemon.configFile], { timeoutMs: 120_000 });
    assert.equal(madeMail.code, 0, madeMail.stderr);
    const mailManifest = JSON.parse(await readFile(path.join(withMail, 'manifest.json'), 'utf8')) as typeof manifest;
    assert.deepEqual(
      mailManifest.maildirs.map((m) => [m.name, m.files, m.copied]),
      [['example.test/bob', 1, true]],
    );
    const mailFile = mailManifest.files.find((f) => f.path.startsWith('data/mail/example.test/bob/new/'));
    assert.ok(mailFile, 'the Maildir message is in the --with-mail backup');
    assert.ok((await stat(path.join(withMail, mailFile.path))).nlink >= 2, 'hard-linked, not copied');
    for (const f of await listFiles(withMail)) {
      assert.equal((await stat(path.join(withMail, f))).mode & 0o777, 0o600, f);
      assert.equal((await stat(path.dirname(path.join(withMail, f)))).mode & 0o777, 0o700, path.dirname(f));
    }
    assert.ok(manifest.spooled >= 1, 'the spooled message is in the backup');
    assert.ok(manifest.files.some((f) => f.path === 'data/dkim/example.test/s1.pem'));
    assert.ok(manifest.files.some((f) => f.path.startsWith('data/certs/self-signed/')));
    assert.ok(manifest.files.some((f) => f.path === 'config/sealpost.toml'));
    await daemon.stop();

    // Restore into a new data_dir; the old server is gone (its data no longer matters).
    const dataB = path.join(dir, 'b');
    const configB = await configFor(dataB);
    const restored = await run(SEALPOST, ['restore', archive, '--config', configB], { timeoutMs: 60_000 });
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /restored .* into .*\/b: \d+ files/);
    // Deferred recipients wait for their next retry: the way to send them now is said.
    assert.match(restored.stdout, /each deferred recipient at its next retry \(sealpost queue retry --all --config \S+ once it runs: now\)/);
    assert.equal((await stat(path.join(dataB, 'sealpost.db'))).mode & 0o777, 0o600);
    assert.equal((await stat(path.join(dataB, 'dkim', 'example.test', 's1.pem'))).mode & 0o777, 0o600);
    assert.equal((await stat(dataB)).mode & 0o777, 0o700);

    const pki = await createTestPki();
    const receiver: Receiver = await startReceiver('valid', { host: '127.0.0.1', port: mxPort, mxName: 'mx.remote.test', pki });
    cleanups.push(() => receiver.close());
    const restoredDaemon = await startSealpost(
      { after: (fn) => cleanups.push(fn as () => Promise<void>) },
      { config: { ...overrides, data_dir: dataB }, startTimeoutMs: 60_000 },
    );
    // No retry needed: the restored rows are due within max_backoff (3 s).
    const want = new Set([...before, 'big']);
    await waitFor(() => [...want].every((id) => receiver.messages.some((m) => testIdOf(m.body) === id)), {
      timeoutMs: 120_000,
      what: `the ${want.size} messages acknowledged before the backup delivered from the restored data_dir`,
    });
    process.stderr.write(`# ${before.length} acknowledged before the backup, ${whileBackup} during it (${backupMs} ms); all delivered after restore\n`);

    const bigReceived = receiver.messages.find((m) => testIdOf(m.body) === 'big');
    assert.ok(bigReceived);
    const receivedBody = bigReceived.body.slice(bigReceived.body.indexOf('\r\n\r\n') + 4).replace(/\r\n$/, '');
    assert.equal(createHash('sha256').update(receivedBody).digest('hex'), createHash('sha256').update(bigBody).digest('hex'), 'the spooled message intact');

    // Signed after the restore, with the restored key: verifies against the record published before.
    const s = await smtpLines(restoredDaemon.smtpPort);
    try {
      await s.command();
      await s.command('EHLO after.example.test');
      await s.command('MAIL FROM:<alice@example.test>');
      await s.command('RCPT TO:<after@remote.test>');
      await s.command('DATA');
      assert.match(
        await s.command('From: alice@example.test\r\nTo: after@remote.test\r\nSubject: after\r\nX-Test-Id: after\r\n\r\nsigned after restore\r\n.'),
        /^250 /,
      );
    } finally {
      s.close();
    }
    const afterMsg = await waitFor(() => receiver.messages.find((m) => testIdOf(m.body) === 'after'), {
      timeoutMs: 30_000,
      what: 'the message sent after restore',
    });
    assert.match(afterMsg.body, /^DKIM-Signature: [\s\S]*?; s=s1;/m);
    assert.deepEqual(await dkimpyVerify(afterMsg.body, records), [true]);

    // A non-empty data_dir is refused, naming what is there.
    const again = await run(SEALPOST, ['restore', archive, '--config', configB], { timeoutMs: 60_000 });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /data_dir .*\/b is not empty \(.*sealpost\.db.*\): restore only into an empty data_dir/);
  });

  it('refuses a damaged backup or a newer schema, naming the file, and writes nothing', { timeout: 60_000 }, async () => {
    const dirBackup = path.join(dir, 'backup-dir');
    const archive = path.join(dir, 'backup.tar.zst');
    // A changed file in the directory form.
    const damaged = path.join(dir, 'damaged-dir');
    await cp(dirBackup, damaged, { recursive: true });
    await writeFile(path.join(damaged, 'data', 'dkim', 'example.test', 's1.pem'), 'not the key\n', { flag: 'a' });
    const dataC = path.join(dir, 'c');
    const configC = await configFor(dataC);
    const refused = await run(SEALPOST, ['restore', damaged, '--config', configC], { timeoutMs: 60_000 });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /data\/dkim\/example\.test\/s1\.pem: does not match the manifest/);
    assert.match(refused.stderr, /nothing was written/);
    await assert.rejects(stat(dataC), { code: 'ENOENT' });

    // A byte changed inside the archive (tar and zstd both still read it).
    const tarBytes = zstdDecompressSync(await readFile(archive));
    // In the config file (the manifest, first in the archive, names the hostname too).
    const at = tarBytes.indexOf('hostname = "mx.sealpost.test"');
    assert.ok(at > 0);
    tarBytes[at + 'hostname = "'.length] = 'M'.charCodeAt(0);
    const badArchive = path.join(dir, 'damaged.tar.zst');
    await writeFile(badArchive, zstdCompressSync(tarBytes));
    const refusedArchive = await run(SEALPOST, ['restore', badArchive, '--config', configC], { timeoutMs: 60_000 });
    assert.equal(refusedArchive.code, 1);
    assert.match(refusedArchive.stderr, /config\/sealpost\.toml: does not match the manifest/);
    await assert.rejects(stat(dataC), { code: 'ENOENT' });

    // A truncated archive.
    const truncated = path.join(dir, 'truncated.tar.zst');
    const whole = await readFile(archive);
    await writeFile(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
    const refusedTruncated = await run(SEALPOST, ['restore', truncated, '--config', configC], { timeoutMs: 60_000 });
    assert.equal(refusedTruncated.code, 1);
    assert.match(refusedTruncated.stderr, /truncated\.tar\.zst (is not a readable \.tar\.zst archive|.*missing from)/);
    await assert.rejects(stat(dataC), { code: 'ENOENT' });

    // A backup from a newer Sealpost.
    const newer = path.join(dir, 'newer-dir');
    await cp(dirBackup, newer, { recursive: true });
    const manifestFile = path.join(newer, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as { schemaVersion: number };
    manifest.schemaVersion = 999;
    await writeFile(manifestFile, JSON.stringify(manifest));
    const refusedNewer = await run(SEALPOST, ['restore', newer, '--config', configC], { timeoutMs: 60_000 });
    assert.equal(refusedNewer.code, 1);
    assert.match(refusedNewer.stderr, /schema version 999 .*this Sealpost knows up to \d+: restore with Sealpost/);
    await assert.rejects(stat(dataC), { code: 'ENOENT' });
  });
});
