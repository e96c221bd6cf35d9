// The status page in a real browser: a real daemon with listen.status_http, a week of simulated
// hourly traffic written into its database (test/helpers/status-traffic.ts) plus real traffic of
// this hour (swaks in with and without STARTTLS, one delivery to a TLS receiver, one to a domain
// that does not exist), then headless Chromium loads the page: the DOM has the charts' SVG
// elements with one data point per hour of traffic, the queue, the certificate and the errors by
// destination and the doctor's findings; a screenshot is taken (into docs/status-page.png with SEALPOST_UPDATE_SCREENSHOT=1).
// Then basic auth from a 0600 password file (wrong passwords locked out), HTTPS off loopback, and
// the refusals. Loopback only.
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import type { StatusReport } from '../../src/cli/status.ts';
import { type DoctorRecord, doctorFile } from '../../src/doctor/startup.ts';
import { dumpDom, screenshot } from '../helpers/chromium.ts';
import { startSealpost } from '../helpers/daemon.ts';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { freePort } from '../helpers/ports.ts';
import { createTestPki, type Receiver, startReceiver, type TestPki } from '../helpers/receivers.ts';
import { QUIET_HOURS, seedWeek } from '../helpers/status-traffic.ts';
import { swaksSend } from '../helpers/swaks.ts';
import { makeTempDir, removeTempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
let dns: DnsServer;
let pki: TestPki;
let receiver: Receiver;
let port: number;
let dir: string;

before(async () => {
  dns = await startDnsServer();
  pki = await createTestPki();
  port = await freePort('127.0.0.2');
  dir = await makeTempDir('sealpost-status-page-');
  await writeFile(path.join(dir, 'ca.pem'), pki.root.certPem);
  receiver = await startReceiver('valid', { host: '127.0.0.2', port, mxName: 'mx.tls.test', pki });
  dns.zone.set('tls.test', { MX: [{ preference: 10, exchange: 'mx.tls.test' }] });
  dns.zone.set('mx.tls.test', { A: ['127.0.0.2'] });
  // Nothing listens there: its message stays queued, deferred.
  dns.zone.set('down.test', { MX: [{ preference: 10, exchange: 'mx.down.test' }] });
  dns.zone.set('mx.down.test', { A: ['127.0.0.4'] });
});

after(async () => {
  await receiver.close();
  await dns.close();
  await removeTempDir(dir);
});

/** Every element `<tag class="… cls …" …>` of the serialized DOM, as attribute maps. */
function elements(dom: string, tag: string, cls: string): Record<string, string>[] {
  return [...dom.matchAll(new RegExp(`<${tag}\\s([^>]*)>`, 'g'))]
    .map((m) => Object.fromEntries([...(m[1] ?? '').matchAll(/([\w-]+)="([^"]*)"/g)].map((a) => [a[1], a[2]])) as Record<string, string>)
    .filter((a) => (a['class'] ?? '').split(' ').includes(cls));
}

test('status page: a week of traffic in inline SVG charts, the queue, certificates and errors by destination, in headless Chromium', {
  timeout: 180_000,
}, async (t) => {
  const httpPort = await freePort();
  const daemon = await startSealpost(t, {
    config: {
      listen: { status_http: [`127.0.0.1:${httpPort}`] },
      dns: { servers: [dns.address], timeout_ms: 1000 },
      outbound: { port, ca_file: path.join(dir, 'ca.pem'), tls_default: 'may', mta_sts: false, connect_timeout_s: 5 },
    },
  });
  assert.ok(daemon.findLogs({ event: 'status-page', action: 'listening' }).length === 1, 'one status-page listening record');
  const now = Date.now();
  const db = new Database(path.join(daemon.dataDir, 'sealpost.db'));
  db.pragma('busy_timeout = 5000');
  const seeded = seedWeek(db, now);
  db.close();

  // This hour's real traffic, on top of the seeded counts.
  const from = 'alice@example.test';
  assert.equal((await swaksSend({ port: daemon.smtpPort, from, to: ['bob@example.test'], tls: 'require', subject: 'local with TLS' })).code, 0);
  assert.equal((await swaksSend({ port: daemon.smtpPort, from, to: ['user@tls.test'], tls: 'require', subject: 'to tls' })).code, 0);
  assert.equal((await swaksSend({ port: daemon.smtpPort, from, to: ['user@nowhere.test'], subject: 'to nowhere, no TLS' })).code, 0);
  assert.equal((await swaksSend({ port: daemon.smtpPort, from, to: ['user@down.test'], tls: 'require', subject: 'to a host that is down' })).code, 0);
  await waitFor(() => receiver.messages.length === 1, { timeoutMs: 20_000, what: 'the message at the TLS receiver' });
  const last = seeded[167]!;
  await waitFor(
    async () => {
      const s = JSON.parse((await daemon.cli(['status', '--json'])).stdout) as StatusReport;
      return (
        s.tls.inbound &&
        s.tls.inbound.sessions >= last.sessions + seeded[166]!.sessions + 4 &&
        ['nowhere.test', 'down.test'].every((d) => s.lastErrors.some((e) => e.to === d))
      );
    },
    { timeoutMs: 30_000, intervalMs: 500, what: 'the 4 real sessions counted and the nowhere.test and down.test errors recorded' },
  );

  // The doctor's findings of a start-up run (its checks need the Internet's DNS: written as the daemon writes them).
  const doctor: DoctorRecord = {
    checkedAt: new Date(now).toISOString(),
    counts: { ok: 16, warning: 1, error: 0 },
    findings: [
      {
        id: 'dmarc.policy-none',
        level: 'warning',
        subject: 'example.test',
        found: 'p=none: receivers report but do not act on failing mail',
        why: 'w',
        fix: 'once the reports show only your own mail, move to p=quarantine, then p=reject',
      },
    ],
  };
  await writeFile(doctorFile(daemon.dataDir), JSON.stringify(doctor));

  const url = `http://127.0.0.1:${httpPort}/`;
  const dom = await dumpDom(url, { timeoutMs: 90_000 });
  assert.match(dom, /<title>mx\.sealpost\.test: Sealpost status<\/title>/);
  assert.ok(!/<script/i.test(dom), 'no script');

  // TLS share: one point per hour with traffic, the seeded shares exactly (this hour has real traffic too).
  const week = seeded.map((h, i) => ({ ...h, i }));
  const inbound = elements(dom, 'circle', 's-inbound');
  const busyHours = week.filter((h) => h.sessions > 0);
  assert.equal(inbound.length, busyHours.length);
  assert.equal(busyHours.length, 168 - QUIET_HOURS.length);
  for (const [k, h] of busyHours.entries()) {
    if (h.i === 167) continue;
    assert.equal(inbound[k]?.['data-hour'], `${new Date(h.hour).toISOString().slice(0, 13)}:00Z`);
    assert.equal(Number(inbound[k]?.['data-value']), Math.round((h.tls / h.sessions) * 10_000) / 10_000, `inbound share at slot ${h.i}`);
  }
  const outbound = elements(dom, 'circle', 's-outbound');
  assert.equal(outbound.length, week.filter((h) => h.connections > 0).length);
  assert.ok(outbound.some((p) => Number(p['data-value']) < 1) && outbound.some((p) => p['data-value'] === '1'));
  assert.equal(elements(dom, 'svg', 'chart').find((s) => s['id'] === 'chart-tls')?.['aria-label'], 'Connections with TLS');

  // Messages per hour by outcome: a bar per hour with that outcome, the seeded counts exactly.
  const bars = (series: string) => elements(dom, 'rect', `s-${series}`).filter((r) => (r['class'] ?? '').includes('bar'));
  const delivered = bars('delivered');
  assert.equal(delivered.length, week.filter((h) => h.delivered > 0).length);
  const sample = week[100]!;
  assert.equal(delivered.find((b) => b['data-hour'] === `${new Date(sample.hour).toISOString().slice(0, 13)}:00Z`)?.['data-value'], String(sample.delivered));
  assert.equal(bars('bounced').length, week.filter((h) => h.bounced > 0).length + (last.bounced > 0 ? 0 : 1), 'seeded bounces and this hour (nowhere.test)');
  assert.equal(bars('deferred').length, week.filter((h) => h.deferred > 0).length + (last.deferred > 0 ? 0 : 1), 'seeded deferrals and this hour (down.test)');
  assert.equal(elements(dom, 'circle', 's-received').length, busyHours.length);

  // The queue, the certificate with its days left, the errors grouped by destination with the reason.
  assert.ok(elements(dom, 'svg', 'chart').some((s) => s['id'] === 'chart-queue'));
  assert.match(dom, /1 message in the queue, the oldest received /);
  assert.deepEqual(
    elements(dom, 'rect', 'bar')
      .filter((r) => r['data-hour'] === undefined)
      .map((r) => [r['data-series'], r['data-value']]),
    [['queued', '1']],
  );
  assert.match(dom, /<td>self-signed<\/td><td>mx\.sealpost\.test<\/td><td>\d{4}-\d\d-\d\d<\/td><td class="days good" data-days="\d+">\d+ days left<\/td>/);
  const groups = elements(dom, 'tr', 'error-group');
  assert.deepEqual(groups.map((g) => g['data-destination']).sort(), ['down.test', 'example.net', 'gmail.test', 'nowhere.test', 'outlook.test']);
  assert.match(dom, /<td class="reason">mx\.down\.test\[127\.0\.0\.4\]:\d+: [^<]*ECONNREFUSED/);
  assert.match(dom, /<td class="reason">nowhere\.test: no such domain \(NXDOMAIN\)/);
  assert.match(dom, /<td class="reason">mx\.outlook\.test\[127\.0\.0\.9\]:25: 450 4\.2\.0 mailbox busy, try again later \(RCPT TO\)/);
  assert.match(dom, /0 errors, 1 warning, 16 ok at start-up/);
  assert.match(
    dom,
    /<li class="finding warning"><b>WARNING<\/b> example\.test: p=none: receivers report but do not act on failing mail<br><span class="hint">fix: once the reports show/,
  );

  const png = process.env['SEALPOST_UPDATE_SCREENSHOT'] === '1' ? path.join(ROOT, 'docs', 'status-page.png') : path.join(dir, 'status-page.png');
  await screenshot(url, png, { width: 940, height: 1600, timeoutMs: 90_000 });
  const image = await readFile(png);
  assert.deepEqual([...image.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG');
  assert.ok(image.length > 20_000, `a screenshot with content (${image.length} bytes)`);
});

/** GET over HTTPS that accepts any certificate (the daemon's self-signed one). */
function httpsGet(url: string, auth?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { rejectUnauthorized: false, ...(auth ? { auth } : {}) }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

test('status page: basic auth from a 0600 password file, locked out after wrong passwords; HTTPS off loopback; refused without a password or with an open file', {
  timeout: 180_000,
}, async (t) => {
  const passwd = path.join(dir, 'status.passwd');
  await writeFile(passwd, '# who may look\nops:correct horse\n');
  await chmod(passwd, 0o600);
  const loopPort = await freePort();
  const widePort = await freePort();
  const daemon = await startSealpost(t, {
    config: {
      // 0.0.0.0 is not loopback: HTTPS there (reached here through 127.0.0.1, all netless has).
      listen: { status_http: [`127.0.0.1:${loopPort}`, `0.0.0.0:${widePort}`] },
      status_http: { password_file: passwd },
      auth: { slow_after: 3, max_failures: 3, lockout_s: 600 },
      dns: { servers: [dns.address], timeout_ms: 1000 },
    },
  });
  const listening = daemon.findLogs({ event: 'status-page', action: 'listening' })[0];
  assert.deepEqual(listening?.['addresses'], [`http://127.0.0.1:${loopPort}/`, `https://0.0.0.0:${widePort}/`]);
  assert.equal(listening?.['auth'], 'basic');

  const plain = `http://127.0.0.1:${loopPort}/`;
  const refused = await fetch(plain);
  assert.equal(refused.status, 401);
  assert.equal(refused.headers.get('www-authenticate'), 'Basic realm="Sealpost status", charset="UTF-8"');
  const wrong = await fetch(plain, { headers: { authorization: `Basic ${Buffer.from('ops:wrong').toString('base64')}` } });
  assert.equal(wrong.status, 401);
  await daemon.waitForLog({ event: 'status-page', action: 'auth-failed' }, { timeoutMs: 5_000 });
  const good = await fetch(plain, { headers: { authorization: `Basic ${Buffer.from('ops:correct horse').toString('base64')}` } });
  assert.equal(good.status, 200);
  assert.match(good.headers.get('content-security-policy') ?? '', /default-src 'none'/);
  assert.match(await good.text(), /<svg class="chart" id="chart-tls"/);
  assert.equal(
    (await fetch(`http://127.0.0.1:${loopPort}/other`, { headers: { authorization: `Basic ${Buffer.from('ops:correct horse').toString('base64')}` } })).status,
    404,
  );
  // Chromium with the credentials in the URL (a top-level navigation).
  assert.match(await dumpDom(`http://ops:correct%20horse@127.0.0.1:${loopPort}/`, { timeoutMs: 90_000 }), /<svg class="chart" id="chart-messages"/);

  // Off loopback: TLS with our certificate, the same password; plain HTTP gets no page there.
  const wide = `https://127.0.0.1:${widePort}/`;
  assert.equal((await httpsGet(wide)).status, 401);
  const secure = await httpsGet(wide, 'ops:correct horse');
  assert.equal(secure.status, 200);
  assert.match(secure.body, /<h1>mx\.sealpost\.test<\/h1>/);
  await assert.rejects(fetch(`http://127.0.0.1:${widePort}/`));
  assert.match(await dumpDom(`https://ops:correct%20horse@127.0.0.1:${widePort}/`, { insecure: true, timeoutMs: 90_000 }), /<svg class="chart" id="chart-tls"/);

  // Wrong passwords: past auth.max_failures (3 here; the good logins above forgot the first wrong
  // one) the address is refused for a while, the right password too.
  for (let i = 0; i < 3; i++) assert.equal((await httpsGet(wide, 'ops:guess')).status, 401);
  const locked = await fetch(plain, { headers: { authorization: `Basic ${Buffer.from('ops:correct horse').toString('base64')}` } });
  assert.equal(locked.status, 429);
  assert.ok(Number(locked.headers.get('retry-after')) > 0);

  // config check: off loopback without a password file, and a password file others may read.
  await chmod(passwd, 0o644);
  const open = await daemon.cli(['config', 'check']);
  assert.equal(open.code, 1, open.stdout + open.stderr);
  assert.match(open.stdout + open.stderr, /status_http\.password_file: .*status\.passwd has mode 0644: others may read the passwords; chmod 600/);
  await chmod(passwd, 0o600);
  const config = await readFile(daemon.configFile, 'utf8');
  await writeFile(daemon.configFile, config.replace(/\[status_http\][^[]*/, ''));
  const unguarded = await daemon.cli(['config', 'check']);
  assert.equal(unguarded.code, 1);
  assert.match(
    unguarded.stdout + unguarded.stderr,
    /listen\.status_http\[1\]: "0\.0\.0\.0" is not a loopback address and \[status_http\] password_file is not set/,
  );
});
