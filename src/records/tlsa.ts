// The TLSA records of our own host (RFC 7672 §3.1, RFC 6698 §2): "3 1 1" = DANE-EE, the
// SubjectPublicKeyInfo, SHA-256; the usage receivers recommend for an MTA's own key (RFC 7671
// §5.1: independent of the CA, the name and the expiry, so a renewal with the same key keeps it
// valid). As zone-file lines for `sealpost dane show`. Pure but for node:crypto's hashing.
//
//   spkiSha256(pem)            → hex SHA-256 of the DER SubjectPublicKeyInfo of a certificate or key (PEM)
//   tlsaName(hostname, port?)  → "_25._tcp.mx.example.org."
//   tlsaLine(hostname, hash)   → "_25._tcp.mx.example.org. IN TLSA 3 1 1 <hash>"
import { createHash, createPublicKey } from 'node:crypto';

/** The first certificate of a chain, or a private or public key: the SHA-256 of its SPKI in DER (the data of a x 1 1 record). */
export function spkiSha256(pem: string): string {
  const der = createPublicKey(pem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex');
}

/** RFC 7672 §3: SMTP's TLSA records sit at _25._tcp.<MX host>. */
export function tlsaName(hostname: string, port = 25): string {
  return `_${port}._tcp.${hostname.replace(/\.$/, '')}.`;
}

export function tlsaLine(hostname: string, sha256Hex: string): string {
  return `${tlsaName(hostname)} IN TLSA 3 1 1 ${sha256Hex}`;
}
