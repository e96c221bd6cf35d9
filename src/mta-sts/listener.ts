// The HTTPS listener on listen.https (port 443): serves the MTA-STS policies we host (RFC 8461
// §3.3: text/plain, 404 for anything else) with the certificate SNI picks from the cert store,
// and answers TLS-ALPN-01 validation handshakes (RFC 8737 §3) with the pending challenge
// certificate. Same TLS hardening as the SMTP listeners (tls/context.ts: our suites, no
// renegotiation). Side effects: binds the addresses it is given.
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { ListenAddress } from '../config/types.ts';
import { type Logger, mailLog } from '../log/log.ts';
import type { AlpnChallenges } from '../tls/alpn-challenges.ts';
import { MAX_HELLO_BYTES, peekAlpn } from '../tls/client-hello.ts';
import { type ListenerTlsOptions, listenerContextOptions } from '../tls/context.ts';
import { pickEntry } from '../tls/names.ts';
import type { CertStore } from '../tls/store.ts';
import { type HostedPolicy, policyReply } from './policy.ts';

export interface HttpsListenerDeps {
  addresses: readonly ListenAddress[];
  store: CertStore;
  tls: ListenerTlsOptions;
  /** The policies in force (read per request: a reload changes them). */
  policies: () => readonly HostedPolicy[];
  alpn: AlpnChallenges;
  log: Logger;
}

export interface HttpsListener {
  addresses: ListenAddress[];
  close(): Promise<void>;
}

const ACME_TLS = 'acme-tls/1';
const HELLO_TIMEOUT_MS = 10_000;

export async function startHttpsListener(deps: HttpsListenerDeps): Promise<HttpsListener> {
  const { store, log, alpn } = deps;
  const options = listenerContextOptions(deps.tls);
  const initial = store.current().default;
  if (!initial) throw new Error('startHttpsListener: the certificate store is empty; load a certificate first');

  // Policies: the store's certificate for the SNI name, else the default (pickEntry's choice).
  const web = https.createServer(
    {
      ...options,
      key: initial.material.keyPem,
      cert: initial.material.certPem,
      ALPNProtocols: ['http/1.1'],
      handshakeTimeout: HELLO_TIMEOUT_MS,
      SNICallback: (servername, cb) => cb(null, pickEntry(servername, store.current())?.context ?? store.current().default?.context),
    },
    (req, res) => {
      const reply = policyReply(deps.policies(), req.method ?? 'GET', req.headers.host, req.url ?? '/');
      if (reply.policy)
        mailLog(
          log,
          'https',
          { action: 'policy-served', domain: reply.policy.domain, id: reply.policy.id, peer: req.socket.remoteAddress },
          'MTA-STS policy served',
        );
      res.writeHead(reply.status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(reply.body), 'cache-control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : reply.body);
    },
  );
  web.headersTimeout = 10_000;
  web.setTimeout(30_000);
  web.requestTimeout = 10_000;
  web.keepAliveTimeout = 5_000;
  web.on('tlsClientError', () => undefined); // scanners; nothing to act on

  // RFC 8737 §3: a handshake offering only acme-tls/1 gets the challenge certificate for its SNI.
  const validation = new tls.Server({
    ...options,
    minVersion: 'TLSv1.2',
    ALPNProtocols: [ACME_TLS],
    handshakeTimeout: HELLO_TIMEOUT_MS,
    SNICallback: (servername, cb) => {
      const context = alpn.get(servername);
      const answer = (found: tls.SecureContext | undefined) => cb(found ? null : new Error(`no TLS-ALPN-01 challenge pending for ${servername}`), found);
      // Another node's order: its challenge certificate is in the shared table.
      if (context === undefined && alpn.lookup) alpn.lookup(servername).then(answer, () => answer(undefined));
      else answer(context);
    },
  });
  validation.on('secureConnection', (socket) => {
    mailLog(
      log,
      'cert',
      { action: 'challenge-served', challenge: 'tls-alpn-01', name: socket.servername, peer: socket.remoteAddress },
      'TLS-ALPN-01 challenge served',
    );
    socket.end();
  });
  validation.on('tlsClientError', () => undefined);

  // Connections still sending their ClientHello: close() ends them instead of waiting for them.
  const peeking = new Set<net.Socket>();
  const route = (socket: net.Socket): void => {
    let buffered = Buffer.alloc(0);
    peeking.add(socket);
    const timer = setTimeout(() => socket.destroy(), HELLO_TIMEOUT_MS);
    socket.once('close', () => {
      clearTimeout(timer);
      peeking.delete(socket);
    });
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const peek = peekAlpn(buffered);
      if (peek.kind === 'need-more' && buffered.length < MAX_HELLO_BYTES) return;
      clearTimeout(timer);
      peeking.delete(socket);
      socket.off('data', onData);
      socket.pause();
      socket.unshift(buffered);
      const target = peek.kind === 'hello' && peek.alpn.includes(ACME_TLS) ? validation : web;
      target.emit('connection', socket);
    };
    socket.on('data', onData);
    socket.on('error', () => clearTimeout(timer));
  };

  const servers: net.Server[] = [];
  try {
    for (const address of deps.addresses) servers.push(await listen(address, route, log));
  } catch (err) {
    await Promise.all(servers.map(closeServer));
    throw err;
  }
  // The default for clients without SNI follows the store, as on the SMTP listeners.
  const unsubscribe = store.subscribe((snapshot) => {
    const target = snapshot.default;
    if (target) web.setSecureContext({ ...options, key: target.material.keyPem, cert: target.material.certPem });
  });
  const bound = servers.map((s) => {
    const info = s.address() as AddressInfo;
    return { host: info.address, port: info.port };
  });
  mailLog(log, 'https', { action: 'listening', addresses: bound.map(format) }, 'HTTPS listener (MTA-STS, TLS-ALPN-01) listening');
  return {
    addresses: bound,
    async close() {
      unsubscribe();
      for (const socket of peeking) socket.destroy();
      web.closeAllConnections();
      await Promise.all(servers.map(closeServer));
    },
  };
}

function listen(address: ListenAddress, route: (socket: net.Socket) => void, log: Logger): Promise<net.Server> {
  const server = net.createServer({ pauseOnConnect: false }, route);
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(`cannot listen for HTTPS on ${format(address)}: ${err.message}`));
    server.once('error', onError);
    server.listen({ host: address.host, port: address.port, ipv6Only: address.host.includes(':') }, () => {
      server.off('error', onError);
      server.on('error', (err) => log.error({ event: 'https', action: 'listener-error', error: err.message }, 'HTTPS listener error'));
      resolve(server);
    });
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function format(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
