// Pending TLS-ALPN-01 challenges (RFC 8737 §3): name → the self-signed certificate carrying the
// acmeIdentifier extension, served to "acme-tls/1" clients for that name only. The manager
// writes, the HTTPS listener reads. No I/O.
import tls from 'node:tls';

export interface AlpnChallenges {
  /** The context for a validation handshake with SNI `name`, if one is pending. */
  get(name: string): tls.SecureContext | undefined;
  set(name: string, material: { keyPem: string; certPem: string }): void | Promise<void>;
  delete(name: string): void | Promise<void>;
  /** Where a challenge this process does not hold may be found (the nodes' shared table, src/shared-files/challenges.ts). */
  lookup?(name: string): Promise<tls.SecureContext | undefined>;
}

export function createAlpnChallenges(): AlpnChallenges {
  const pending = new Map<string, tls.SecureContext>();
  return {
    get: (name) => pending.get(name.toLowerCase()),
    set: (name, m) =>
      // RFC 8737 §4: the server must negotiate acme-tls/1 and TLS 1.2 or later.
      void pending.set(name.toLowerCase(), tls.createSecureContext({ key: m.keyPem, cert: m.certPem, minVersion: 'TLSv1.2' })),
    delete: (name) => void pending.delete(name.toLowerCase()),
  };
}
