// MTA-STS hosting end to end, as a new user would turn it on: `mta_sts = "enforce"` for a domain
// and listen.https. Pebble issues the certificate covering mta-sts.<domain> by TLS-ALPN-01 (nothing
// on port 80) and, in a second test, by HTTP-01; the policy is fetched over HTTPS trusting Pebble's
// root; `sealpost mta-sts show` prints the records and warns about an old id in DNS; a second
// Sealpost (the sender) finds our policy through the test DNS server, fetches it, and delivers to
// us with verify-level TLS because of it; a changed policy (SIGHUP) is served with a new id.
// Loopback only (netless: Pebble validates on ports 443 and 80 of this file's own address).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import { parseStsPolicy } from '../../src/tls-policy/mta-sts.ts';
import { type SealpostDaemon, startSealpost } from '../helpers/daemon.ts';
import { startDnsServer } from '../helpers/dns-server.ts';
import { startPebble } from '../helpers/pebble.ts';
import { freePort } from '../helpers/ports.ts';
import { catchesSignal } from '../helpers/processes.ts';
import { mergeConfig, writeSealpostConfig } from '../helpers/sealpost-config.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

// Every name Pebble looks up resolves here: this file's own address, so 80 and 443 are never shared.
const IP = '127.0.0.83';
const HOST = 'mx.example.test';
const STS_HOST = 'mta-sts.example.test';

interface Fetched {
  status: number;
  type: string;
  body: string;
  names: string;
}

/** GET over HTTPS to IP:443 with SNI `sni` and Host `host`, trusting only `ca`. */
function fetchPolicy(host: string, ca: string, urlPath = '/.well-known/mta-sts.txt', sni = host): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: IP, port: 443, path: urlPath, servername: sni, headers: { host }, ca, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        const cert = (res.socket as tls.TLSSocket).getPeerCertificate();
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body, names: cert.subjectaltname ?? '' });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function sigHup(daemon: SealpostDaemon): Promise<void> {
  const pid = daemon.pid();
  assert.ok(pid !== undefined);
  await waitFor(() => catchesSignal(pid, 'SIGHUP'), { timeoutMs: 5_000, intervalMs: 20, what: 'the daemon to handle SIGHUP' });
  const since = daemon.logs().length;
  process.kill(pid, 'SIGHUP');
  await daemon.waitForLog({ event: 'daemon', state: 'reloaded' }, { since, timeoutMs: 10_000 });
}

test('TLS-ALPN-01 certificate for mta-sts.<domain>; the policy is served, published, enforced by a sender, and changes its id', {
  timeout: 180_000,
}, async (t) => {
  const pebble = await startPebble(t, { httpPort: 80, tlsPort: 443, answerIp: IP });
  const root = await pebble.rootPem();
  const rootFile = path.join(await tempDir(t), 'pebble-root.pem');
  await writeFile(rootFile, root);
  const dns = await startDnsServer();
  t.after(() => dns.close());
  const smtpPort = await freePort(IP);

  const receiver = await startSealpost(t, {
    config: {
      hostname: HOST,
      // No acme_http: with only https, the challenge is TLS-ALPN-01 and nothing binds port 80.
      listen: { smtp: [`${IP}:${smtpPort}`], https: [`${IP}:443`], acme_http: null },
      domain: [{ name: 'example.test', mailboxes: ['alice'], mta_sts: 'enforce' }],
      acme: { enabled: true, directory: pebble.directoryUrl, ca_file: pebble.httpsCaFile },
      dns: { servers: [dns.address] },
    },
  });
  const issued = await receiver.waitForLog({ event: 'cert', action: 'issued' }, { timeoutMs: 60_000 });
  assert.deepEqual(issued['names'], [HOST, STS_HOST]);
  assert.ok(receiver.findLogs({ event: 'cert', action: 'challenge-served', challenge: 'tls-alpn-01' }).length >= 2, 'both names validated by TLS-ALPN-01');
  const port80 = await new Promise<string>((resolve) => {
    const s = net.connect(80, IP, () => (s.destroy(), resolve('connected')));
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
  assert.equal(port80, 'ECONNREFUSED', 'nothing listens on port 80');

  // The policy over HTTPS, with the ACME certificate (SNI), exactly RFC 8461's syntax.
  const policy = await fetchPolicy(STS_HOST, root);
  assert.equal(policy.status, 200);
  assert.equal(policy.type, 'text/plain');
  assert.match(policy.names, /DNS:mta-sts\.example\.test/);
  assert.deepEqual(parseStsPolicy(policy.body), { mode: 'enforce', mx: [HOST], maxAge: 604_800 });
  assert.equal((await fetchPolicy(STS_HOST, root, '/')).status, 404);
  assert.equal((await fetchPolicy('mta-sts.other.test', root, '/.well-known/mta-sts.txt', STS_HOST)).status, 404, 'a domain without a policy');
  // The SMTP listeners' hardening: no CBC suites.
  await assert.rejects(
    new Promise<void>((resolve, reject) => {
      const s = tls.connect(
        { host: IP, port: 443, servername: STS_HOST, ca: root, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA' },
        () => {
          s.destroy();
          resolve();
        },
      );
      s.on('error', reject);
    }),
  );

  // `sealpost mta-sts show`: the records to publish; DNS still has an old id → warning, exit 1.
  dns.zone.set('_mta-sts.example.test', { TXT: ['v=STSv1; id=20240101'] });
  const stale = await receiver.cli(['mta-sts', 'show']);
  assert.equal(stale.code, 1, stale.stdout + stale.stderr);
  const shown = JSON.parse((await receiver.cli(['mta-sts', 'show', '--json'])).stdout) as {
    policies: { id: string; txt: { name: string; value: string }; policy: string }[];
  };
  const [first] = shown.policies;
  assert.ok(first);
  assert.equal(first.policy, policy.body);
  assert.match(stale.stdout, new RegExp(`_mta-sts\\.example\\.test\\. IN TXT "v=STSv1; id=${first.id}"`));
  assert.match(stale.stdout, /DNS still has id=20240101/);
  assert.match(stale.stdout, /WARNING mta-sts\.example\.test: no such domain/);
  // Published as told: ok, exit 0.
  dns.zone.set(first.txt.name, { TXT: [first.txt.value] });
  dns.zone.set(STS_HOST, { A: [IP] });
  const current = await receiver.cli(['mta-sts', 'show']);
  assert.equal(current.code, 0, current.stdout);
  assert.match(current.stdout, new RegExp(`ok +DNS has id=${first.id}`));

  // The sender: our MX and policy host in DNS, Pebble's root trusted, tls_default "may": verify
  // comes only from our MTA-STS policy.
  dns.zone.set('example.test', { MX: [{ preference: 10, exchange: HOST }] });
  dns.zone.set(HOST, { A: [IP] });
  const sender = await startSealpost(t, {
    config: {
      hostname: 'mx.sender.test',
      domain: [{ name: 'sender.test', mailboxes: ['bob'] }],
      dns: { servers: [dns.address] },
      outbound: { port: smtpPort, ca_file: rootFile, tls_default: 'may' },
    },
  });
  const sent = await sender.cli(['send', '-f', 'bob@sender.test', 'alice@example.test'], 'Subject: over verified TLS\r\n\r\nhello\r\n');
  assert.equal(sent.code, 0, sent.stderr);
  const hop = await sender.waitForLog({ event: 'hop', domain: 'example.test' }, { timeoutMs: 30_000 });
  assert.equal(hop['result'], 'delivered', JSON.stringify(hop));
  assert.equal(hop['policy'], 'verify');
  assert.equal(hop['policySource'], 'mta-sts');
  assert.equal((hop['tls'] as { verified: boolean }).verified, true);
  const [message] = await receiver.waitForMail(1, { domain: 'example.test', mailbox: 'alice', timeoutMs: 20_000 });
  assert.match(message?.raw ?? '', /Subject: over verified TLS/);

  // A changed policy (testing, a backup MX) is served at once after SIGHUP, under a new id.
  assert.ok(receiver.config);
  await writeSealpostConfig(
    receiver.configFile,
    mergeConfig(receiver.config, { domain: [{ name: 'example.test', mailboxes: ['alice'], mta_sts: 'testing' }] }),
  );
  await sigHup(receiver);
  const changed = await fetchPolicy(STS_HOST, root);
  assert.deepEqual(parseStsPolicy(changed.body), { mode: 'testing', mx: [HOST], maxAge: 604_800 });
  const after = JSON.parse((await receiver.cli(['mta-sts', 'show', '--json'])).stdout) as { policies: { id: string; dns: { kind: string } }[] };
  assert.notEqual(after.policies[0]?.id, first.id, 'the id follows the policy');
  assert.deepEqual(after.policies[0]?.dns, { kind: 'old', id: first.id });
});

test('HTTP-01 certificate for mta-sts.<domain> when port 80 is listed; the policy is served with it', { timeout: 120_000 }, async (t) => {
  const pebble = await startPebble(t, { httpPort: 80, tlsPort: 443, answerIp: IP });
  const root = await pebble.rootPem();
  const receiver = await startSealpost(t, {
    config: {
      hostname: HOST,
      listen: { smtp: [`${IP}:${await freePort(IP)}`], https: [`${IP}:443`], acme_http: [`${IP}:80`] },
      domain: [{ name: 'example.test', mailboxes: ['alice'], mta_sts: 'testing' }],
      acme: { enabled: true, directory: pebble.directoryUrl, ca_file: pebble.httpsCaFile },
    },
  });
  const issued = await receiver.waitForLog({ event: 'cert', action: 'issued' }, { timeoutMs: 60_000 });
  assert.deepEqual(issued['names'], [HOST, STS_HOST]);
  assert.ok(
    receiver.findLogs((r) => r.event === 'cert' && r['action'] === 'challenge-served' && r['challenge'] === undefined).length >= 2,
    'validated by HTTP-01',
  );
  assert.equal(receiver.findLogs({ event: 'cert', action: 'challenge-served', challenge: 'tls-alpn-01' }).length, 0);
  const policy = await fetchPolicy(STS_HOST, root);
  assert.equal(policy.status, 200);
  assert.match(policy.names, /DNS:mta-sts\.example\.test/);
  assert.deepEqual(parseStsPolicy(policy.body), { mode: 'testing', mx: [HOST], maxAge: 604_800 });
  const status = await receiver.cli(['status']);
  assert.match(status.stdout, /https +127\.0\.0\.83:443 +answering/, status.stdout);
});
