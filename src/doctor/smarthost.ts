// Gathers the smarthost facts of `sealpost doctor`: for [outbound] relay and each transport with
// credentials, one SMTP session the way delivery opens it (outbound/smtp-client.ts: the source
// address, implicit TLS or STARTTLS, the CAs of outbound.ca_file), the TLS level's verdict, then
// AUTH with the configured credentials, and QUIT: no mail is sent. Network and file I/O; the
// judgement is checks/smarthost.ts's.
import type tls from 'node:tls';
import type { Config, NextHop, TlsLevel } from '../config/types.ts';
import type { Resolver } from '../dns/resolver.ts';
import { readSecretFile, sourceFor } from '../outbound/courier.ts';
import { walkHost, walkMx } from '../outbound/mx.ts';
import { SmtpSession } from '../outbound/smtp-client.ts';
import { evaluate } from '../tls-policy/evaluate.ts';
import type { SmarthostFacts } from './findings.ts';

export interface SmarthostDeps {
  resolver: Resolver;
  /** What delivery trusts: Node's CAs plus outbound.ca_file (tls-policy/trust.ts loadTrust). */
  trust: tls.SecureContext;
  timeoutMs: number;
  readSecret?: (file: string) => Promise<string>;
}

/** The next hops to check: the relay, and every transport entry that has credentials. */
export function smarthostsOf(config: Config): { via: string; hop: NextHop }[] {
  const o = config.outbound;
  const transports = Object.entries(o.transports ?? {})
    .filter(([, hop]) => hop.auth !== undefined)
    .map(([key, hop]) => ({ via: `transport ${key}`, hop }));
  return [...(o.relay ? [{ via: 'relay', hop: o.relay }] : []), ...transports];
}

export function gatherSmarthosts(config: Config, deps: SmarthostDeps): Promise<SmarthostFacts[]> {
  return Promise.all(smarthostsOf(config).map(({ via, hop }) => probeSmarthost(config, via, hop, deps)));
}

function nexthopText(hop: NextHop): string {
  const host = hop.host.includes(':') ? `ipv6:${hop.host}` : hop.host;
  return `${hop.protocol}:${hop.mxLookup ? host : `[${host}]`}:${hop.port}`;
}

async function probeSmarthost(config: Config, via: string, hop: NextHop, deps: SmarthostDeps): Promise<SmarthostFacts> {
  const o = config.outbound;
  const level = hop.tls ?? o.tlsDefault;
  const base = {
    via,
    nexthop: nexthopText(hop),
    host: hop.host,
    port: hop.port,
    level,
    ...(hop.auth ? { username: hop.auth.username, passwordFile: hop.auth.passwordFile } : {}),
  };
  const options = { maxHosts: o.maxMxHosts, family: o.addressFamily ?? (o.ipv6 ? 'any' : 'ipv4'), prefer: o.prefer ?? 'ipv6' } as const;
  const walk = hop.mxLookup ? await walkMx(hop.host, deps.resolver, Math.random, options) : await walkHost(hop.host, deps.resolver, options);
  if (walk.kind !== 'hosts') return { ...base, result: { stage: 'resolve', detail: walk.reason } };
  // The first address that answers, as delivery would go on to the next one.
  let failure: SmarthostFacts['result'] | undefined;
  for (const host of walk.hosts) {
    for (const ip of host.addresses) {
      const bind = sourceFor(o, ip);
      const opened = await SmtpSession.open({
        ip,
        port: hop.port,
        mxName: host.name,
        heloName: config.hostname,
        starttls: level !== 'none',
        ...(hop.protocol === 'smtps' ? { implicitTls: true } : {}),
        trust: deps.trust,
        ...(bind ? { localAddress: bind } : {}),
        connectTimeoutMs: deps.timeoutMs,
        commandTimeoutMs: deps.timeoutMs,
      });
      if (!opened.ok) {
        failure =
          opened.stage === 'tls'
            ? { stage: 'tls', ip, tls: { starttlsOffered: true, handshake: 'failed', error: opened.reason }, verdict: opened.reason }
            : { stage: opened.stage, ip, detail: opened.reason, ...(opened.reply ? { reply: opened.reply } : {}) };
        continue;
      }
      return { ...base, result: await authenticate(opened.session, ip, level, hop, deps) };
    }
  }
  return { ...base, result: failure ?? { stage: 'resolve', detail: `${hop.host} has no address to try` } };
}

/** TLS judged by the level, then AUTH; the session is closed (QUIT) in every case. */
async function authenticate(session: SmtpSession, ip: string, level: TlsLevel, hop: NextHop, deps: SmarthostDeps): Promise<SmarthostFacts['result']> {
  const seen = session.tls;
  try {
    const verdict = evaluate(level, seen);
    if (verdict.action !== 'proceed') return { stage: 'tls', ip, tls: seen, verdict: verdict.reason };
    if (seen.handshake === 'ok') {
      const again = await session.helloAfterTls();
      if (!again.ok) return { stage: 'ehlo', ip, detail: again.reason, ...(again.reply ? { reply: again.reply } : {}) };
    }
    const done = { stage: 'done', ip, tls: seen, source: session.localAddress } as const;
    if (!hop.auth) return { ...done, authenticated: false };
    // Credentials only inside TLS, as delivery sends them (config demands encrypt or verify).
    if (seen.handshake !== 'ok') return { stage: 'tls', ip, tls: seen, verdict: 'no TLS on this connection; credentials are sent only over TLS' };
    let password: string;
    try {
      password = await (deps.readSecret ?? readSecretFile)(hop.auth.passwordFile);
    } catch (err) {
      return { stage: 'password', ip, tls: seen, detail: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
    }
    const offered = session.extensions.get('AUTH') ?? '';
    const auth = await session.auth(hop.auth.username, password);
    if (!auth.ok) return { stage: 'auth', ip, tls: seen, detail: auth.error, offered, ...(auth.reply ? { reply: auth.reply } : {}) };
    return { ...done, authenticated: true };
  } finally {
    await session.quit();
  }
}
