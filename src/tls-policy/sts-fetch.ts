// Fetches an MTA-STS policy file over HTTPS (RFC 8461 §3.3): https://mta-sts.<domain>/.well-known/
// mta-sts.txt, connecting to the address our Resolver gives, SNI and certificate checked against
// the name, no redirects, text/plain, bounded size and time. Network I/O.
import https from 'node:https';
import type tls from 'node:tls';
import type { Resolver } from '../dns/resolver.ts';
import { describeAnswer } from '../dns/resolver.ts';
import { certNames, checkCertName } from '../tls/names.ts';

export interface StsFetchDeps {
  resolver: Resolver;
  trust: tls.SecureContext;
  timeoutMs: number;
  ipv6: boolean;
  /** 443; other values are for tests. */
  port?: number;
}

/** `webpki`: the HTTPS certificate did not verify (RFC 8460 §4.3.2.2 sts-webpki-invalid). */
export type FetchResult = { ok: true; text: string } | { ok: false; error: string; webpki?: true };

/** node's codes for a certificate that does not verify, or does not name the host. */
const CERT_ERROR = /^(CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|ERR_TLS_CERT_ALTNAME_INVALID|HOSTNAME_MISMATCH)/;

const MAX_BYTES = 64 * 1024;

export async function fetchStsPolicy(domain: string, deps: StsFetchDeps): Promise<FetchResult> {
  const host = `mta-sts.${domain}`;
  const answers = await Promise.all([deps.ipv6 ? deps.resolver.resolve6(host) : undefined, deps.resolver.resolve4(host)]);
  const addresses = answers.flatMap((a) => (a?.kind === 'records' ? a.records : []));
  if (addresses.length === 0) return { ok: false, error: describeAnswer(host, 'A', answers[1] ?? { kind: 'nodata' }) };
  let last: FetchResult = { ok: false, error: 'no address' };
  for (const ip of addresses) {
    last = await get(host, ip, deps);
    if (last.ok) return last;
  }
  return last;
}

function get(host: string, ip: string, deps: StsFetchDeps): Promise<FetchResult> {
  return new Promise((resolve) => {
    const done = (r: FetchResult): void => {
      clearTimeout(timer);
      resolve(r);
    };
    // https passes secureContext through to tls.connect; its RequestOptions type omits it.
    const options: https.RequestOptions & { secureContext: tls.SecureContext } = {
      host: ip,
      port: deps.port ?? 443,
      path: '/.well-known/mta-sts.txt',
      method: 'GET',
      headers: { host, 'user-agent': 'sealpost' },
      servername: host,
      secureContext: deps.trust,
      rejectUnauthorized: true,
      agent: false,
      // RFC 8461 §3.3: the certificate must be valid for mta-sts.<domain> (RFC 6125 rules).
      checkServerIdentity: (name, cert) => {
        const why = checkCertName(name, certNames(cert));
        // node's own code for this, so the failure reads as a certificate one (FetchResult webpki).
        return why === undefined ? undefined : Object.assign(new Error(why), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
      },
    };
    const req = https.request(options);
    const timer = setTimeout(() => {
      req.destroy();
      done({ ok: false, error: `https://${host} [${ip}]: no complete answer within ${deps.timeoutMs} ms` });
    }, deps.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) =>
      done({ ok: false, error: `https://${host} [${ip}]: ${err.message}`, ...(CERT_ERROR.test(err.code ?? '') ? { webpki: true as const } : {}) }),
    );
    req.on('response', (res) => {
      // RFC 8461 §3.3: only 200; redirects are not followed.
      if (res.statusCode !== 200) {
        res.resume();
        done({ ok: false, error: `https://${host} [${ip}]: HTTP ${res.statusCode}` });
        return;
      }
      const type = (res.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (type !== 'text/plain') {
        res.resume();
        done({ ok: false, error: `https://${host} [${ip}]: content type "${type}" is not text/plain` });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BYTES) {
          req.destroy();
          done({ ok: false, error: `https://${host} [${ip}]: policy larger than ${MAX_BYTES} bytes` });
        } else chunks.push(chunk);
      });
      res.on('end', () => done({ ok: true, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => done({ ok: false, error: `https://${host} [${ip}]: ${err.message}` }));
    });
    req.end();
  });
}
