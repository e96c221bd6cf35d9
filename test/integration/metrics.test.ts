// Prometheus metrics end to end: known traffic through a real daemon (mail into Maildirs on port 25
// and submission, relayed mail to three receivers: verified TLS, a broken STARTTLS retried in
// plaintext, a 451; a client a DNSBL lists, one whose DNSBL lookup fails; a wrong password), then
// exact values over HTTP from listen.metrics, the text linted by `promtool check metrics`, and a real
// Prometheus (Debian's) that scrapes it and loads config/prometheus-alerts.yml. Loopback only (netless).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type SealpostDaemon, startSealpost } from '../helpers/daemon.ts';
import { type DnsServer, startDnsServer } from '../helpers/dns-server.ts';
import { freePort } from '../helpers/ports.ts';
import { run } from '../helpers/proc.ts';
import { createTestPki, type Receiver, startReceiver } from '../helpers/receivers.ts';
import type { Overrides, SealpostToml } from '../helpers/sealpost-config.ts';
import { swaks, swaksSend } from '../helpers/swaks.ts';
import { makeTempDir, removeTempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';
import { prepareWithCli } from './submission-setup.ts';

const ALICE = 'alice@example.test';
const PASSWORD = 'correct horse battery staple';
const RULES = path.resolve(import.meta.dirname, '../../config/prometheus-alerts.yml');

/** The value of one series in the text format, by its exact name and labels as printed. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** The sum of every series of a metric whose labels include all of `labels` ('listener="mx"'…). */
function total(text: string, metric: string, ...labels: string[]): number {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${metric}{`) && labels.every((m) => l.includes(m)))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('Prometheus metrics of a real daemon', { timeout: 240_000 }, () => {
  const cleanups: (() => unknown)[] = [];
  const scope = { after: (fn: () => unknown) => cleanups.push(fn) };
  let daemon: SealpostDaemon;
  let dns: DnsServer;
  let metricsUrl: string;
  let ports: { submission: number; metrics: number };
  const receivers: Receiver[] = [];

  before(async () => {
    const dir = await makeTempDir('sealpost-metrics-');
    cleanups.push(() => removeTempDir(dir));
    const pki = await createTestPki();
    const caFile = path.join(dir, 'test-ca.pem');
    await writeFile(caFile, pki.root.certPem);
    // One outbound port (outbound.port) on three addresses: a receiver per destination.
    const mxPort = await freePort('127.0.0.80');
    const destinations = [
      { domain: 'verified.test', ip: '127.0.0.80', kind: 'valid' as const },
      { domain: 'downgrade.test', ip: '127.0.0.81', kind: 'broken-tls' as const },
      { domain: 'defer.test', ip: '127.0.0.82', kind: 'valid' as const },
    ];
    dns = await startDnsServer();
    cleanups.push(() => dns.close());
    for (const d of destinations) {
      const mxName = `mx.${d.domain}`;
      const receiver = await startReceiver(d.kind, {
        host: d.ip,
        port: mxPort,
        mxName,
        pki,
        ...(d.domain === 'defer.test'
          ? {
              server: {
                onRcptTo(_address, _session, callback) {
                  callback(Object.assign(new Error('4.3.2 not now'), { responseCode: 451 }));
                },
              },
            }
          : {}),
      });
      receivers.push(receiver);
      cleanups.push(() => receiver.close());
      dns.zone.set(d.domain, { MX: [{ preference: 10, exchange: mxName }] });
      dns.zone.set(mxName, { A: [d.ip] });
    }
    // The DNSBL: 127.0.0.10 is listed, the lookup of 127.0.0.9 fails (SERVFAIL: a DNS error, not a listing).
    dns.zone.set('10.0.0.127.bl.test', { A: ['127.0.0.2'] });
    dns.zone.set('9.0.0.127.bl.test', { rcode: 'SERVFAIL' });

    ports = { submission: await freePort(), metrics: await freePort() };
    metricsUrl = `http://127.0.0.1:${ports.metrics}/metrics`;
    // Keys beyond SealpostToml's declared ones: written as given.
    const raw: Record<string, unknown> = {
      data_dir: path.join(dir, 'data'),
      listen: { submission: [`127.0.0.1:${ports.submission}`], metrics: [`127.0.0.1:${ports.metrics}`] },
      dns: { servers: [dns.address], timeout_ms: 1000 },
      inbound: { dnsbl: { zones: [{ zone: 'bl.test', weight: 1 }], threshold: 1 } },
      outbound: { port: mxPort, ca_file: caFile, mta_sts: false, tls_default: 'may', tls_policy: { 'verified.test': 'verify' } },
      // One deferral in the test's time: the retry of defer.test is an hour away.
      queue: { min_backoff: '1h', max_backoff: '2h' },
    };
    const overrides = raw as Overrides<SealpostToml>;
    await prepareWithCli(dir, overrides, { users: [{ address: ALICE, password: PASSWORD }] });
    daemon = await startSealpost(scope, { config: overrides });
    const listening = daemon.findLogs({ event: 'daemon', state: 'listening' })[0];
    assert.deepEqual(listening?.['metrics'], [`127.0.0.1:${ports.metrics}`]);
  });

  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  it('counts known traffic exactly, and promtool finds the text clean', { timeout: 120_000 }, async () => {
    const before = await (await fetch(metricsUrl)).text();
    assert.equal(sample(before, 'sealpost_messages_received_total{listener="mx"}'), undefined, 'nothing received yet');
    assert.equal(sample(before, 'sealpost_messages_delivered_total{transport="maildir"}'), 0, 'known label sets start at 0');

    const send = async (to: string, extra: { tls?: 'require'; from?: string; localInterface?: string } = {}) => {
      const sent = await swaksSend({
        port: daemon.smtpPort,
        from: extra.from ?? 'carol@remote.test',
        to: [to],
        ...(extra.tls ? { tls: extra.tls } : {}),
        extraArgs: ['--local-interface', extra.localInterface ?? '127.0.0.1'],
      });
      assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    };
    // Port 25: three messages into alice's Maildir (one over STARTTLS, one from a client whose
    // DNSBL lookup fails), three relayed from 127.0.0.1 (relay.networks) to the receivers.
    await send(ALICE);
    await send(ALICE, { tls: 'require' });
    await send(ALICE, { localInterface: '127.0.0.9' });
    await send('dora@verified.test', { from: ALICE });
    await send('erin@downgrade.test', { from: ALICE });
    await send('fred@defer.test', { from: ALICE });
    // A listed client: greeted, then refused.
    const listed = await swaksSend({ port: daemon.smtpPort, from: 'x@remote.test', to: [ALICE], extraArgs: ['--local-interface', '127.0.0.10'] });
    assert.notEqual(listed.code, 0, listed.stdout);
    assert.match(listed.stdout, /554 5\.7\.1/);
    // Submission: one wrong password, then alice sends to bob.
    const auth = (password: string, to: string) =>
      swaks([
        '--server',
        `127.0.0.1:${ports.submission}`,
        '--ehlo',
        'client.swaks.test',
        '--timeout',
        '15',
        '--tls',
        // One mechanism: swaks would try LOGIN after a failed PLAIN (two attempts).
        '--auth',
        'PLAIN',
        '--auth-user',
        ALICE,
        '--auth-password',
        password,
        '--from',
        ALICE,
        '--to',
        to,
      ]);
    const wrong = await auth('wrong password', 'bob@example.test');
    assert.notEqual(wrong.code, 0, wrong.stdout);
    const right = await auth(PASSWORD, 'bob@example.test');
    assert.equal(right.code, 0, right.stdout + right.stderr);

    await waitFor(() => daemon.findLogs({ event: 'delivered' }).length >= 6 && daemon.findLogs({ event: 'deferred' }).length >= 1, {
      what: '6 delivered and 1 deferred records',
      timeoutMs: 60_000,
    });
    // The session records come as each session closes: the last one may be a moment behind swaks.
    await waitFor(() => daemon.findLogs({ event: 'session' }).length >= 9, { what: '9 session records', timeoutMs: 10_000 });
    const response = await fetch(metricsUrl);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await response.text();

    // Sessions: 7 on port 25 (one over TLS), 2 on submission (both TLS).
    assert.equal(sample(text, 'sealpost_sessions_total{listener="mx",tls="none"}'), 6, text);
    assert.equal(total(text, 'sealpost_sessions_total', 'listener="mx"', 'tls="TLSv1.'), 1);
    assert.equal(total(text, 'sealpost_sessions_total', 'listener="submission"'), 2);
    assert.equal(sample(text, 'sealpost_sessions_total{listener="submission",tls="none"}'), undefined);
    // Messages: 6 in on port 25, 1 by submission from alice; 4 into Maildirs, 2 out by SMTP, 1 deferred.
    assert.equal(sample(text, 'sealpost_messages_received_total{listener="mx"}'), 6);
    assert.equal(sample(text, 'sealpost_messages_received_total{listener="submission"}'), 1);
    assert.equal(sample(text, `sealpost_user_messages_total{user="${ALICE}"}`), 1);
    assert.equal(sample(text, 'sealpost_messages_delivered_total{transport="maildir"}'), 4);
    assert.equal(sample(text, 'sealpost_messages_delivered_total{transport="smtp"}'), 2);
    assert.equal(sample(text, 'sealpost_messages_delivered_total{transport="relay"}'), 0);
    assert.equal(sample(text, 'sealpost_messages_deferred_total{transport="smtp"}'), 1);
    assert.equal(total(text, 'sealpost_messages_bounced_total'), 0);
    assert.equal(sample(text, 'sealpost_delivery_latency_seconds_count{transport="maildir"}'), 4);
    assert.equal(sample(text, 'sealpost_delivery_latency_seconds_count{transport="smtp"}'), 2);
    assert.equal(sample(text, 'sealpost_delivery_latency_seconds_bucket{le="+Inf",transport="smtp"}'), 2);
    // Hops: verify → verified; may → verified (the 451); the broken STARTTLS: a failed handshake, then the downgrade.
    assert.equal(sample(text, 'sealpost_outbound_hops_total{policy="verify",result="verified"}'), 1);
    assert.equal(sample(text, 'sealpost_outbound_hops_total{policy="may",result="verified"}'), 1);
    assert.equal(sample(text, 'sealpost_outbound_hops_total{policy="may",result="failed"}'), 1);
    assert.equal(sample(text, 'sealpost_outbound_hops_total{policy="may",result="downgrade"}'), 1);
    assert.equal(total(text, 'sealpost_outbound_hops_total'), 4);
    // AUTH, DNSBL, DNS.
    assert.equal(sample(text, 'sealpost_auth_attempts_total{result="failed"}'), 1);
    assert.equal(sample(text, 'sealpost_auth_attempts_total{result="ok"}'), 1);
    assert.equal(sample(text, 'sealpost_auth_attempts_total{result="refused"}'), 0);
    assert.equal(sample(text, 'sealpost_dnsbl_rejections_total'), 1);
    assert.equal(sample(text, 'sealpost_dns_errors_total{type="A",error="servfail"}'), 1);
    assert.equal(sample(text, 'sealpost_acme_renewal_failures_total'), 0);
    // Gauges read at the scrape: the deferred recipient waits; the self-signed certificate's expiry.
    assert.equal(sample(text, 'sealpost_queue_recipients{transport="remote",state="queued"}'), 1);
    assert.equal(sample(text, 'sealpost_queue_recipients{transport="local",state="queued"}'), 0);
    assert.equal(sample(text, 'sealpost_queue_messages'), 1);
    const age = sample(text, 'sealpost_queue_oldest_message_age_seconds') ?? -1;
    assert.ok(age > 0 && age < 300, `oldest age ${age}`);
    const expiry = sample(text, 'sealpost_certificate_expiry_timestamp_seconds{name="mx.sealpost.test"}') ?? 0;
    assert.ok(expiry > Date.now() / 1000 + 14 * 86400, `expiry ${expiry}`);
    // Node's default metrics, prefixed.
    assert.ok(sample(text, 'sealpost_nodejs_eventloop_lag_seconds') !== undefined, 'event-loop lag');
    // No address, domain or queue id in any label.
    for (const leak of ['carol@', 'remote.test', 'verified.test', '127.0.0.', daemon.findLogs({ event: 'received' })[0]?.['queueId'] as string])
      assert.ok(!text.includes(leak), `"${leak}" appears in the metrics`);

    const lint = await run('promtool', ['check', 'metrics'], { input: text });
    assert.equal(lint.code, 0, lint.stdout + lint.stderr);
    assert.equal(lint.stdout + lint.stderr, '', 'promtool has no remarks');
  });

  it('answers 404 beside /metrics, 405 for another method, and HEAD without a body', { timeout: 20_000 }, async () => {
    const other = await fetch(`http://127.0.0.1:${ports.metrics}/`);
    assert.equal(other.status, 404);
    await other.text();
    const post = await fetch(metricsUrl, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    await post.text();
    const head = await fetch(metricsUrl, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  it("Debian's Prometheus scrapes it and loads the alerting rules", { timeout: 90_000 }, async () => {
    const dir = await makeTempDir('sealpost-prometheus-');
    cleanups.push(() => removeTempDir(dir));
    const webPort = await freePort();
    const config = path.join(dir, 'prometheus.yml');
    await writeFile(
      config,
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: ["${RULES}"]`,
        'scrape_configs:',
        '  - job_name: sealpost',
        `    static_configs: [{ targets: ["127.0.0.1:${ports.metrics}"] }]`,
        '',
      ].join('\n'),
    );
    const prometheus: ChildProcess = spawn(
      'prometheus',
      [`--config.file=${config}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${webPort}`],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    prometheus.stderr?.on('data', (b: Buffer) => {
      stderr = (stderr + b.toString()).slice(-4000);
    });
    const exited = new Promise<void>((resolve) => prometheus.once('close', () => resolve()));
    cleanups.push(async () => {
      prometheus.kill('SIGTERM');
      await exited;
    });
    const api = `http://127.0.0.1:${webPort}/api/v1`;
    const query = async (promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
      const answer = (await (await fetch(`${api}/query?query=${encodeURIComponent(promql)}`)).json()) as {
        data: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      return answer.data.result;
    };
    const received = await waitFor(
      async () => {
        const result = await query('sealpost_messages_received_total{listener="mx"}');
        return result.length > 0 && result;
      },
      { what: `Prometheus to scrape the daemon (stderr: ${stderr.slice(-500)})`, timeoutMs: 60_000, intervalMs: 250 },
    );
    assert.equal(received[0]?.value[1], '6');
    assert.equal(received[0]?.metric['job'], 'sealpost');
    assert.equal((await query('up{job="sealpost"}'))[0]?.value[1], '1');
    assert.equal((await query('sum(sealpost_outbound_hops_total{result="downgrade"})'))[0]?.value[1], '1');
    const rules = (await (await fetch(`${api}/rules`)).json()) as { data: { groups: { rules: { name: string; health: string }[] }[] } };
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    assert.equal(loaded.length, 6, JSON.stringify(loaded));
    await waitFor(
      async () => {
        const again = (await (await fetch(`${api}/rules`)).json()) as typeof rules;
        return again.data.groups.flatMap((g) => g.rules).every((r) => r.health === 'ok');
      },
      { what: 'every rule evaluated with health ok', timeoutMs: 20_000, intervalMs: 250 },
    );
  });
});
