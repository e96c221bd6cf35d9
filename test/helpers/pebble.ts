// Pebble (Let's Encrypt's ACME test server) on loopback for tests, with pebble-challtestsrv as
// its DNS so every name resolves to 127.0.0.1. Side effects: a temp dir with Pebble's HTTPS CA
// and config, two child processes (stopped by stop()), loopback ports.
//
//   const pebble = await startPebble(t, { httpPort: 80 });
//   pebble.directoryUrl   ACME directory (HTTPS, trusted via pebble.httpsCaFile)
//   await pebble.rootPem() the root of the certificates Pebble issues (changes per Pebble run)
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { freePort } from './ports.ts';
import { runOk } from './proc.ts';
import { makeTempDir, removeTempDir, type Scope } from './tmp.ts';
import { waitFor } from './wait.ts';

export interface PebbleOptions {
  /** Port Pebble's VA connects to for HTTP-01 (80 under netless). */
  httpPort: number;
  /** Port Pebble's VA connects to for TLS-ALPN-01 (443 under netless); a free port by default. */
  tlsPort?: number;
  /**
   * The address every name resolves to, where the HTTP-01 responder must listen. Give each test
   * file its own (127.0.0.11, 127.0.0.12, …: all of 127/8 is loopback) so files that run in
   * parallel never fight over port 80. Default 127.0.0.1.
   */
  answerIp?: string;
  /** Pebble env overrides, e.g. { PEBBLE_AUTHZREUSE: '100' }. */
  env?: Record<string, string>;
  /** Reuse the HTTPS CA and ports of an earlier Pebble (a "restarted" CA at the same address). */
  reuse?: Pick<Pebble, 'dir' | 'httpsCaFile' | 'ports'>;
}

export interface Pebble {
  dir: string;
  directoryUrl: string;
  /** PEM CA that signed Pebble's HTTPS certificate: the client's acme.ca_file. */
  httpsCaFile: string;
  ports: { acme: number; management: number; dns: number; dnsManagement: number };
  /** Root of the certificates this Pebble run issues (fetched from the management API). */
  rootPem(): Promise<string>;
  /** Everything Pebble printed so far. */
  output(): string;
  /** Stops both processes; the directory stays until the scope ends (a `reuse` may need it). */
  stop(): Promise<void>;
}

export async function startPebble(scope: Scope, options: PebbleOptions): Promise<Pebble> {
  const dir = options.reuse?.dir ?? (await makeTempDir('sealpost-pebble-'));
  const owned = options.reuse === undefined;
  const httpsCaFile = options.reuse?.httpsCaFile ?? (await makeHttpsCa(dir));
  const ports = options.reuse?.ports ?? { acme: await freePort(), management: await freePort(), dns: await freePort(), dnsManagement: await freePort() };
  const tlsPort = options.tlsPort ?? (await freePort());
  const configFile = path.join(dir, `pebble-${Date.now()}.json`);
  await writeFile(
    configFile,
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${ports.acme}`,
        managementListenAddress: `127.0.0.1:${ports.management}`,
        certificate: path.join(dir, 'https.crt'),
        privateKey: path.join(dir, 'https.key'),
        httpPort: options.httpPort,
        tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );

  let text = '';
  const children: ChildProcess[] = [];
  const launch = (command: string, args: string[], env: Record<string, string>): ChildProcess => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    child.stdout?.on('data', (b: Buffer) => (text += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (text += b.toString()));
    children.push(child);
    return child;
  };
  // Only fake DNS: every A query answers answerIp, AAAA nothing (the responder may be IPv4-only).
  launch(
    'pebble-challtestsrv',
    [
      '-dns01',
      `127.0.0.1:${ports.dns}`,
      '-http01',
      '',
      '-https01',
      '',
      '-tlsalpn01',
      '',
      '-management',
      `127.0.0.1:${ports.dnsManagement}`,
      '-defaultIPv4',
      options.answerIp ?? '127.0.0.1',
      '-defaultIPv6',
      '',
    ],
    {},
  );
  launch('pebble', ['-config', configFile, '-dnsserver', `127.0.0.1:${ports.dns}`, '-strict=false'], {
    PEBBLE_VA_NOSLEEP: '1',
    PEBBLE_WFE_NONCEREJECT: '0',
    PEBBLE_AUTHZREUSE: '0',
    ...options.env,
  });

  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => stopChild(c)));
  };
  scope.after(async () => {
    await stop();
    if (owned) await removeTempDir(dir);
  });

  const directoryUrl = `https://127.0.0.1:${ports.acme}/dir`;
  const ca = await readFile(httpsCaFile, 'utf8');
  await waitFor(async () => (await httpsGet(directoryUrl, ca)).status === 200, {
    what: `Pebble's directory at ${directoryUrl}; output: ${text}`,
    timeoutMs: 15_000,
    intervalMs: 100,
  });

  return {
    dir,
    directoryUrl,
    httpsCaFile,
    ports,
    rootPem: async () => {
      const reply = await httpsGet(`https://127.0.0.1:${ports.management}/roots/0`, ca);
      if (reply.status !== 200) throw new Error(`Pebble /roots/0: HTTP ${reply.status}`);
      return reply.body;
    },
    output: () => text,
    stop,
  };
}

/** A CA and a server certificate for 127.0.0.1/localhost: Pebble's own HTTPS identity. */
async function makeHttpsCa(dir: string): Promise<string> {
  const f = (name: string): string => path.join(dir, name);
  await runOk('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.crt'),
    '-subj',
    '/CN=Sealpost test Pebble HTTPS CA',
    '-days',
    '2',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign',
  ]);
  await runOk('openssl', [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    f('https.key'),
    '-out',
    f('https.csr'),
    '-subj',
    '/CN=localhost',
  ]);
  await writeFile(f('https.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  await runOk('openssl', [
    'x509',
    '-req',
    '-in',
    f('https.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('https.crt'),
    '-days',
    '2',
    '-extfile',
    f('https.ext'),
  ]);
  return f('ca.crt');
}

export function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
