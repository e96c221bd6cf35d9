// Judges what the probes of one MX address saw (pure): the chain as sent and its trust anchor,
// verification with and without SNI, findings in plain words, and what Sealpost would do with
// mail for this address under the destination's TLS policy (tls-policy/evaluate.ts, the same
// rules delivery applies).

import { X509Certificate } from 'node:crypto';
import { associationData, tlsaText } from '../dane/tlsa.ts';
import type { HopDane } from '../outbound/hop.ts';
import { checkCertName } from '../tls/names.ts';
import { evaluate, type TlsObserved } from '../tls-policy/evaluate.ts';
import type { TlsPolicy } from '../tls-policy/policy.ts';
import type { CertSummary } from './chain.ts';
import { explainChain, explainName, explainNoSni, type Finding, tidyTlsError } from './explain.ts';
import type { SmtpProbe, TlsSeen } from './probe.ts';
import type { AddressReport, DeliveryVerdict, MxReport, PolicyReport, TlsView } from './report.ts';

export interface AddressProbes {
  ip: string;
  port: number;
  /** The MX host name (SNI, and the name the certificate must carry); undefined for an address target. */
  mxName?: string;
  /** With SNI (none for an address target) against the trusted CAs: the conversation delivery has. */
  main: SmtpProbe;
  /** With SNI against no CA at all: the chain exactly as the server sends it. */
  asSent?: SmtpProbe;
  /** Without SNI against the trusted CAs. */
  noSni?: SmtpProbe;
}

/** DANE for this address: the host's usable TLSA records and the match of the chain as sent; or why delivery would not use the host. */
export interface DaneCheck {
  dane?: HopDane;
  match?: { matched: string | null; error?: string };
  refused?: string;
}

export function assessAddress(p: AddressProbes, policy: TlsPolicy, stsAllowed: boolean | null, now: number, dane: DaneCheck = {}): AddressReport {
  const m = p.main;
  const findings: Finding[] = [];
  const reachable = m.ehlo !== undefined;
  const early = m.failure && !['starttls', 'tls', 'ehlo-tls'].includes(m.failure.stage) ? m.failure.error : undefined;
  if (reachable && !m.starttls)
    findings.push(error('no-starttls', 'the server does not offer STARTTLS: mail to it travels in plaintext, and senders that require TLS cannot deliver'));
  if (m.starttlsRefused)
    findings.push(error('starttls-refused', `the server offers STARTTLS but refuses it (${m.starttlsRefused}): check its TLS configuration`));
  if (m.failure && (m.failure.stage === 'tls' || m.failure.stage === 'starttls')) {
    findings.push(
      error(
        'handshake-failed',
        `the TLS handshake failed (${tidyTlsError(m.failure.error)}): check the server's certificate, key and TLS settings; senders fall back to plaintext or defer`,
      ),
    );
  }

  let chain: CertSummary[] = [];
  let trustAnchor: CertSummary | undefined;
  let nameError: string | undefined;
  let main: TlsView | undefined;
  if (m.tls) {
    chain = p.asSent?.tls?.chain.length ? p.asSent.tls.chain : m.tls.chain;
    trustAnchor = anchorOf(m.tls, chain);
    const leaf = m.tls.chain[0];
    const name = p.mxName !== undefined && leaf ? explainName(p.mxName, leaf) : undefined;
    // The delivery verdict quotes the reason as the SMTP client logs it.
    nameError = p.mxName !== undefined && leaf ? checkCertName(p.mxName, { dnsNames: leaf.dnsNames, commonName: leaf.commonName }) : undefined;
    findings.push(...explainChain({ ...(m.tls.authorized ? {} : { code: m.tls.code ?? 'UNVERIFIED' }), sent: chain, now }));
    if (name) findings.push(name);
    main = view(m.tls, m.tls.authorized && name === undefined);
  }
  let withoutSni: TlsView | undefined = p.mxName === undefined ? main : undefined;
  if (p.mxName !== undefined && p.noSni?.tls) {
    const t = p.noSni.tls;
    const name = t.chain[0] ? explainName(p.mxName, t.chain[0]) : undefined;
    withoutSni = view(t, t.authorized && name === undefined);
    const problems = [...explainChain({ ...(t.authorized ? {} : { code: t.code ?? 'UNVERIFIED' }), sent: t.chain, now }), ...(name ? [name] : [])];
    const warning = main?.verified && !withoutSni.verified && t.chain[0] ? explainNoSni(p.mxName, t.chain[0], problems) : undefined;
    if (warning) findings.push(warning);
  } else if (p.mxName !== undefined && m.tls && p.noSni?.failure?.stage === 'tls') {
    findings.push({
      kind: 'no-sni-certificate',
      severity: 'warning',
      text: `without SNI the TLS handshake fails (${tidyTlsError(p.noSni.failure.error)}); senders that send no SNI (Postfix by default) cannot use TLS with this host`,
    });
  }
  if (stsAllowed === false && policy.sts) {
    findings.push({
      kind: 'not-in-mta-sts',
      severity: policy.sts.mode === 'enforce' ? 'error' : 'warning',
      text: `this host is not among the MX hosts of the domain's MTA-STS policy (mx: ${policy.sts.mx.join(', ')}): senders that ${policy.sts.mode === 'enforce' ? 'enforce' : 'would enforce'} the policy do not deliver to it; add it to the policy or change the MX record`,
    });
  }
  if (dane.dane && dane.match && dane.match.matched === null) {
    const leaf = (p.asSent?.tls?.der ?? m.tls?.der)?.[0];
    const current = leaf ? ` 3 1 1 ${associationData(new X509Certificate(leaf), 1, 1)}` : '';
    findings.push(
      error(
        'dane-mismatch',
        `DANE: ${dane.match.error ?? 'no TLSA record matches'} (published: ${dane.dane.records.map(tlsaText).join(', ')}); senders that do DANE defer mail to this host: publish the TLSA record of the key it serves (${current.trim() || 'its current key'}) next to the old one, then remove the old one`,
      ),
    );
  }
  if (dane.refused) findings.push(error('dane-lookup-failed', `DANE: ${dane.refused}`));
  const verified = main?.verified === true && !findings.some((f) => f.severity === 'error');
  return {
    ip: p.ip,
    port: p.port,
    reachable,
    ...(early !== undefined ? { error: early } : {}),
    ...(m.banner !== undefined ? { banner: m.banner } : {}),
    ...(m.ehlo !== undefined ? { ehlo: m.ehlo } : {}),
    starttls: m.starttls,
    ...(m.ehloAfterTls !== undefined ? { ehloAfterTls: m.ehloAfterTls } : {}),
    ...(main && p.mxName !== undefined ? { withSni: main } : {}),
    ...(withoutSni ? { withoutSni } : {}),
    chain,
    ...(trustAnchor ? { trustAnchor } : {}),
    verified,
    ...(dane.match ? { dane: dane.match } : {}),
    findings,
    delivery: dane.refused
      ? { action: 'defer', transport: null, text: `would defer the mail: ${dane.refused}` }
      : deliveryVerdict(policy, m, nameError, stsAllowed, early, dane.match),
  };
}

/** The root that completes a verified chain: supplied by the local store, or the last one sent. */
function anchorOf(tls: TlsSeen, sent: readonly CertSummary[]): CertSummary | undefined {
  const added = tls.chain.find((c) => !sent.some((s) => s.fingerprint256 === c.fingerprint256));
  if (added) return added;
  const last = sent[sent.length - 1];
  return tls.authorized && last?.selfIssued ? last : undefined;
}

function view(tls: TlsSeen, verified: boolean): TlsView {
  return { version: tls.version, cipher: tls.cipher, leaf: tls.chain[0] as CertSummary, verified };
}

/** What delivery would do at this address: the same evaluate() the SMTP client applies. */
export function deliveryVerdict(
  policy: TlsPolicy,
  m: SmtpProbe,
  nameError: string | undefined,
  stsAllowed: boolean | null,
  early: string | undefined,
  dane?: { matched: string | null; error?: string },
): DeliveryVerdict {
  if (m.ehlo === undefined) return { action: 'skip', transport: null, text: `would try the next host: ${early ?? 'no SMTP conversation'}` };
  // RFC 8461 §4.1: under enforce, only MX hosts the policy names are used.
  if (policy.source === 'mta-sts' && stsAllowed === false)
    return { action: 'skip', transport: null, text: 'would not use this host: it is not in the MTA-STS policy (mode enforce)' };
  const tlsFailed = m.failure?.stage === 'tls' || m.failure?.stage === 'starttls';
  const seen: TlsObserved = {
    starttlsOffered: m.starttls,
    handshake: m.tls ? 'ok' : m.starttlsRefused ? 'refused' : tlsFailed ? 'failed' : 'skipped',
    ...(m.starttlsRefused ? { error: m.starttlsRefused } : tlsFailed && m.failure ? { error: m.failure.error } : {}),
    ...(m.tls && !m.tls.authorized ? { chainError: m.tls.code ?? 'not verified' } : {}),
    ...(nameError !== undefined ? { nameError } : {}),
    ...(dane ? { dane } : {}),
  };
  if (policy.level === 'none') return { action: 'deliver', transport: 'plaintext', text: 'would deliver in plaintext (TLS level "none" never starts TLS)' };
  const verdict = evaluate(policy.level, seen);
  if (verdict.action === 'defer') return { action: 'defer', transport: null, text: `would defer the mail: ${verdict.reason}` };
  if (verdict.action === 'retry-plaintext')
    return {
      action: 'retry-plaintext',
      transport: 'plaintext',
      text: `would retry in plaintext on a new connection, logged as a downgrade (${verdict.reason})`,
    };
  if (verdict.downgrade) return { action: 'deliver', transport: 'plaintext', text: `would deliver in plaintext, logged as a downgrade: ${verdict.downgrade}` };
  if (seen.handshake !== 'ok')
    return { action: 'deliver', transport: 'plaintext', text: `would deliver in plaintext: the server does not offer STARTTLS (TLS level "${policy.level}")` };
  if (dane?.matched) return { action: 'deliver', transport: 'tls-verified', text: `would deliver over TLS authenticated by DANE (TLSA ${dane.matched})` };
  if (seen.chainError === undefined && seen.nameError === undefined)
    return { action: 'deliver', transport: 'tls-verified', text: 'would deliver over TLS with a verified certificate' };
  return {
    action: 'deliver',
    transport: 'tls-unverified',
    text: `would deliver over TLS without relying on the certificate (TLS level "${policy.level}" does not verify it)`,
  };
}

/** An MX host verifies when it answered at some address and every address that answered verifies. */
export function mxVerified(addresses: readonly AddressReport[]): boolean {
  const reachable = addresses.filter((a) => a.reachable);
  return reachable.length > 0 && reachable.every((a) => a.verified);
}

export function everyMxVerified(mx: readonly MxReport[]): boolean {
  return mx.length > 0 && mx.every((m) => m.verified);
}

/** The policy delivery would choose, in words. */
export function describePolicy(policy: TlsPolicy): PolicyReport {
  const level = `TLS level "${policy.level}"`;
  const text =
    policy.source === 'table'
      ? `${level} from [outbound.tls_policy]`
      : policy.source === 'mta-sts'
        ? `${level} from the domain's MTA-STS policy (mode enforce): only the MX hosts it names, with verified certificates`
        : `${level} from outbound.tls_default${policy.sts?.mode === 'testing' ? '; the MTA-STS policy is in testing mode (problems are reported, not enforced)' : ''}`;
  return { level: policy.level, source: policy.source, text };
}

function error(kind: Finding['kind'], text: string): Finding {
  return { kind, severity: 'error', text };
}
