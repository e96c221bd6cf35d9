// A TLS peer's certificate chain as plain data (pure): Node's detailed peer certificate, linked
// through issuerCertificate, becomes a list, leaf first, of what a person checks: subject, DNS
// names, issuer, validity, fingerprint.
import type { DetailedPeerCertificate, PeerCertificate } from 'node:tls';
import { certNames } from '../tls/names.ts';

export interface CertSummary {
  /** "CN=mx.example.org, O=Example". */
  subject: string;
  /** The subject CN, when there is one. */
  commonName?: string;
  /** DNS subjectAltNames as written ("*.example.org" included). */
  dnsNames: string[];
  issuer: string;
  /** ISO 8601. */
  notBefore: string;
  notAfter: string;
  /** Issuer and subject are the same name: a root or a self-signed leaf. */
  selfIssued: boolean;
  serial: string;
  /** SHA-256 of the certificate, "AB:CD:…". */
  fingerprint256: string;
}

/** The leaf and each issuer Node linked after it, stopping at the first repeat (a root links to itself). */
export function walkChain(leaf: DetailedPeerCertificate | undefined): CertSummary[] {
  const chain: CertSummary[] = [];
  const seen = new Set<string>();
  let cert: DetailedPeerCertificate | undefined = leaf;
  while (cert && Object.keys(cert).length > 0 && !seen.has(cert.fingerprint256)) {
    seen.add(cert.fingerprint256);
    chain.push(summarize(cert));
    cert = cert.issuerCertificate;
  }
  return chain;
}

export function summarize(cert: PeerCertificate): CertSummary {
  const names = certNames(cert);
  const subject = formatName(cert.subject);
  const issuer = formatName(cert.issuer);
  return {
    subject,
    ...(names.commonName !== undefined ? { commonName: names.commonName } : {}),
    dnsNames: names.dnsNames,
    issuer,
    notBefore: isoDate(cert.valid_from),
    notAfter: isoDate(cert.valid_to),
    selfIssued: subject === issuer,
    serial: cert.serialNumber,
    fingerprint256: cert.fingerprint256,
  };
}

/** Node's name object ({ CN: 'x', O: ['a', 'b'] }) as "CN=x, O=a, O=b". */
export function formatName(name: PeerCertificate['subject'] | undefined): string {
  if (!name) return '';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(name as unknown as Record<string, string | string[]>)) {
    for (const v of Array.isArray(value) ? value : [value]) parts.push(`${key}=${v}`);
  }
  return parts.join(', ');
}

/** OpenSSL's "Mar  1 12:00:00 2026 GMT" as ISO 8601 (the text as given when it does not parse). */
function isoDate(text: string): string {
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? text : new Date(ms).toISOString();
}
