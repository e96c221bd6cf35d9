// The TLS options every inbound listener uses, and a SecureContext built from PEM material
// with them. Pure apart from OpenSSL work in createSecureContext (no I/O).
//
//   listenerContextOptions(listener)   → options for tls.createSecureContext / smtp-server (no key/cert)
//   buildSecureContext(material, listener) → tls.SecureContext (throws only on bad PEM; store.ts catches)
import tls from 'node:tls';
import type { TlsVersion } from '../config/schema.ts';
import type { CertMaterial } from './material.ts';

/** The listener's slice of config: `[tls] min_version`. */
export interface ListenerTlsOptions {
  readonly minVersion: TlsVersion;
}

/** What createSecureContext gets besides key and cert; smtp-server gets the same for its default. */
export interface ContextOptions {
  minVersion: TlsVersion;
  /** 'auto': OpenSSL's built-in group sized to the key, so DHE suites work besides ECDHE. */
  dhparam: 'auto';
  /** Our cipher order, not the client's (old peers list weak suites first). */
  honorCipherOrder: true;
  /** Fixed, so session resumption works across both listeners and the SNI contexts. */
  sessionIdContext: string;
  ciphers?: string;
}

export function listenerContextOptions(listener: ListenerTlsOptions): ContextOptions {
  const options: ContextOptions = {
    minVersion: listener.minVersion,
    dhparam: 'auto',
    honorCipherOrder: true,
    sessionIdContext: 'sealpost-smtp',
  };
  if (listener.minVersion === 'TLSv1' || listener.minVersion === 'TLSv1.1') {
    // RFC 8996 deprecates TLS 1.0/1.1, but an operator who sets min_version to them wants
    // them to work: OpenSSL 3 refuses their SHA-1 handshake signatures above security level 0.
    options.ciphers = `${tls.DEFAULT_CIPHERS}:@SECLEVEL=0`;
  }
  return options;
}

export function buildSecureContext(material: CertMaterial, listener: ListenerTlsOptions): tls.SecureContext {
  return tls.createSecureContext({ ...listenerContextOptions(listener), key: material.keyPem, cert: material.certPem });
}
