// The HTTP-01 responder (RFC 8555 §8.3): an HTTP server on `listen.acme_http` that answers
// GET /.well-known/acme-challenge/<token> for pending challenges only; everything else is 404.
// Side effects: binds the listeners it is given; nothing else needs to run on port 80.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '../config/types.ts';
import { type Logger, mailLog } from '../log/log.ts';

/**
 * Pending HTTP-01 challenges: token → key authorization. The manager writes (and awaits a set
 * before it asks the CA to validate), the responder reads. `lookup`: where a token this process
 * does not hold may be found (the nodes' shared table, src/shared-files/challenges.ts).
 */
export interface ChallengeTable {
  get(token: string): string | undefined;
  set(token: string, keyAuthorization: string): void | Promise<void>;
  delete(token: string): void | Promise<void>;
  lookup?(token: string): Promise<string | undefined>;
}

export function createChallengeTable(): ChallengeTable {
  const pending = new Map<string, string>();
  return {
    get: (token) => pending.get(token),
    set: (token, keyAuthorization) => void pending.set(token, keyAuthorization),
    delete: (token) => void pending.delete(token),
  };
}

export interface ChallengeServer {
  /** The bound addresses (ports resolved when 0 was asked for). */
  addresses: ListenAddress[];
  close(): Promise<void>;
}

const PREFIX = '/.well-known/acme-challenge/';
// RFC 8555 §8.1: tokens are base64url; anything else cannot be one of ours.
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

/** The reply for one request (pure): what the responder sends for `method` `url`. */
export function challengeReply(method: string, url: string, challenges: ChallengeTable): { status: number; body: string } {
  if (method !== 'GET' && method !== 'HEAD') return { status: 405, body: 'method not allowed\n' };
  const path = url.split('?')[0] ?? '';
  if (!path.startsWith(PREFIX)) return { status: 404, body: 'not found\n' };
  const token = path.slice(PREFIX.length);
  const keyAuthorization = TOKEN.test(token) ? challenges.get(token) : undefined;
  return keyAuthorization === undefined ? { status: 404, body: 'not found\n' } : { status: 200, body: keyAuthorization };
}

/** Binds every address; if one fails, closes the others and rejects with the reason. */
export async function startChallengeServer(addresses: readonly ListenAddress[], challenges: ChallengeTable, log: Logger): Promise<ChallengeServer> {
  const servers: http.Server[] = [];
  try {
    for (const address of addresses) servers.push(await listen(address, challenges, log));
  } catch (err) {
    await Promise.all(servers.map(closeServer));
    throw err;
  }
  const bound = servers.map((s) => {
    const info = s.address() as AddressInfo;
    return { host: info.address, port: info.port };
  });
  mailLog(log, 'cert', { action: 'responder-listening', addresses: bound.map(format) }, 'HTTP-01 responder listening');
  return { addresses: bound, close: () => Promise.all(servers.map(closeServer)).then(() => undefined) };
}

function listen(address: ListenAddress, challenges: ChallengeTable, log: Logger): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    let reply = challengeReply(req.method ?? 'GET', req.url ?? '/', challenges);
    const token = (req.url ?? '').split('?')[0]?.slice(PREFIX.length) ?? '';
    if (reply.status === 404 && challenges.lookup && (req.url ?? '').startsWith(PREFIX) && TOKEN.test(token)) {
      // Another node's order: its key authorization is in the shared table.
      const keyAuthorization = await challenges.lookup(token).catch(() => undefined);
      if (keyAuthorization !== undefined) reply = { status: 200, body: keyAuthorization };
    }
    if (reply.status === 200) mailLog(log, 'cert', { action: 'challenge-served', peer: req.socket.remoteAddress, url: req.url }, 'HTTP-01 challenge served');
    res.writeHead(reply.status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(reply.body), connection: 'close' });
    res.end(req.method === 'HEAD' ? undefined : reply.body);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(`cannot listen for HTTP-01 on ${format(address)}: ${err.message}`));
    server.once('error', onError);
    // An IPv6 wildcard must not also claim IPv4: "0.0.0.0:80" is usually listed beside "[::]:80".
    server.listen({ host: address.host, port: address.port, ipv6Only: address.host.includes(':') }, () => {
      server.off('error', onError);
      server.on('error', (err) => log.error({ event: 'cert', action: 'responder-error', error: err.message }, 'HTTP-01 responder error'));
      resolve(server);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function format(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
