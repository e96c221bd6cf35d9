// Why a mail server's TLS does not verify, in words a person can act on (pure): OpenSSL's verify
// code, the chain the server sent, the MX name (RFC 6125 §6.4 via tls/names.ts) and
// the clock → findings such as "the server sent only its own certificate; install the full chain".
import { checkCertName, normalizeHostname, normalizePattern, presentedNames } from '../tls/names.ts';
import type { CertSummary } from './chain.ts';

export type FindingKind =
  | 'no-starttls'
  | 'starttls-refused'
  | 'handshake-failed'
  | 'missing-intermediate'
  | 'incomplete-chain'
  | 'self-signed'
  | 'untrusted-root'
  | 'expired'
  | 'not-yet-valid'
  | 'name-mismatch'
  | 'unverified'
  | 'expires-soon'
  | 'no-sni-certificate'
  | 'not-in-mta-sts'
  | 'dane-mismatch'
  | 'dane-lookup-failed';

export interface Finding {
  kind: FindingKind;
  /** An error means the host does not verify; a warning is worth fixing but does not. */
  severity: 'error' | 'warning';
  text: string;
}

const DAY = 86_400_000;
/** A certificate with less left than this gets a warning. */
export const EXPIRY_WARNING_MS = 14 * DAY;

const ISSUER_NOT_FOUND = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT']);
/** Codes the validity scan below explains better than the code itself. */
const DATE_CODES = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

export interface ChainFacts {
  /** OpenSSL's verify error (TLSSocket.authorizationError); undefined when the chain verifies. */
  code?: string;
  /** The certificates the server sent, leaf first. */
  sent: readonly CertSummary[];
  /** Epoch ms. */
  now: number;
}

/** What is wrong with the chain itself (not the name), most important first. */
export function explainChain(facts: ChainFacts): Finding[] {
  const { code, sent, now } = facts;
  const findings: Finding[] = [];
  const leaf = sent[0];
  if (!leaf) return [{ kind: 'unverified', severity: 'error', text: 'the server sent no certificate' }];
  const last = sent[sent.length - 1] as CertSummary;
  if (code === 'DEPTH_ZERO_SELF_SIGNED_CERT') {
    findings.push(
      error(
        'self-signed',
        `the certificate is self-signed (issued by itself, ${leaf.subject}): no sender can verify it; install one from a public CA such as Let's Encrypt`,
      ),
    );
  } else if (code !== undefined && ISSUER_NOT_FOUND.has(code)) {
    if (sent.length === 1 && !leaf.selfIssued) {
      findings.push(
        error(
          'missing-intermediate',
          `the server sent only its own certificate; install the full chain: the certificate followed by the intermediate certificate of its issuer, ${leaf.issuer} (the CA's "fullchain" file)`,
        ),
      );
    } else {
      findings.push(
        error(
          'incomplete-chain',
          `the chain the server sent ends at ${last.subject}, issued by ${last.issuer}, which this machine does not trust: install the missing intermediate certificate after it, or, if that is a private CA, use a certificate from a public CA`,
        ),
      );
    }
  } else if (code === 'SELF_SIGNED_CERT_IN_CHAIN') {
    const root = sent.find((c, i) => i > 0 && c.selfIssued) ?? last;
    findings.push(
      error(
        'untrusted-root',
        `the chain ends at ${root.subject}, a root CA this machine does not trust (a private CA?): senders cannot verify it; use a certificate from a public CA`,
      ),
    );
  } else if (code !== undefined && !DATE_CODES.has(code)) {
    findings.push(error('unverified', `the chain does not verify: ${code}`));
  }
  const dated = validityFindings(sent, now);
  findings.push(...dated);
  if (code !== undefined && DATE_CODES.has(code) && !dated.some((f) => f.severity === 'error')) {
    // The culprit is not among the certificates sent (the trust anchor, say).
    findings.push(
      error(
        code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not-yet-valid',
        `a certificate in the chain is ${code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not yet valid'} (${code}); check the chain with your CA`,
      ),
    );
  }
  return findings;
}

/** Expired, not yet valid, or (the leaf) expiring within EXPIRY_WARNING_MS. */
function validityFindings(sent: readonly CertSummary[], now: number): Finding[] {
  const findings: Finding[] = [];
  sent.forEach((cert, i) => {
    const what = i === 0 ? 'the certificate' : `the chain certificate ${cert.subject}`;
    const notAfter = Date.parse(cert.notAfter);
    const notBefore = Date.parse(cert.notBefore);
    if (notAfter <= now) {
      const fix = i === 0 ? 'renew it and install the new one' : 'install the current chain from your CA';
      findings.push(error('expired', `${what} expired on ${day(notAfter)} (${ago(now - notAfter)}): ${fix}`));
    } else if (notBefore > now) {
      findings.push(error('not-yet-valid', `${what} is not valid before ${day(notBefore)}: check the clock of the server and of this machine`));
    } else if (i === 0 && notAfter - now < EXPIRY_WARNING_MS) {
      findings.push({
        kind: 'expires-soon',
        severity: 'warning',
        text: `the certificate expires on ${day(notAfter)} (in ${days(notAfter - now)}): renew it soon`,
      });
    }
  });
  return findings;
}

/** Whether the leaf names `mxName` (RFC 6125 §6.4); if not, why, with the one-label wildcard rule spelled out. */
export function explainName(mxName: string, leaf: CertSummary): Finding | undefined {
  const names = { dnsNames: leaf.dnsNames, ...(leaf.commonName !== undefined ? { commonName: leaf.commonName } : {}) };
  if (checkCertName(mxName, names) === undefined) return undefined;
  const host = normalizeHostname(mxName) || mxName.toLowerCase().replace(/\.$/, '');
  const presented = presentedNames(names);
  // RFC 6125 §6.4.3: "*" stands for exactly one label; this one would need to stand for more.
  const wildcard = presented.find((p) => {
    const pattern = normalizePattern(p);
    return pattern.startsWith('*.') && host.endsWith(pattern.slice(1)) && host.slice(0, -pattern.length + 1).includes('.');
  });
  if (wildcard) {
    const parent = host.slice(host.indexOf('.') + 1);
    return error('name-mismatch', `${wildcard} covers one label only and does not cover ${host}; the certificate must name ${host} itself (or *.${parent})`);
  }
  if (presented.length === 0)
    return error('name-mismatch', `the certificate names no host (no DNS subjectAltName, subject ${leaf.subject || 'empty'}); it must name ${host}`);
  return error('name-mismatch', `the certificate is for ${presented.join(', ')} and does not cover ${host}; it must name ${host}`);
}

/** The certificate served without SNI, when it does not verify although the one with SNI does. */
export function explainNoSni(host: string, leaf: CertSummary, problems: readonly Finding[]): Finding | undefined {
  const first = problems.find((p) => p.severity === 'error');
  if (!first) return undefined;
  return {
    kind: 'no-sni-certificate',
    severity: 'warning',
    text: `without SNI the server presents ${leaf.subject || 'a certificate'}, which does not verify for ${host} (${first.text}); senders that send no SNI (Postfix by default) see that one: make it the default certificate`,
  };
}

/**
 * A handshake error as a person reads it: OpenSSL's "CODE: 40FD…:error:0A00010B:SSL routines:
 * func:wrong version number:file.c:77:" becomes "wrong version number (CODE)".
 */
export function tidyTlsError(text: string): string {
  const first = text.split('\n')[0]?.trim() ?? '';
  const openssl = /^(?:([A-Z0-9_]+): )?[0-9A-F]+:error:[0-9A-F]+:[^:]*:[^:]*:([^:]+):/.exec(first);
  if (!openssl) return first;
  return openssl[1] ? `${openssl[2]} (${openssl[1]})` : (openssl[2] ?? first);
}

function error(kind: FindingKind, text: string): Finding {
  return { kind, severity: 'error', text };
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function days(ms: number): string {
  const n = Math.max(0, Math.floor(ms / DAY));
  return `${n} day${n === 1 ? '' : 's'}`;
}

function ago(ms: number): string {
  return ms < DAY ? 'less than a day ago' : `${days(ms)} ago`;
}
