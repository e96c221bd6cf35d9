// `sealpost tls-check` end to end: the MX hosts of a domain in preference order (or one host),
// their addresses, three SMTP conversations per address (with SNI against the trusted CAs, with
// SNI against none to see the chain as sent, without SNI), the domain's MTA-STS policy, and the
// judgement of assess.ts. Client only: DNS through the Resolver given, SMTP to the MX hosts,
// HTTPS to mta-sts.<domain>. Sends no mail.
import type tls from 'node:tls';
import type { TlsLevel } from '../config/types.ts';
import { type DnsAnswer, describeAnswer, isTemporary, type Resolver } from '../dns/resolver.ts';
import { mxTargets } from '../outbound/mx.ts';
import { mxAllowed, parseStsPolicy, parseStsTxt, type StsPolicy } from '../tls-policy/mta-sts.ts';
import { choosePolicy, type TlsPolicy } from '../tls-policy/policy.ts';
import type { FetchResult } from '../tls-policy/sts-fetch.ts';
import { assessAddress, describePolicy, everyMxVerified, mxVerified } from './assess.ts';
import { type ProbeOptions, probeSmtp, type SmtpProbe } from './probe.ts';
import type { AddressReport, MxReport, StsReport, TlsCheckReport } from './report.ts';
import type { Target } from './target.ts';

export interface CheckDeps {
  resolver: Resolver;
  /** The DNS server asked, for the report ("system" for /etc/resolv.conf). */
  dnsLabel: string;
  /** Node's CAs plus any extra ones (outbound.ca_file, --ca-file). */
  trust: tls.SecureContext;
  /** A context that trusts nothing: the chain comes back exactly as sent. */
  noTrust: tls.SecureContext;
  heloName: string;
  /** Port of the MX hosts unless the target names one (25). */
  port: number;
  ipv6: boolean;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** The policy inputs delivery uses: [outbound] tls_policy, tls_default, mta_sts. */
  tlsPolicy: Readonly<Record<string, TlsLevel>>;
  tlsDefault: TlsLevel;
  mtaSts: boolean;
  fetchSts: (domain: string) => Promise<FetchResult>;
  now: () => number;
  /** Tests may replace the SMTP conversation. */
  probe?: (options: ProbeOptions) => Promise<SmtpProbe>;
}

/** Up to this many MX hosts are checked (delivery tries outbound.max_mx_hosts of them). */
const MAX_MX = 20;

export async function runTlsCheck(target: Target, deps: CheckDeps): Promise<TlsCheckReport> {
  const checkedAt = new Date(deps.now()).toISOString();
  if (target.kind === 'host') {
    const port = target.port ?? deps.port;
    const policy = choosePolicy(target.host, deps.tlsPolicy, undefined, deps.tlsDefault);
    const mx = await checkHost(target.ip ? undefined : target.host, 0, false, port, policy, null, deps, target.ip);
    return {
      target: target.host,
      kind: 'host',
      port,
      dns: deps.dnsLabel,
      checkedAt,
      mtaSts: null,
      policy: describePolicy(policy),
      mx: [mx],
      verified: everyMxVerified([mx]),
    };
  }
  const domain = target.name;
  const sts = deps.mtaSts ? await lookupSts(domain, deps) : { report: null };
  const policy = choosePolicy(domain, deps.tlsPolicy, sts.policy, deps.tlsDefault);
  const base = { target: domain, kind: 'domain' as const, port: deps.port, dns: deps.dnsLabel, checkedAt, mtaSts: sts.report, policy: describePolicy(policy) };
  const targets = mxTargets(domain, await deps.resolver.resolveMx(domain), () => 0, MAX_MX);
  if (targets.kind === 'transient' || targets.kind === 'permanent') return { ...base, dnsError: targets.reason, mx: [], verified: false };
  if (targets.kind !== 'names') return { ...base, mx: [], verified: false };
  // "In order": by preference, then by name (delivery shuffles equal preferences, RFC 5321 §5.1).
  const names = [...targets.names].sort((a, b) => a.preference - b.preference || a.name.localeCompare(b.name));
  const active = sts.policy && sts.policy.mode !== 'none' ? sts.policy : undefined;
  const mx: MxReport[] = [];
  for (const n of names) {
    const allowed = active ? mxAllowed(n.name, active) : null;
    mx.push(await checkHost(n.name, n.preference, n.implicit, deps.port, policy, allowed, deps));
  }
  return { ...base, mx, verified: everyMxVerified(mx) };
}

/** One MX host: its addresses (IPv6 first, as delivery tries them), each probed and judged. */
async function checkHost(
  name: string | undefined,
  preference: number,
  implicit: boolean,
  port: number,
  policy: TlsPolicy,
  stsAllowed: boolean | null,
  deps: CheckDeps,
  ip?: string,
): Promise<MxReport> {
  const head = { name: name ?? ip ?? '', preference, implicit, mtaStsAllowed: stsAllowed };
  let addresses: string[];
  let dnsError: string | undefined;
  if (ip !== undefined) addresses = [ip];
  else {
    const host = name ?? '';
    const [v6, v4] = await Promise.all([
      deps.ipv6 ? deps.resolver.resolve6(host) : Promise.resolve<DnsAnswer<string>>({ kind: 'nodata' }),
      deps.resolver.resolve4(host),
    ]);
    addresses = [...(v6.kind === 'records' ? v6.records : []), ...(v4.kind === 'records' ? v4.records : [])];
    if (addresses.length === 0) dnsError = describeAnswer(host, deps.ipv6 ? 'A/AAAA' : 'A', [v6, v4].find(isTemporary) ?? v4);
  }
  const reports: AddressReport[] = [];
  for (const address of addresses) reports.push(await checkAddress(address, port, name, policy, stsAllowed, deps));
  return { ...head, ...(dnsError !== undefined ? { dnsError } : {}), addresses: reports, verified: mxVerified(reports) };
}

async function checkAddress(
  ip: string,
  port: number,
  mxName: string | undefined,
  policy: TlsPolicy,
  stsAllowed: boolean | null,
  deps: CheckDeps,
): Promise<AddressReport> {
  const probe = deps.probe ?? probeSmtp;
  const options = { ip, port, heloName: deps.heloName, connectTimeoutMs: deps.connectTimeoutMs, commandTimeoutMs: deps.commandTimeoutMs };
  const main = await probe({ ...options, servername: mxName ?? '', trust: deps.trust });
  // The other two views only matter once TLS works; each is a conversation of its own.
  const more = main.tls !== undefined && mxName !== undefined;
  const asSent = more ? await probe({ ...options, servername: mxName, trust: deps.noTrust }) : undefined;
  const noSni = more ? await probe({ ...options, servername: '', trust: deps.trust }) : undefined;
  return assessAddress(
    { ip, port, ...(mxName !== undefined ? { mxName } : {}), main, ...(asSent ? { asSent } : {}), ...(noSni ? { noSni } : {}) },
    policy,
    stsAllowed,
    deps.now(),
  );
}

/** RFC 8461 §3: the _mta-sts TXT record, then the policy file. No record: no policy, not an error. */
async function lookupSts(domain: string, deps: CheckDeps): Promise<{ report: StsReport | null; policy?: StsPolicy & { id: string } }> {
  const name = `_mta-sts.${domain}`;
  const txt = await deps.resolver.resolveTxt(name);
  if (txt.kind === 'nxdomain' || txt.kind === 'nodata') return { report: null };
  if (txt.kind !== 'records') return { report: { id: null, error: describeAnswer(name, 'TXT', txt) } };
  const record = parseStsTxt(txt.records);
  if ('error' in record) {
    if (!txt.records.some((r) => r.startsWith('v=STSv1'))) return { report: null };
    return { report: { id: null, error: `${name} TXT: ${record.error}` } };
  }
  const fetched = await deps.fetchSts(domain);
  if (!fetched.ok)
    return { report: { id: record.id, error: `the policy cannot be fetched: ${fetched.error}; senders without a cached copy apply no MTA-STS` } };
  const policy = parseStsPolicy(fetched.text);
  if ('error' in policy) return { report: { id: record.id, error: `the policy is invalid: ${policy.error}` } };
  return { report: { id: record.id, policy: { mode: policy.mode, mx: policy.mx, maxAge: policy.maxAge } }, policy: { ...policy, id: record.id } };
}
