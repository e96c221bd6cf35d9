// A real rspamd (Debian's `rspamd` 3.x) for tests: a minimal config in a temp dir (one normal
// worker on a loopback port, no controller, no Redis, DNS pointed at a closed loopback port so its
// lookups fail at once, GTUBE's test variants enabled), started with `rspamd -f` and stopped with
// the scope. Also a loopback HTTP proxy in front of it that can delay each request. Side effects:
// one rspamd process, one temp dir, loopback ports.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { freePort } from './ports.ts';
import { type Scope, tempDir } from './tmp.ts';
import { waitFor } from './wait.ts';

/** rspamd's GTUBE variants (enable_test_patterns): each forces one action. */
export const GTUBE = {
  reject: 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X',
  addHeader: 'YJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X',
  /** "rewrite subject" (the action needs a threshold in actions {}): rspamd replies with "*** SPAM *** <subject>". */
  rewriteSubject: 'ZJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X',
} as const;

export interface Rspamd {
  url: string;
  port: number;
  stop(): Promise<void>;
  output(): string;
}

export async function startRspamd(scope: Scope, options: { startTimeoutMs?: number } = {}): Promise<Rspamd> {
  const dir = await tempDir(scope, 'sealpost-rspamd-');
  const port = await freePort();
  const dnsPort = await freePort();
  const config = path.join(dir, 'rspamd.conf');
  await writeFile(
    config,
    `options {
  pidfile = "${dir}/rspamd.pid";
  dbdir = "${dir}";
  tempdir = "${dir}";
  enable_test_patterns = true;
  dns { nameserver = ["127.0.0.1:${dnsPort}"]; timeout = 0.5s; retransmits = 1; }
}
logging { type = "console"; level = "warning"; }
worker "normal" { bind_socket = "127.0.0.1:${port}"; count = 1; }
actions { reject = 15; rewrite_subject = 8; add_header = 6; greylist = 4; }
`,
  );
  let out = '';
  const proc: ChildProcess = spawn('rspamd', ['-f', '-c', config, '-u', 'root', '-g', 'root', '--insecure'], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => (running = false));
  const stop = async () => {
    if (!running) return;
    proc.kill('SIGTERM');
    const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  };
  scope.after(stop);
  const url = `http://127.0.0.1:${port}`;
  // It loads its Lua rules for several seconds (more on a loaded machine).
  await waitFor(async () => running && (await ping(`${url}/ping`)), {
    what: `rspamd answering on ${url} (output: ${out.slice(-500)})`,
    timeoutMs: options.startTimeoutMs ?? 90_000,
  });
  return { url, port, stop, output: () => out };
}

async function ping(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return res.ok && (await res.text()).includes('pong');
  } catch {
    return false;
  }
}

export interface DelayProxy {
  url: string;
  /** ms each request waits before it is passed on. */
  delayMs: number;
  /** What each request carried: its headers (lowercase names) and how many body bytes. */
  readonly requests: { headers: http.IncomingHttpHeaders; bodyBytes: number }[];
  close(): Promise<void>;
}

/** An HTTP proxy on loopback to `target` that holds each request `delayMs` before passing it on, and notes what it carried. */
export async function startDelayProxy(scope: Scope, target: string, delayMs: number): Promise<DelayProxy> {
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      proxy.requests.push({ headers: req.headers, bodyBytes: chunks.reduce((n, c) => n + c.length, 0) });
      const timer = setTimeout(() => {
        const forward = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
        forward.on('error', () => res.destroy());
        forward.end(Buffer.concat(chunks));
      }, proxy.delayMs);
      res.on('close', () => clearTimeout(timer));
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  let open = true;
  const close = async () => {
    if (!open) return;
    open = false;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  const proxy: DelayProxy = { url: `http://127.0.0.1:${port}`, delayMs, requests: [], close };
  scope.after(close);
  return proxy;
}
