// RFC 8689 for one hop (pure): may a REQUIRETLS message go over this hop, and what does a
// `TLS-Required: No` message make of the destination's policy. Kept apart from hop.ts, which
// decides the TLS of every hop; these rules apply only to messages that ask for them.
//
//   requireTlsPolicyRefusal(policy, viaTransport) → why no hop under this policy can carry it, or undefined
//   requireTlsSessionRefusal(tls, offered)        → why this session cannot carry it, or undefined
//   withoutRecipientPolicy(policy)                → TLS-Required: No: MTA-STS and DANE set aside
import type { TlsPolicy } from '../tls-policy/policy.ts';
import type { HopTls } from './hop.ts';

/** RFC 8689 §3.4 / IANA: "REQUIRETLS support required", the status of every refusal here. */
export const REQUIRETLS_STATUS = '5.7.30';

/**
 * RFC 8689 §4.2.1: the next hop's name must be authenticated (MX via DNSSEC or an MTA-STS policy)
 * and its certificate verified against it (DANE or PKIX). For MX delivery that is an MTA-STS
 * enforce policy (level verify, the host matched the policy's mx list) or DANE (source "dane",
 * RFC 7672: the MX and TLSA records were DNSSEC-secure). A smarthost or transport next hop is
 * named by the operator, so its name needs no DNS: level verify is enough.
 */
const AUTHENTICATED_SOURCES: ReadonlySet<string> = new Set(['mta-sts', 'dane']);

/** Recipient-side policies that RFC 8689 §5 (TLS-Required: No) asks the client to ignore. */
const RECIPIENT_SOURCES: ReadonlySet<string> = new Set(['mta-sts', 'dane']);

/** Before connecting: undefined when this policy can authenticate the host, else why not. */
export function requireTlsPolicyRefusal(policy: TlsPolicy, viaTransport: boolean): string | undefined {
  if (viaTransport) {
    if (policy.level === 'verify') return undefined;
    return `the message requires TLS with a verified certificate (REQUIRETLS, RFC 8689), but the next hop's TLS level is "${policy.level}", not "verify"`;
  }
  if (AUTHENTICATED_SOURCES.has(policy.source)) return undefined;
  return `the message requires authenticated TLS (REQUIRETLS, RFC 8689): the destination publishes neither DANE TLSA records nor an MTA-STS policy in enforce mode (policy ${policy.level}, from ${policy.source})`;
}

/** After STARTTLS and the second EHLO: undefined when the session may carry the message, else why not. */
export function requireTlsSessionRefusal(tls: HopTls | undefined, offered: boolean): string | undefined {
  if (!tls || tls.version === '') return 'the message requires TLS (REQUIRETLS, RFC 8689), but the session is not encrypted';
  if (!tls.verified) return `the message requires a verified certificate (REQUIRETLS, RFC 8689), but the server's was not: ${tls.error ?? 'not verified'}`;
  if (!offered) return 'the message requires REQUIRETLS (RFC 8689), but the server does not offer it in its EHLO reply';
  return undefined;
}

/**
 * RFC 8689 §5: "TLS-Required: No": deliver even where the recipient domain's policy (MTA-STS,
 * DANE) would defer; TLS is still tried ("may"). The operator's own table and tls_default stay.
 */
export function withoutRecipientPolicy(policy: TlsPolicy): TlsPolicy {
  if (!RECIPIENT_SOURCES.has(policy.source)) return policy;
  return { level: 'may', source: 'tls-required' };
}
