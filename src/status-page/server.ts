// The status page's listeners (listen.status_http): GET / answers the page. On a loopback address
// plain HTTP; on any other, HTTPS with the certificate SNI picks from the cert store (the same
// hardening as the SMTP listeners: tls/context.ts), so the basic-auth password never crosses a
// network in clear. With [status_http] password_file, every request needs HTTP basic auth (RFC
// 7617; 401 with a challenge otherwise), wrong passwords slowed down and then refused per client
// network for a while (auth/guard.ts, with the [auth] numbers; 429 with Retry-After). The page
// is built at most once per `cacheMs` (it probes our own listeners and the DNS server, as
// `sealpost status` does). Side effects: binds the addresses given, logs one "status-page" record at start and one per refused login.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { AuthGuard, type GuardPolicy } from '../auth/guard.ts';
import { isLoopbackHost } from '../config/status-http.ts';
import type { ListenAddress } from '../config/types.ts';
import type { Logger } from '../log/log.ts';
import { type ListenerTlsOptions, listenerContextOptions } from '../tls/context.ts';
import { pickEntry } from '../tls/names.ts';
import type { CertStore } from '../tls/store.ts';
import { checkBasicAuth, type PasswordEntry } from './password-file.ts';

export interface StatusServerDeps {
  addresses: readonly ListenAddress[];
  /** The HTML of the page at `now` (escaped, complete). */
  page: (now: number) => Promise<string>;
  /** The basic-auth entries; undefined: no password (loopback only, config/status-http.ts). */
  users: readonly PasswordEntry[] | undefined;
  store: CertStore;
  tls: ListenerTlsOptions;
  log: Logger;
  now: () => number;
  /** Wrong passwords per client network before answers slow down and then stop ([auth], as for SMTP AUTH). */
  guard: GuardPolicy;
  /** How long a built page is served again, ms (default 10 000). */
  cacheMs?: number;
}

export interface StatusServer {
  /** Each bound address, with whether it serves HTTPS. */
  addresses: (ListenAddress & { https: boolean })[];
  close(): Promise<void>;
}

const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  // Inline CSS only: nothing else loads, nothing runs, nobody frames it.
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export async function startStatusServer(deps: StatusServerDeps): Promise<StatusServer> {
  const { log, store } = deps;
  let cached: { at: number; html: Promise<string> } | undefined;
  const build = (): Promise<string> => {
    const now = deps.now();
    if (!cached || now - cached.at >= (deps.cacheMs ?? 10_000)) {
      const html = deps.page(now);
      cached = { at: now, html };
      // A failed build is not served again.
      html.catch(() => {
        if (cached?.html === html) cached = undefined;
      });
    }
    return cached.html;
  };

  const guard = new AuthGuard(deps.guard);
  const challenge = (res: http.ServerResponse): void =>
    reply(res, 401, 'text/plain; charset=utf-8', 'authentication required\n', { 'www-authenticate': 'Basic realm="Sealpost status", charset="UTF-8"' });
  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const users = deps.users;
    if (!users) return serve(req, res);
    const header = req.headers.authorization;
    // A browser asks without credentials first: only a wrong password counts as a failure.
    if (header === undefined) return challenge(res);
    const ip = req.socket.remoteAddress ?? '';
    const decision = guard.begin(ip, deps.now());
    if (decision.kind !== 'allow') {
      const seconds = decision.kind === 'refuse' ? Math.max(1, Math.ceil(decision.retryInMs / 1000)) : 1;
      reply(res, 429, 'text/plain; charset=utf-8', `too many wrong passwords from your address; try again in ${seconds} s\n`, {
        'retry-after': String(seconds),
      });
      return;
    }
    setTimeout(() => {
      if (checkBasicAuth(header, users)) {
        guard.success(ip);
        serve(req, res);
        return;
      }
      const failures = guard.failure(ip, deps.now());
      log.warn({ event: 'status-page', action: 'auth-failed', peer: ip, failures }, 'status page: wrong user or password');
      challenge(res);
    }, decision.delayMs);
  };

  const serve = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://status.invalid');
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'text/plain; charset=utf-8', 'only GET\n', { allow: 'GET, HEAD' });
    if (url.pathname !== '/') return reply(res, 404, 'text/plain; charset=utf-8', 'not found: the status page is at /\n');
    build().then(
      (html) => {
        res.writeHead(200, { ...HEADERS, 'content-length': Buffer.byteLength(html) });
        res.end(req.method === 'HEAD' ? undefined : html);
      },
      (err: unknown) => {
        log.error({ err, event: 'status-page' }, 'status page: could not build the page');
        reply(res, 500, 'text/plain; charset=utf-8', 'the status page could not be built; see the log\n');
      },
    );
  };

  const servers: { server: http.Server; https: boolean }[] = [];
  const unsubscribes: (() => void)[] = [];
  try {
    for (const address of deps.addresses) {
      const secure = !isLoopbackHost(address.host);
      let server: http.Server;
      if (secure) {
        const options = listenerContextOptions(deps.tls);
        const initial = store.current().default;
        if (!initial) throw new Error('status page: the certificate store is empty; load a certificate first');
        const s = https.createServer(
          {
            ...options,
            key: initial.material.keyPem,
            cert: initial.material.certPem,
            ALPNProtocols: ['http/1.1'],
            SNICallback: (servername, cb) => cb(null, pickEntry(servername, store.current())?.context ?? store.current().default?.context),
          },
          handle,
        );
        s.on('tlsClientError', () => undefined); // scanners; nothing to act on
        // The default for clients without SNI follows the store, as on the SMTP listeners.
        unsubscribes.push(
          store.subscribe((snapshot) => {
            if (snapshot.default) s.setSecureContext({ ...options, key: snapshot.default.material.keyPem, cert: snapshot.default.material.certPem });
          }),
        );
        server = s;
      } else server = http.createServer(handle);
      server.headersTimeout = 10_000;
      server.requestTimeout = 10_000;
      server.keepAliveTimeout = 5_000;
      server.setTimeout(30_000);
      servers.push({ server, https: secure });
      await listen(server, address, secure, log);
    }
  } catch (err) {
    for (const u of unsubscribes) u();
    await Promise.all(servers.map((s) => closeServer(s.server)));
    throw err;
  }
  const bound = servers.map(({ server, https: secure }) => {
    const info = server.address() as AddressInfo;
    return { host: info.address, port: info.port, https: secure };
  });
  log.info(
    {
      event: 'status-page',
      action: 'listening',
      addresses: bound.map((b) => `${b.https ? 'https' : 'http'}://${format(b)}/`),
      auth: deps.users ? 'basic' : 'none',
    },
    'status page listening',
  );
  return {
    addresses: bound,
    async close() {
      for (const u of unsubscribes) u();
      await Promise.all(servers.map((s) => closeServer(s.server)));
    },
  };
}

function reply(res: http.ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...extra });
  res.end(body);
}

function listen(server: http.Server, address: ListenAddress, secure: boolean, log: Logger): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(`cannot listen for the status page on ${format(address)}: ${err.message}`));
    server.once('error', onError);
    server.listen({ host: address.host, port: address.port, ipv6Only: address.host.includes(':') }, () => {
      server.off('error', onError);
      server.on('error', (err) =>
        log.error({ event: 'status-page', action: 'listener-error', https: secure, error: err.message }, 'status page listener error'),
      );
      resolve();
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function format(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
