// Delivers a TLS report by HTTPS POST (RFC 8460 §5.2): the gzip JSON as the body with Content-Type
// application/tlsrpt+gzip, to the address our Resolver gives for the URL's host, the certificate
// checked against that name, no redirects; any 2xx is taken. Network I/O.
import https from 'node:https';
import net from 'node:net';
import type tls from 'node:tls';
import { describeAnswer, type Resolver } from '../dns/resolver.ts';
import { TLSRPT_GZIP_TYPE } from './report.ts';

export interface PostDeps {
  resolver: Resolver;
  trust: tls.SecureContext;
  timeoutMs: number;
  ipv6: boolean;
}

export type PostResult = { ok: true; status: number } | { ok: false; error: string };

export async function postReport(url: URL, gzip: Buffer, deps: PostDeps): Promise<PostResult> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (net.isIP(host) !== 0) addresses = [host];
  else {
    const answers = await Promise.all([deps.resolver.resolve4(host), deps.ipv6 ? deps.resolver.resolve6(host) : undefined]);
    addresses = answers.flatMap((a) => (a?.kind === 'records' ? a.records : []));
    if (addresses.length === 0) return { ok: false, error: describeAnswer(host, 'A', answers[0] ?? { kind: 'nodata' }) };
  }
  let last: PostResult = { ok: false, error: 'no address' };
  for (const ip of addresses) {
    last = await post(url, host, ip, gzip, deps);
    if (last.ok) return last;
  }
  return last;
}

function post(url: URL, host: string, ip: string, gzip: Buffer, deps: PostDeps): Promise<PostResult> {
  return new Promise((resolve) => {
    const where = `${url.href} [${ip}]`;
    const done = (r: PostResult): void => {
      clearTimeout(timer);
      resolve(r);
    };
    // https passes secureContext through to tls.connect; its RequestOptions type omits it.
    const options: https.RequestOptions & { secureContext: tls.SecureContext } = {
      host: ip,
      port: url.port === '' ? 443 : Number(url.port),
      path: `${url.pathname}${url.search}`,
      method: 'POST',
      headers: { host: url.host, 'content-type': TLSRPT_GZIP_TYPE, 'content-length': gzip.length, 'user-agent': 'sealpost' },
      ...(net.isIP(host) === 0 ? { servername: host } : {}),
      secureContext: deps.trust,
      rejectUnauthorized: true,
      agent: false,
    };
    const req = https.request(options);
    const timer = setTimeout(() => {
      req.destroy();
      done({ ok: false, error: `${where}: no answer within ${deps.timeoutMs} ms` });
    }, deps.timeoutMs);
    req.on('error', (err) => done({ ok: false, error: `${where}: ${err.message}` }));
    req.on('response', (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      // RFC 8460 §5.2: a 2xx means received; redirects are not followed.
      if (status >= 200 && status < 300) done({ ok: true, status });
      else done({ ok: false, error: `${where}: HTTP ${status}` });
    });
    req.end(gzip);
  });
}
