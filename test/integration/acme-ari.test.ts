// ACME Renewal Information (RFC 9773) and rate limits end to end. Debian's Pebble (2.4) predates ARI, so a small
// HTTPS proxy in front of it adds `renewalInfo` to the directory, answers renewalInfo requests
// with windows the test chooses, and records `replaces` in new orders (then forwards them;
// Pebble ignores the field). Run under netless (Pebble validates HTTP-01 on port 80).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { ariCertIdFromHex } from '../../src/acme/ari.ts';
import { cacheRoot } from '../../src/acme/cache.ts';
import { type AcmeManager, startAcme } from '../../src/acme/manager.ts';
import { createChallengeTable, startChallengeServer } from '../../src/acme/responder.ts';
import { readStatus } from '../../src/acme/status.ts';
import { validateConfig } from '../../src/config/schema.ts';
import { createLogger } from '../../src/log/log.ts';
import { type CertStore, createCertStore } from '../../src/tls/store.ts';
import { type Pebble, startPebble } from '../helpers/pebble.ts';
import { tempDir } from '../helpers/tmp.ts';
import { waitFor } from '../helpers/wait.ts';

const HOST = 'mx.example.test';
// Every name resolves here (Pebble's fake DNS); this file's own address, so port 80 is never shared.
const RESPONDER_IP = '127.0.0.12';
const HOUR = 3_600_000;

interface AriProxy {
  url: string;
  /** certID → the window to answer with; unknown ids get 404. */
  windows: Map<string, { start: number; end: number }>;
  asked: string[];
  /** `replaces` of every new order, undefined when absent. */
  replaces: (string | undefined)[];
  /** When set, new orders get 429 rateLimited with this Retry-After (seconds). */
  rateLimit: { retryAfter: number } | undefined;
  close(): Promise<void>;
}

async function startAriProxy(pebble: Pebble): Promise<AriProxy> {
  const ca = await readFile(pebble.httpsCaFile, 'utf8');
  const state = {
    windows: new Map<string, { start: number; end: number }>(),
    asked: [] as string[],
    replaces: [] as (string | undefined)[],
    rateLimit: undefined as { retryAfter: number } | undefined,
  };
  let base = '';
  const server = https.createServer(
    { cert: await readFile(path.join(pebble.dir, 'https.crt')), key: await readFile(path.join(pebble.dir, 'https.key')) },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const url = req.url ?? '/';
        if (url.startsWith('/renewal-info/')) {
          const id = url.slice('/renewal-info/'.length);
          state.asked.push(id);
          const window = state.windows.get(id);
          if (!window) {
            res.writeHead(404).end();
            return;
          }
          res.writeHead(200, { 'content-type': 'application/json', 'retry-after': '21600' });
          res.end(JSON.stringify({ suggestedWindow: { start: new Date(window.start).toISOString(), end: new Date(window.end).toISOString() } }));
          return;
        }
        if (req.method === 'POST' && url.includes('order-plz')) {
          const jws = JSON.parse(body.toString()) as { payload: string };
          const payload = JSON.parse(Buffer.from(jws.payload, 'base64url').toString()) as { replaces?: string };
          state.replaces.push(payload.replaces);
          if (state.rateLimit) {
            // RFC 8555 §6.6: rate limits are 429 + a rateLimited problem + Retry-After.
            res.writeHead(429, { 'content-type': 'application/problem+json', 'retry-after': String(state.rateLimit.retryAfter) });
            res.end(JSON.stringify({ type: 'urn:ietf:params:acme:error:rateLimited', detail: 'too many new orders recently', status: 429 }));
            return;
          }
        }
        // Host stays the proxy's, so Pebble writes every URL (and checks JWS urls) against the proxy.
        const upstream = https.request(
          { host: '127.0.0.1', port: pebble.ports.acme, path: url, method: req.method, headers: req.headers, ca, servername: 'localhost' },
          (up) => {
            const parts: Buffer[] = [];
            up.on('data', (c: Buffer) => parts.push(c));
            up.on('end', () => {
              let out = Buffer.concat(parts);
              const headers = { ...up.headers };
              if (url === '/dir') {
                const dir = JSON.parse(out.toString()) as Record<string, unknown>;
                dir['renewalInfo'] = `${base}/renewal-info`;
                out = Buffer.from(JSON.stringify(dir));
              }
              headers['content-length'] = String(out.length);
              delete headers['transfer-encoding'];
              res.writeHead(up.statusCode ?? 502, headers).end(out);
            });
          },
        );
        upstream.on('error', (err) => res.writeHead(502).end(err.message));
        upstream.end(body);
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  const proxy: AriProxy = Object.assign(state, { url: `${base}/dir`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
  return proxy;
}

/** RFC 9773 §4.1 id of a PEM chain's leaf, computed with openssl rather than our DER reader. */
function opensslAriId(chainPem: string, dir: string): string {
  const file = path.join(dir, 'leaf.pem');
  execFileSync('sh', ['-c', `cat > ${file}`], { input: `${chainPem.split('-----END CERTIFICATE-----')[0]}-----END CERTIFICATE-----\n` });
  const text = execFileSync('openssl', ['x509', '-in', file, '-noout', '-serial', '-ext', 'authorityKeyIdentifier'], { encoding: 'utf8' });
  const serial = /serial=([0-9A-F]+)/.exec(text)?.[1] ?? '';
  const aki = /([0-9A-F]{2}(?::[0-9A-F]{2})+)/.exec(text.split('Authority Key Identifier')[1] ?? '')?.[1] ?? '';
  return ariCertIdFromHex(aki, serial);
}

describe('ARI (RFC 9773) and rate limits through a proxy in front of Pebble', { timeout: 120_000 }, () => {
  const cleanups: (() => unknown)[] = [];
  const scope = { after: (fn: () => unknown) => void cleanups.push(fn) };
  let manager: AcmeManager | undefined;
  let closeResponder: (() => Promise<void>) | undefined;
  let pebble: Pebble;
  let proxy: AriProxy;
  let dataDir: string;
  let certStore: CertStore | undefined;
  const store = (): CertStore => {
    assert.ok(certStore);
    return certStore;
  };
  const records: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) records.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const log = createLogger('debug', sink);

  before(async () => {
    pebble = await startPebble(scope, { httpPort: 80, answerIp: RESPONDER_IP });
    proxy = await startAriProxy(pebble);
    dataDir = await tempDir(scope);
  });
  after(async () => {
    await manager?.stop();
    await closeResponder?.();
    await proxy?.close();
    for (const fn of cleanups.reverse()) await fn();
  });

  it('follows the suggested window and names the replaced certificate in the new order', async () => {
    // The proxy presents Pebble's HTTPS certificate, so Pebble's HTTPS CA is the ca_file.
    const validated = validateConfig(
      {
        hostname: HOST,
        data_dir: dataDir,
        listen: { acme_http: [`${RESPONDER_IP}:80`] },
        acme: { enabled: true, directory: proxy.url, ca_file: pebble.httpsCaFile },
        domain: [{ name: 'example.test' }],
      },
      dataDir,
    );
    assert.ok(validated.ok, JSON.stringify(!validated.ok && validated.problems));
    const config = validated.config;
    const challenges = createChallengeTable();
    const responder = await startChallengeServer(config.listen.acmeHttp, challenges, log);
    closeResponder = responder.close;
    certStore = createCertStore({ hostname: HOST, listener: { minVersion: 'TLSv1.2' }, log });
    const store = certStore;
    const acmeLeaf = () => store.current().entries.find((e) => e.source === 'acme');

    manager = await startAcme({ config, store, challenges, log, clock: { now: Date.now }, poll: { attempts: 30, minMs: 100, maxMs: 500 } });
    const first = await waitFor(acmeLeaf, { what: 'the first certificate', timeoutMs: 60_000 });
    assert.deepEqual(proxy.replaces, [undefined], 'the first order replaces nothing');
    const firstId = opensslAriId(first.material.certPem, dataDir);

    // The CA says: renew this one now (a window that has begun). A restarted manager asks at
    // once (the first one asked right after issuance, before the window existed: 404).
    const now = Date.now();
    proxy.windows.set(firstId, { start: now - HOUR, end: now - 60_000 });
    await manager.stop();
    manager = await startAcme({ config, store, challenges, log, clock: { now: Date.now }, poll: { attempts: 30, minMs: 100, maxMs: 500 } });
    const second = await waitFor(() => acmeLeaf()?.fingerprint !== first.fingerprint && acmeLeaf(), {
      what: 'renewal inside the ARI window',
      timeoutMs: 60_000,
    });
    assert.ok(proxy.asked.includes(firstId), `renewalInfo asked for ${firstId}; asked: ${proxy.asked.join(', ')}`);
    assert.equal(proxy.replaces.at(-1), firstId, 'the new order names the certificate it replaces');
    assert.ok(
      records.some((r) => r['action'] === 'ari-window'),
      'the window is logged',
    );
    // The swap comes first; the status file and then the log record follow it.
    const firstSerial = new X509Certificate(first.material.certPem).serialNumber;
    await waitFor(() => records.some((r) => r['action'] === 'renewed' && r['replacedSerial'] === firstSerial), {
      what: 'the renewal logged with the serial it replaced',
      timeoutMs: 5_000,
    });

    // For the new certificate the CA suggests a window two to three days out: the plan follows it.
    const secondId = opensslAriId(second.material.certPem, dataDir);
    const start = Date.now() + 48 * HOUR;
    proxy.windows.set(secondId, { start, end: start + 24 * HOUR });
    await manager.stop();
    manager = await startAcme({ config, store, challenges, log, clock: { now: Date.now }, poll: { attempts: 30, minMs: 100, maxMs: 500 } });
    const status = await waitFor(
      async () => {
        const s = (await readStatus(cacheRoot(dataDir)))?.certificates[0];
        return s?.ari?.windowStart === new Date(start).toISOString() && s;
      },
      { what: 'the window of the second certificate in the status file', timeoutMs: 20_000 },
    );
    const planned = Date.parse(status.nextRenewalAt ?? '');
    assert.ok(planned >= start && planned <= start + 24 * HOUR, `renewal planned inside the window: ${status.nextRenewalAt}`);
    assert.equal(acmeLeaf()?.fingerprint, second.fingerprint, 'no renewal before the window');
  });

  it('a rate limit (429 + Retry-After) is explained and honored: the retry waits as long as asked', async () => {
    assert.ok(manager, 'runs after the ARI test, with its manager');
    const serving = store()
      .current()
      .entries.find((e) => e.source === 'acme')?.fingerprint;
    proxy.rateLimit = { retryAfter: 7200 };
    let outcome: Awaited<ReturnType<typeof manager.renewNow>>;
    try {
      outcome = await manager.renewNow(true);
    } finally {
      proxy.rateLimit = undefined;
    }
    assert.equal(outcome.kind, 'failed');
    const reason = outcome.kind === 'failed' ? outcome.reason : '';
    assert.match(
      reason,
      /creating the order: the ACME server answered 429 urn:ietf:params:acme:error:rateLimited: too many new orders recently; retry after 7200/,
    );
    const next = Date.parse(outcome.kind === 'failed' ? (outcome.nextAttemptAt ?? '') : '');
    assert.ok(Math.abs(next - (Date.now() + 7200_000)) < 60_000, `next attempt in about two hours: ${new Date(next).toISOString()}`);
    assert.equal(
      store()
        .current()
        .entries.find((e) => e.source === 'acme')?.fingerprint,
      serving,
      'the current certificate keeps serving',
    );
  });
});
