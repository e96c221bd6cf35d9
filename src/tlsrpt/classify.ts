// What one outbound attempt (a row of the attempts table) counts for in a TLS report (RFC 8460
// §4.3), pure: the policy that applied (DANE's TLSA, MTA-STS or none), and a successful session, a
// failed one with its result type, or no TLS session to count (DNS or connect failures, relays, a
// plaintext retry).
import type { AttemptRecord } from '../outbound/attempts-store.ts';
import { type PolicyType, RESULT_TYPES, type ResultType } from './report.ts';

export type SessionVerdict = { session: 'none' } | { session: 'success'; policy: PolicyType } | { session: 'failure'; policy: PolicyType; result: ResultType };

/** node's certificate chain error codes (tls.TLSSocket authorizationError), as outbound/starttls.ts records them. */
const EXPIRED = /^CERT_HAS_EXPIRED\b|^CERT_NOT_YET_VALID\b/;
const NOT_TRUSTED =
  /^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_UNTRUSTED|CERT_REVOKED|CERT_REJECTED)\b/;
/** tls/names.ts checkCertName: the certificate does not name the MX host. */
const HOST_MISMATCH = /^certificate (is valid for|has no DNS names)/;

/** The policy the attempt ran under: MTA-STS when a policy was in force (enforce or testing), else none found. */
export function policyTypeOf(a: Pick<AttemptRecord, 'stsPolicy'>): PolicyType {
  return a.stsPolicy ? 'sts' : 'no-policy-found';
}

/** The result type of a certificate that did not verify (RFC 8460 §4.3.2.1). */
export function certificateResult(error: string | undefined): ResultType {
  if (error === undefined) return 'validation-failure';
  if (EXPIRED.test(error)) return 'certificate-expired';
  if (NOT_TRUSTED.test(error)) return 'certificate-not-trusted';
  if (HOST_MISMATCH.test(error)) return 'certificate-host-mismatch';
  return 'validation-failure';
}

/** One attempt → what it counts for: DANE's verdict when DANE decided the hop (daneOf), else sessionOf. */
export function classifyAttempt(a: AttemptRecord): SessionVerdict {
  // RFC 8460 reports on the policy domain's own MX hosts: a relay or transport is not one.
  if (a.transport !== undefined) return { session: 'none' };
  const dane = daneOf(a);
  if (dane) return dane;
  return sessionOf(a, policyTypeOf(a));
}

/**
 * An attempt that DANE decided (outbound/hop.ts hostPolicy): its policy is "tlsa" (RFC 8460 §4.3,
 * RFC 8461 §2: DANE wins over MTA-STS). RFC 8460 §4.3.2.2: a bogus or failed TLSA lookup is
 * dnssec-invalid; TLSA records none of which is usable, or none of which the server's chain
 * matched, tlsa-invalid; dane-only without secure TLSA, dane-required. Undefined when DANE did not
 * decide: no DANE level, or "dane" without secure TLSA (MTA-STS or opportunistic TLS then).
 */
function daneOf(a: AttemptRecord): SessionVerdict | undefined {
  const d = a.dane;
  if (!d) return undefined;
  const policy = 'tlsa';
  // hostPolicy's words for a TLSA answer that was SERVFAIL or timed out (dane/explain.ts reads them too).
  if (/^TLSA lookup failed/.test(d.error ?? '')) return a.mx === '' ? { session: 'none' } : { session: 'failure', policy, result: 'dnssec-invalid' };
  if (a.policySource !== 'dane') {
    // Not sent: the destination asked for dane-only and this MX host has no usable TLSA.
    if (a.policy !== 'dane-only' || a.mx === '') return undefined;
    return { session: 'failure', policy, result: d.tlsa > 0 ? 'tlsa-invalid' : 'dane-required' };
  }
  const session = sessionOf(a, policy);
  if (session.session === 'none') return session;
  // RFC 7672 §3.1.1: TLS without authentication; the records are there but none can be used.
  if (d.usable === 0) return { session: 'failure', policy, result: 'tlsa-invalid' };
  if (a.tls && a.tls.version !== '') return d.matched ? { session: 'success', policy } : { session: 'failure', policy, result: 'tlsa-invalid' };
  return session;
}

/**
 * An attempt's session under `policy`. A session is a connection to an MX host on which TLS was tried
 * or should have been: verified TLS is a success; under an sts policy (or a "verify" level) an
 * unverified certificate is a failure of its kind; a failed handshake is a validation-failure; a
 * server without STARTTLS (or refusing it) is starttls-not-supported. Opportunistic TLS ("may",
 * "encrypt") without a policy does not check the certificate: a success.
 */
function sessionOf(a: AttemptRecord, policy: PolicyType): SessionVerdict {
  // RFC 8461 §4.1: no MX host matched the policy; nothing was connected to.
  if (a.ip === '' && a.mx !== '' && policy === 'sts' && /matches its MTA-STS policy/.test(a.error ?? ''))
    return { session: 'failure', policy, result: 'validation-failure' };
  if (a.ip === '' || a.mx === '') return { session: 'none' };
  if (a.policy === 'none') return { session: 'none' };
  // RFC 8460 §4.3.2.2: the domain has an MTA-STS policy we could not fetch or use (none cached):
  // every session to it went without the policy. Not when DANE decided the hop instead.
  const problem = policy === 'tlsa' ? undefined : RESULT_TYPES.find((t) => t === a.stsProblem?.kind);
  if (problem && !a.stsPolicy) return { session: 'failure', policy: 'sts', result: problem };
  if (a.tls) {
    if (a.tls.version === '') return { session: 'failure', policy, result: 'validation-failure' };
    if (a.tls.verified) return { session: 'success', policy };
    if (policy === 'sts' || a.policy === 'verify') return { session: 'failure', policy, result: certificateResult(a.tls.error) };
    return { session: 'success', policy };
  }
  // The second connection of "may" after a failed handshake: its first one was counted.
  if (a.downgrade?.endsWith('retried in plaintext')) return { session: 'none' };
  if (a.downgrade !== undefined) return { session: 'failure', policy, result: 'starttls-not-supported' };
  if (/does not offer STARTTLS|STARTTLS was refused/.test(a.error ?? '')) return { session: 'failure', policy, result: 'starttls-not-supported' };
  // A plaintext SMTP dialogue happened (a reply, or delivered): the server offered no STARTTLS.
  if (/refused the session/.test(a.error ?? '')) return { session: 'none' };
  if (a.reply !== undefined || a.result === 'delivered') return { session: 'failure', policy, result: 'starttls-not-supported' };
  // No session (connection refused, timed out): not a TLS matter.
  return { session: 'none' };
}
