// End to end, as a new user would: Pebble + `sealpost start` with [acme] enabled, under netless
// (Pebble validates HTTP-01 on port 80). The certificate arrives via real HTTP-01 and verifies
// with `openssl s_client -starttls smtp` against Pebble's root; a restart reuses account and
// certificate; `sealpost certs renew --force` through the running daemon swaps the certificate
// while an earlier session stays up; a failing challenge keeps the old certificate with the
// reason logged and a retry scheduled; a corrupted cache entry is refused at load.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { parseArgs } from '../../src/cli/args.ts';
import { run as certsCommand } from '../../src/cli/certs.ts';
import { type Pebble, startPebble } from '../helpers/pebble.ts';
import { freePort } from '../helpers/ports.ts';
import { run } from '../helpers/proc.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

const HOST = 'mx.example.test';
// Every name resolves here (Pebble's fake DNS); this file's own address, so port 80 is never shared.
const RESPONDER_IP = '127.0.0.13';
const ROOT = path.resolve(import.meta.dirname, '../..');

type LogRecord = Record<string, unknown>;

interface Daemon {
  records: LogRecord[];
  stop(): Promise<void>;
}

/** `scripts/sealpost start --config FILE` as a child; JSON log lines collected; waits for "listening". */
async function startDaemon(configFile: string): Promise<Daemon> {
  const child: ChildProcess = spawn(path.join(ROOT, 'scripts/sealpost'), ['start', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const records: LogRecord[] = [];
  let pending = '';
  let stderr = '';
  child.stdout?.on('data', (b: Buffer) => {
    pending += b.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim().startsWith('{')) records.push(JSON.parse(line) as LogRecord);
  });
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  await waitFor(() => records.some((r) => r['event'] === 'daemon' && r['state'] === 'listening') || child.exitCode !== null, {
    what: 'the daemon to listen',
    timeoutMs: 20_000,
  });
  assert.equal(child.exitCode, null, `the daemon exited: ${stderr}\n${JSON.stringify(records.slice(-3))}`);
  return {
    records,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** openssl s_client -starttls smtp: the verification result and the served leaf. */
async function sClient(port: number, caFile?: string): Promise<{ ok: boolean; leaf: X509Certificate; output: string }> {
  const args = [
    's_client',
    '-starttls',
    'smtp',
    '-connect',
    `127.0.0.1:${port}`,
    '-servername',
    HOST,
    ...(caFile ? ['-verify_return_error', '-CAfile', caFile] : []),
  ];
  const result = await run('openssl', args, { input: 'QUIT\r\n', timeoutMs: 15_000 });
  const output = result.stdout + result.stderr;
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(output)?.[0];
  assert.ok(pem, `s_client printed no certificate:\n${output}`);
  return { ok: result.code === 0 && /Verify return code: 0 \(ok\)/.test(output), leaf: new X509Certificate(pem), output };
}

/** An SMTP session upgraded with STARTTLS and kept open; `command` sends a line, resolves with the reply. */
async function starttlsSession(port: number, ca: string): Promise<{ socket: tls.TLSSocket; command(line: string): Promise<string> }> {
  const plain = net.connect({ host: '127.0.0.1', port });
  const reader = (stream: net.Socket) => {
    let buffer = '';
    const waiters: ((reply: string) => void)[] = [];
    stream.on('data', (b: Buffer) => {
      buffer += b.toString();
      // A complete reply ends with a line "NNN text" (space after the code).
      const m = /(^|\r\n)\d{3} [^\r\n]*\r\n$/.exec(buffer);
      if (m && waiters.length > 0) {
        const reply = buffer;
        buffer = '';
        waiters.shift()?.(reply);
      }
    });
    return (line?: string) =>
      new Promise<string>((resolve) => {
        waiters.push(resolve);
        if (line !== undefined) stream.write(`${line}\r\n`);
      });
  };
  const plainIo = reader(plain);
  assert.match(await plainIo(), /^220 /);
  assert.match(await plainIo('EHLO client.example.test'), /STARTTLS/);
  assert.match(await plainIo('STARTTLS'), /^220 /);
  plain.removeAllListeners('data');
  const socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const s = tls.connect({ socket: plain, servername: HOST, ca }, () => resolve(s));
    s.once('error', reject);
  });
  const io = reader(socket);
  return { socket, command: (line) => io(line) };
}

async function certs(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const args = parseArgs(['certs', ...argv], ['config']);
  assert.ok(typeof args !== 'string');
  const code = await certsCommand(args, { write: (s: string) => ((out += s), true) }, { write: (s: string) => ((err += s), true) });
  return { code, out, err };
}

describe('sealpost with [acme] against Pebble', { timeout: 240_000 }, () => {
  const cleanups: (() => unknown)[] = [];
  const scope = { after: (fn: () => unknown) => void cleanups.push(fn) };
  let pebble: Pebble;
  let dir: string;
  let configFile: string;
  let rootFile: string;
  let smtpPort: number;
  let metricsPort: number;
  let daemon: Daemon | undefined;

  async function writeConfig(): Promise<void> {
    await writeFile(
      configFile,
      `hostname = "${HOST}"
data_dir = "${path.join(dir, 'data')}"
[listen]
smtp = ["127.0.0.1:${smtpPort}"]
acme_http = ["${RESPONDER_IP}:80"]
metrics = ["127.0.0.1:${metricsPort}"]
[acme]
enabled = true
directory = "${pebble.directoryUrl}"
email = "postmaster@example.test"
ca_file = "${pebble.httpsCaFile}"
[dns]
servers = ["127.0.0.1:${await freePort()}"]
timeout_ms = 300
[[domain]]
name = "example.test"
mailboxes = ["alice"]
[inbound]
reverse_dns = false
[shutdown]
grace_s = 1
`,
    );
  }

  before(async () => {
    dir = await tempDir(scope);
    pebble = await startPebble(scope, { httpPort: 80, answerIp: RESPONDER_IP });
    rootFile = path.join(dir, 'pebble-root.pem');
    await writeFile(rootFile, await pebble.rootPem());
    smtpPort = await freePort();
    metricsPort = await freePort();
    configFile = path.join(dir, 'sealpost.toml');
    await writeConfig();
  });

  after(async () => {
    await daemon?.stop();
    for (const fn of cleanups.reverse()) await fn();
  });

  let firstSerial = '';

  it('a fresh start serves a Pebble-verified certificate on STARTTLS within seconds', async (t) => {
    const started = Date.now();
    daemon = await startDaemon(configFile);
    const d = daemon;
    await waitFor(() => d.records.find((r) => r['event'] === 'cert' && r['action'] === 'issued'), { what: 'the issued certificate', timeoutMs: 30_000 });
    const seconds = (Date.now() - started) / 1000;
    t.diagnostic(`start to issued certificate: ${seconds.toFixed(1)} s`);
    assert.ok(seconds < 15, `issued after ${seconds} s`);
    const served = await sClient(smtpPort, rootFile);
    assert.ok(served.ok, served.output);
    assert.match(served.leaf.issuer, /Pebble/);
    firstSerial = served.leaf.serialNumber;

    const listing = await certs(['--config', configFile, '--json']);
    assert.equal(listing.code, 0, listing.err);
    const acme = (
      JSON.parse(listing.out) as { certificates: { source: string; serial?: string; issuer?: string; nextRenewalAt?: string; lastError?: string }[] }
    ).certificates.find((c) => c.source === 'acme');
    assert.equal(acme?.serial, firstSerial);
    assert.match(acme?.issuer ?? '', /Pebble/);
    assert.ok(Date.parse(acme?.nextRenewalAt ?? '') > Date.now());
    assert.equal(acme?.lastError, undefined);
    const text = await certs(['--config', configFile]);
    for (const line of ['sealpost certs:', ...text.out.trimEnd().split('\n')]) t.diagnostic(line);
    assert.match(text.out, /acme: mx\.example\.test[\s\S]*not after:[\s\S]*next renewal:[\s\S]*last error: +none/);
  });

  it('a restart reuses the account and the certificate', async () => {
    await daemon?.stop();
    daemon = await startDaemon(configFile);
    const d = daemon;
    await waitFor(() => d.records.find((r) => r['event'] === 'cert' && r['action'] === 'cached'), { what: 'the cached certificate loaded', timeoutMs: 10_000 });
    const served = await sClient(smtpPort, rootFile);
    assert.ok(served.ok, served.output);
    assert.equal(served.leaf.serialNumber, firstSerial);
    assert.equal(d.records.filter((r) => r['action'] === 'account-registered' || r['action'] === 'ordering').length, 0, 'no new account, no new order');
  });

  it('`certs renew --force` through the daemon swaps the certificate while an earlier session stays up', async () => {
    const session = await starttlsSession(smtpPort, await readFile(rootFile, 'utf8'));
    const oldSerial = session.socket.getPeerX509Certificate()?.serialNumber;
    assert.equal(oldSerial, firstSerial);
    const renewal = await certs(['renew', '--config', configFile, '--force']);
    assert.equal(renewal.code, 0, renewal.out + renewal.err);
    assert.match(renewal.out, /issued certificate/);
    assert.doesNotMatch(renewal.out, /renewing without it/, 'the daemon handled it');
    const served = await sClient(smtpPort, rootFile);
    assert.ok(served.ok, served.output);
    assert.notEqual(served.leaf.serialNumber, oldSerial);
    assert.match(await session.command('NOOP'), /^250 /, 'the earlier session still works');
    assert.match(await session.command('QUIT'), /^221 /);
    session.socket.destroy();
    firstSerial = served.leaf.serialNumber;
  });

  it('without a running daemon, `certs renew` renews on its own; the next start serves that certificate', async () => {
    await daemon?.stop();
    daemon = undefined;
    const forced = await certs(['renew', '--config', configFile, '--force']);
    assert.equal(forced.code, 0, forced.out + forced.err);
    assert.match(forced.out, /no running daemon answered; renewing without it/);
    const serial = /issued certificate ([0-9A-F]+)/.exec(forced.out)?.[1];
    assert.ok(serial && serial !== firstSerial, forced.out);
    daemon = await startDaemon(configFile);
    const served = await sClient(smtpPort, rootFile);
    assert.ok(served.ok, served.output);
    assert.equal(served.leaf.serialNumber, serial);
    firstSerial = serial;
  });

  it('a failing challenge keeps the old certificate serving, logs the reason and schedules a retry', async (t) => {
    // A restarted CA (new roots, forgotten accounts) that validates on a port where nothing answers.
    const deadPort = await freePort();
    await pebble.stop();
    pebble = await startPebble(scope, { httpPort: deadPort, answerIp: RESPONDER_IP, reuse: pebble });
    const d = daemon as Daemon;
    const renewal = await certs(['renew', '--config', configFile, '--force']);
    assert.equal(renewal.code, 1, renewal.out);
    t.diagnostic(`certs renew: ${renewal.out.trim()}`);
    assert.match(renewal.out, /renewal failed: http-01 challenge for mx\.example\.test failed: .*(connection refused|Connection refused)/i);
    const failed = await waitFor(() => d.records.find((r) => r['event'] === 'cert' && r['action'] === 'failed'), {
      what: 'the failure in the daemon log',
      timeoutMs: 5000,
    });
    assert.match(String(failed['error']), /http-01 challenge for mx\.example\.test failed/);
    assert.ok(Date.parse(String(failed['nextAttemptAt'])) > Date.now(), 'a retry is scheduled');
    assert.ok(
      d.records.some((r) => r['action'] === 'account-gone'),
      'the CA forgot the account…',
    );
    assert.ok(
      d.records.some((r) => r['action'] === 'account-registered'),
      '…so it was registered again',
    );
    const served = await sClient(smtpPort, rootFile);
    assert.ok(served.ok, 'the old certificate still verifies against the old root');
    assert.equal(served.leaf.serialNumber, firstSerial);
    const listing = await certs(['--config', configFile]);
    assert.match(listing.out, /last error: +http-01 challenge for mx\.example\.test failed/);
    // The metrics: one renewal failure, and the expiry of the certificate that keeps serving.
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /^sealpost_acme_renewal_failures_total 1$/m);
    const expiry = Math.floor(Date.parse(served.leaf.validTo) / 1000);
    assert.match(metrics, new RegExp(`^sealpost_certificate_expiry_timestamp_seconds\\{name="mx\\.example\\.test"\\} ${expiry}$`, 'm'));
  });

  it('a corrupted cache entry is refused at load: the self-signed certificate serves instead', async () => {
    await daemon?.stop();
    daemon = undefined;
    const cacheDir = path.join(dir, 'data', 'certs', 'acme', HOST);
    const meta = JSON.parse(await readFile(path.join(cacheDir, 'meta.json'), 'utf8')) as { chainFile: string };
    const chainFile = path.join(cacheDir, meta.chainFile);
    const chain = await readFile(chainFile, 'utf8');
    await writeFile(
      chainFile,
      chain.replace(/-----BEGIN CERTIFICATE-----\n.{10}/, (m) => `${m.slice(0, -10)}AAAAAAAAAA`),
    );
    daemon = await startDaemon(configFile);
    const d = daemon;
    const refused = await waitFor(() => d.records.find((r) => r['event'] === 'cert' && r['action'] === 'refused' && r['source'] === 'acme'), {
      what: 'the refusal',
      timeoutMs: 10_000,
    });
    assert.match(String(refused['error']), /cached certificate .* refused/);
    const served = await sClient(smtpPort);
    assert.equal(served.leaf.issuer, served.leaf.subject, 'self-signed');
    assert.notEqual(served.leaf.serialNumber, firstSerial);
  });
});
