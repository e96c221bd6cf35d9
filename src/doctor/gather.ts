// Gathers the facts `sealpost doctor` judges: DNS through our resolver (dns.servers), mailauth's SPF
// evaluation of each of our addresses, the DKIM keys on disk, the ACME state files, and the probes
// of probes.ts. Network and file I/O; every decision is in checks/.
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import type tls from 'node:tls';
import { spf as evaluateSpf } from 'mailauth';
import { cacheRoot, loadAccountUrl } from '../acme/cache.ts';
import { readStatus } from '../acme/status.ts';
import { parseHostPort } from '../config/fields.ts';
import type { Config } from '../config/types.ts';
import { dkimKeyPath, dkimRecord } from '../dkim/keys.ts';
import type { DnsAnswer, Resolver } from '../dns/resolver.ts';
import { mailauthResolver } from '../mailauth/resolver.ts';
import { dnsblLookups, dnsblQuery } from './checks/blocklists.ts';
import { isSpf, spfTargets } from './checks/spf.ts';
import type { AcmeFacts, CertFacts, DkimFacts, DnsblFacts, DoctorFacts, DomainFacts, Port25Facts, PtrFacts } from './findings.ts';
import { records } from './findings.ts';
import { localTarget, probeImplicitTls, probeStarttls, tcpConnect } from './probes.ts';
import { gatherSmarthosts, type SmarthostDeps } from './smarthost.ts';

export interface DoctorLookups extends Resolver {
  reverse(ip: string): Promise<DnsAnswer<string>>;
  resolvePtr(name: string): Promise<DnsAnswer<string>>;
  resolveCname(name: string): Promise<DnsAnswer<string>>;
  resolveCaa(name: string): Promise<DnsAnswer<string>>;
}

export interface GatherDeps {
  resolver: DoctorLookups;
  addresses: string[];
  addressSource: DoctorFacts['addressSource'];
  /** Only these of the config's domains ([] = all). */
  domains: readonly string[];
  now: () => number;
  /** CAs the certificate of our listeners must verify against. */
  trust: tls.SecureContext;
  /** Per probe of our own listeners. */
  probeTimeoutMs: number;
  /** The outbound port-25 probe; absent: not run (daemon start-up). */
  port25?: { target: string; timeoutMs: number };
  /** The smarthost session (connect, TLS, AUTH; smarthost.ts); absent: not run (daemon start-up). */
  smarthost?: Omit<SmarthostDeps, 'resolver'>;
}

export async function gatherFacts(config: Config, deps: GatherDeps): Promise<DoctorFacts> {
  const r = deps.resolver;
  const wanted = config.domains.filter((d) => deps.domains.length === 0 || deps.domains.includes(d.name));
  const [hostA, hostAaaa, ptr, domains, certs, acme, dnsbl, port25, smarthosts] = await Promise.all([
    r.resolve4(config.hostname),
    r.resolve6(config.hostname),
    Promise.all(deps.addresses.map((ip) => gatherPtr(r, ip))),
    Promise.all(wanted.map((d) => gatherDomain(config, d.name, [...d.mailboxes, ...Object.keys(d.aliases)], deps))),
    gatherCerts(config, deps),
    gatherAcme(config, r),
    gatherDnsbl(
      r,
      dnsblLookups(
        deps.addresses,
        wanted.map((d) => d.name),
        config.doctor.dnsbl,
        config.doctor.domainDnsbl,
      ),
    ),
    deps.port25 ? probePort25(r, deps.port25.target, deps.port25.timeoutMs) : Promise.resolve(undefined),
    deps.smarthost ? gatherSmarthosts(config, { resolver: r, ...deps.smarthost }) : Promise.resolve(undefined),
  ]);
  return {
    hostname: config.hostname,
    addresses: deps.addresses,
    addressSource: deps.addressSource,
    hostA,
    hostAaaa,
    ptr,
    domains,
    certs,
    acme,
    dnsbl,
    ...(port25 ? { port25 } : {}),
    ...(smarthosts ? { smarthosts } : {}),
    now: deps.now(),
  };
}

async function gatherPtr(r: DoctorLookups, ip: string): Promise<PtrFacts> {
  const names = await r.reverse(ip);
  const forward: Record<string, DnsAnswer<string>> = {};
  for (const name of records(names)) forward[name] = await (net.isIPv6(ip) ? r.resolve6(name) : r.resolve4(name));
  return { ip, names, forward };
}

async function gatherDomain(config: Config, name: string, localParts: string[], deps: GatherDeps): Promise<DomainFacts> {
  const r = deps.resolver;
  const [mx, txt, dmarc] = await Promise.all([r.resolveMx(name), r.resolveTxt(name), r.resolveTxt(`_dmarc.${name}`)]);
  const mxHosts = await Promise.all(
    records(mx)
      .filter((m) => m.exchange !== '' && m.exchange !== '.')
      .map(async (m) => ({ name: m.exchange, cname: await r.resolveCname(m.exchange), a: await r.resolve4(m.exchange), aaaa: await r.resolve6(m.exchange) })),
  );
  const spfTree = await gatherSpfTree(r, records(txt).filter(isSpf));
  const resolver = mailauthResolver(r, r);
  const single = records(txt).filter(isSpf).length === 1;
  const spfResults = single
    ? await Promise.all(
        deps.addresses.map(async (ip) => {
          const result = await evaluateSpf({
            ip,
            sender: `postmaster@${name}`,
            helo: config.hostname,
            mta: config.hostname,
            resolver,
            maxElapsedTime: config.dns.timeoutMs * 4,
          });
          return { ip, result: result.status.result, comment: result.status.comment ?? '' };
        }),
      )
    : [];
  const selectors = config.dkim.find((d) => d.domain === name)?.selectors ?? [];
  const dkim = await Promise.all(selectors.map((s) => gatherDkim(config.dataDir, name, s, r)));
  return { name, mx, mxHosts, txt, spfTree, spfResults, dkim, dmarc, localParts, ourDomains: config.domains.map((d) => d.name) };
}

/** The SPF records reached through include: and redirect=, at most 30 names (the limit is 10 anyway). */
async function gatherSpfTree(r: Resolver, top: string[]): Promise<Record<string, string | null>> {
  const tree: Record<string, string | null> = {};
  const todo = top.flatMap(spfTargets);
  while (todo.length > 0 && Object.keys(tree).length < 30) {
    const name = todo.shift() as string;
    if (name in tree) continue;
    const spf = records(await r.resolveTxt(name)).filter(isSpf);
    tree[name] = spf.length === 1 ? (spf[0] as string) : null;
    if (spf.length === 1) todo.push(...spfTargets(spf[0] as string));
  }
  return tree;
}

async function gatherDkim(dataDir: string, domain: string, selector: string, r: Resolver): Promise<DkimFacts> {
  const file = dkimKeyPath(dataDir, domain, selector);
  let expected: DkimFacts['expected'];
  try {
    expected = { ok: true, record: dkimRecord(await readFile(file, 'utf8')) };
  } catch (err) {
    expected = { ok: false, reason: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  return { selector, expected, published: await r.resolveTxt(`${selector}._domainkey.${domain}`) };
}

async function gatherCerts(config: Config, deps: GatherDeps): Promise<CertFacts[]> {
  const out: CertFacts[] = [];
  const smtp = config.listen.smtp[0];
  const submissions = config.listen.submissions[0];
  if (smtp) {
    const t = localTarget(smtp);
    out.push({ listener: 'smtp', address: t.label, probe: await probeStarttls(t.ip, t.port, config.hostname, deps.trust, deps.probeTimeoutMs) });
  }
  if (submissions) {
    const t = localTarget(submissions);
    out.push({ listener: 'submissions', address: t.label, probe: await probeImplicitTls(t.ip, t.port, config.hostname, deps.trust, deps.probeTimeoutMs) });
  }
  return out;
}

async function gatherAcme(config: Config, r: DoctorLookups): Promise<AcmeFacts> {
  const { enabled, directory } = config.acme;
  if (!enabled) return { enabled, directory };
  const root = cacheRoot(config.dataDir);
  const [status, accountUrl, caa] = await Promise.all([readStatus(root), loadAccountUrl(root, directory), closestCaa(r, config.hostname)]);
  const lastError = status?.certificates.find((c) => c.names[0] === config.hostname)?.lastError;
  return { enabled, directory, ...(accountUrl ? { accountUrl } : {}), ...(lastError ? { lastError } : {}), caa };
}

/** RFC 8659 §3: the CAA set of a name is that of the name or its closest ancestor that has one. */
async function closestCaa(r: DoctorLookups, hostname: string): Promise<{ at: string; records: DnsAnswer<string> }> {
  const labels = hostname.split('.');
  let last: { at: string; records: DnsAnswer<string> } = { at: hostname, records: { kind: 'nodata' } };
  for (let i = 0; i < labels.length - 1; i++) {
    const at = labels.slice(i).join('.');
    last = { at, records: await r.resolveCaa(at) };
    if (last.records.kind === 'records') return last;
  }
  return { at: hostname, records: last.records };
}

function gatherDnsbl(r: Resolver, lookups: { subject: string; zone: string }[]): Promise<DnsblFacts[]> {
  return Promise.all(lookups.map(async (l) => ({ ...l, answer: await r.resolve4(dnsblQuery(l.subject, l.zone)) })));
}

async function probePort25(r: Resolver, target: string, timeoutMs: number): Promise<Port25Facts> {
  let ip: string;
  let port = 25;
  const literal = parseHostPort(target);
  if (typeof literal !== 'string') {
    ip = literal.host;
    port = literal.port;
  } else {
    const mx = records(await r.resolveMx(target)).sort((a, b) => a.preference - b.preference)[0];
    if (!mx) return { kind: 'unresolved', target, detail: `no MX for ${target}` };
    const a = records(await r.resolve4(mx.exchange))[0] ?? records(await r.resolve6(mx.exchange))[0];
    if (!a) return { kind: 'unresolved', target, detail: `no address for ${mx.exchange}` };
    ip = a;
  }
  const where = `${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
  const result = await tcpConnect(ip, port, timeoutMs);
  if (result.kind === 'failed') return { kind: 'failed', target, ip: where, detail: result.detail };
  return { kind: result.kind, target, ip: where, ms: result.ms };
}
