// `sealpost tls-check` end to end: the MX hosts of a domain in preference order (or one host),
// their addresses, three SMTP conversations per address (with SNI against the trusted CAs, with
// SNI against none to see the chain as sent, without SNI), the domain's MTA-STS policy, and the
// judgement of assess.ts; with DNSSEC validation, each MX host's TLSA records (RFC 7672: MX and
// address lookups through the DNSSEC-aware resolver) and whether the chain as sent matches them.
// Client only: DNS through the Resolver given, SMTP to the MX hosts, HTTPS to mta-sts.<domain>.
// Sends no mail.
import type tls from 'node:tls';
import type { TlsLevel } from '../config/types.ts';
import { tlsaText, unusableReason } from '../dane/tlsa.ts';
import { type DnsAnswer, describeAnswer, isSecure, isTemporary, type Resolver } from '../dns/resolver.ts';
import type { DaneState } from '../outbound/courier.ts';
import { lookupDane, tlsaName } from '../outbound/dane-lookup.ts';
import { type DaneLookup, daneVerdict, type HopDane, hostPolicy } from '../outbound/hop.ts';
import { mxTargets } from '../outbound/mx.ts';
import { mxAllowed, parseStsPolicy, parseStsTxt, type StsPolicy } from '../tls-policy/mta-sts.ts';
import { choosePolicy, type TlsPolicy } from '../tls-policy/policy.ts';
import type { FetchResult } from '../tls-policy/sts-fetch.ts';
import { assessAddress, describePolicy, everyMxVerified, mxVerified } from './assess.ts';
import { type ProbeOptions, probeSmtp, type SmtpProbe } from './probe.ts';
import type { AddressReport, DaneReport, MxReport, StsReport, TlsCheckReport } from './report.ts';
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
  /** DANE on (DNSSEC validation works: the DNSSEC-aware resolver) or off and why; absent = off. */
  dane?: DaneState;
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
    const mx = await checkHost(target.ip ? undefined : target.host, 0, false, port, policy, null, deps, undefined, target.ip);
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
  const dane = deps.dane?.on ? deps.dane.resolver : undefined;
  const mxAnswer = await (dane ?? deps.resolver).resolveMx(domain);
  const targets = mxTargets(domain, mxAnswer, () => 0, MAX_MX);
  if (targets.kind === 'transient' || targets.kind === 'permanent') return { ...base, dnsError: targets.reason, mx: [], verified: false };
  if (targets.kind !== 'names') return { ...base, mx: [], verified: false };
  // "In order": by preference, then by name (delivery shuffles equal preferences, RFC 5321 §5.1).
  const names = [...targets.names].sort((a, b) => a.preference - b.preference || a.name.localeCompare(b.name));
  const active = sts.policy && sts.policy.mode !== 'none' ? sts.policy : undefined;
  const mx: MxReport[] = [];
  for (const n of names) {
    const allowed = active ? mxAllowed(n.name, active) : null;
    mx.push(await checkHost(n.name, n.preference, n.implicit, deps.port, policy, allowed, deps, { domain, mxSecure: isSecure(mxAnswer) }));
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
  of?: { domain: string; mxSecure: boolean },
  ip?: string,
): Promise<MxReport> {
  const head = { name: name ?? ip ?? '', preference, implicit, mtaStsAllowed: stsAllowed };
  const dnssec = of && deps.dane?.on ? deps.dane.resolver : undefined;
  const resolver = dnssec ?? deps.resolver;
  let addresses: string[];
  let dnsError: string | undefined;
  let lookup: DaneLookup | undefined;
  if (ip !== undefined) addresses = [ip];
  else {
    const host = name ?? '';
    const [v6, v4] = await Promise.all([deps.ipv6 ? resolver.resolve6(host) : Promise.resolve<DnsAnswer<string>>({ kind: 'nodata' }), resolver.resolve4(host)]);
    addresses = [...(v6.kind === 'records' ? v6.records : []), ...(v4.kind === 'records' ? v4.records : [])];
    if (addresses.length === 0) dnsError = describeAnswer(host, deps.ipv6 ? 'A/AAAA' : 'A', [v6, v4].find(isTemporary) ?? v4);
    if (of && deps.dane && !deps.dane.on) lookup = { kind: 'off', why: `DANE off: ${deps.dane.why}` };
    if (of && dnssec && addresses.length > 0) {
      const found = [v6, v4].filter((a) => a.kind === 'records');
      const canonical = found.map((a) => (a.kind === 'records' ? a.canonical : undefined)).find((c) => c !== undefined);
      const secure = { mx: of.mxSecure, addresses: found.every(isSecure) };
      lookup = await lookupDane(dnssec, { name: host, preference, implicit, addresses, secure, ...(canonical ? { canonical } : {}) }, port);
    }
  }
  // The policy for this host once its TLSA records are known (the same hostPolicy delivery uses).
  const chosen = of && lookup ? hostPolicy(policy, of.domain, name ?? '', lookup) : { ok: true as const, policy };
  const hostDane = chosen.ok && 'dane' in chosen ? chosen.dane : undefined;
  const refused = chosen.ok ? undefined : chosen.reason;
  const reports: AddressReport[] = [];
  for (const address of addresses)
    reports.push(await checkAddress(address, port, name, chosen.ok ? chosen.policy : policy, stsAllowed, deps, hostDane, refused));
  const dane = lookup && name !== undefined ? daneReport(name, port, lookup, refused ?? describeHost(chosen.ok ? chosen.policy : policy, hostDane)) : undefined;
  return { ...head, ...(dnsError !== undefined ? { dnsError } : {}), ...(dane ? { dane } : {}), addresses: reports, verified: mxVerified(reports) };
}

/** The MX host's TLSA records as the report shows them. */
function daneReport(host: string, port: number, lookup: DaneLookup, text: string): DaneReport {
  const base = lookup.kind === 'records' ? lookup.base : host;
  const records =
    lookup.kind === 'records'
      ? lookup.records.map((r) => {
          const why = unusableReason(r);
          return { record: tlsaText(r), usable: why === undefined, ...(why ? { why } : {}) };
        })
      : [];
  const secure = lookup.kind === 'off' ? null : lookup.kind === 'records' || lookup.kind === 'none';
  const found = lookup.kind === 'records' ? '' : `${lookup.why}; `;
  return { name: tlsaName(port, base), secure, records, text: `${found}${text}` };
}

function describeHost(policy: TlsPolicy, dane: HopDane | undefined): string {
  if (dane) return `DANE senders authenticate this host by its TLSA records (SNI ${dane.base})`;
  if (policy.source === 'dane') return 'no usable TLSA record: DANE senders require TLS without authenticating the certificate';
  return 'DANE senders treat this host as having no TLSA records';
}

async function checkAddress(
  ip: string,
  port: number,
  mxName: string | undefined,
  policy: TlsPolicy,
  stsAllowed: boolean | null,
  deps: CheckDeps,
  dane?: HopDane,
  refused?: string,
): Promise<AddressReport> {
  const probe = deps.probe ?? probeSmtp;
  const options = { ip, port, heloName: deps.heloName, connectTimeoutMs: deps.connectTimeoutMs, commandTimeoutMs: deps.commandTimeoutMs };
  // RFC 7672 §8.1: a DANE sender's SNI is the TLSA base name.
  const main = await probe({ ...options, servername: dane?.base ?? mxName ?? '', trust: deps.trust });
  // The other two views only matter once TLS works; each is a conversation of its own.
  const more = main.tls !== undefined && mxName !== undefined;
  const asSent = more ? await probe({ ...options, servername: mxName, trust: deps.noTrust }) : undefined;
  const noSni = more ? await probe({ ...options, servername: '', trust: deps.trust }) : undefined;
  const sent = asSent?.tls?.der ?? main.tls?.der;
  const match = dane && main.tls ? daneVerdict(dane, sent ?? [], deps.now()) : undefined;
  return assessAddress(
    { ip, port, ...(mxName !== undefined ? { mxName } : {}), main, ...(asSent ? { asSent } : {}), ...(noSni ? { noSni } : {}) },
    policy,
    stsAllowed,
    deps.now(),
    { ...(dane ? { dane } : {}), ...(match ? { match } : {}), ...(refused ? { refused } : {}) },
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
