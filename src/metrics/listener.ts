// The metrics listener (listen.metrics): plain HTTP, GET /metrics answers the Prometheus text
// format (aggregate.ts), any other path 404, another method 405. Opens the listening sockets.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '../config/types.ts';
import type { Logger } from '../log/log.ts';
import type { Scrape } from './aggregate.ts';

export interface MetricsListenerDeps {
  addresses: readonly ListenAddress[];
  scrape: () => Promise<Scrape>;
  log: Logger;
}

export interface MetricsListener {
  readonly addresses: ListenAddress[];
  close(): Promise<void>;
}

/** What a request gets (pure): the scrape for GET/HEAD /metrics (a query string is ignored). */
export function route(method: string | undefined, url: string | undefined): 'metrics' | 'not-found' | 'method-not-allowed' {
  const pathname = (url ?? '').split('?')[0];
  if (pathname !== '/metrics') return 'not-found';
  return method === 'GET' || method === 'HEAD' ? 'metrics' : 'method-not-allowed';
}

export async function startMetricsListener(deps: MetricsListenerDeps): Promise<MetricsListener> {
  const { log } = deps;
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const target = route(req.method, req.url);
    if (target === 'not-found') return plain(res, 404, 'not found: the metrics are at /metrics\n');
    if (target === 'method-not-allowed') {
      res.setHeader('Allow', 'GET, HEAD');
      return plain(res, 405, 'method not allowed\n');
    }
    deps.scrape().then(
      (scrape) => {
        res.writeHead(200, { 'Content-Type': scrape.contentType, 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : scrape.body);
      },
      (err: unknown) => {
        log.error({ err, event: 'daemon', part: 'metrics' }, 'could not collect the metrics');
        plain(res, 500, 'could not collect the metrics\n');
      },
    );
  };
  const servers: http.Server[] = [];
  try {
    for (const address of deps.addresses) servers.push(await listen(address, handler, log));
  } catch (err) {
    await Promise.all(servers.map(closeServer));
    throw err;
  }
  return {
    addresses: servers.map((s) => {
      const info = s.address() as AddressInfo;
      return { host: info.address, port: info.port };
    }),
    async close() {
      await Promise.all(servers.map(closeServer));
    },
  };
}

function plain(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text);
}

function listen(address: ListenAddress, handler: http.RequestListener, log: Logger): Promise<http.Server> {
  // A scrape is one short request; a client that keeps a connection idle is dropped.
  const server = http.createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 }, handler);
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(`cannot listen for metrics on ${format(address)}: ${err.message}`));
    server.once('error', onError);
    server.listen({ host: address.host, port: address.port, ipv6Only: address.host.includes(':') }, () => {
      server.off('error', onError);
      server.on('error', (err) => log.error({ event: 'daemon', part: 'metrics', error: err.message }, 'metrics listener error'));
      resolve(server);
    });
  });
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

function format(a: ListenAddress): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
