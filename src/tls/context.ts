// The TLS options every inbound listener uses, and a SecureContext built from PEM material
// with them. Pure apart from OpenSSL work in createSecureContext (no I/O).
//
//   listenerContextOptions(listener)   → options for tls.createSecureContext / smtp-server (no key/cert)
//   buildSecureContext(material, listener) → tls.SecureContext (throws only on bad PEM; store.ts catches)
import { constants } from 'node:crypto';
import tls from 'node:tls';
import type { TlsVersion } from '../config/types.ts';
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
  ciphers: string;
  /** OpenSSL SSL_OP_* flags: SSL_OP_NO_RENEGOTIATION. */
  secureOptions: number;
}

/**
 * The listeners' suites: TLS 1.3's three, then Mozilla's "intermediate" TLS 1.2 list (forward
 * secret ECDHE/DHE key exchange, AEAD ciphers only; RSA and ECDSA certificates). Left out: static
 * RSA key exchange (no forward secrecy, e.g. AES256-GCM-SHA384) and CBC suites (Lucky13-style
 * padding oracles, e.g. ECDHE-RSA-AES256-SHA), which testssl.sh reports as weak; RFC 9325 §4.2
 * recommends AEAD suites with forward secrecy.
 */
export const LISTENER_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-CHACHA20-POLY1305',
].join(':');

/**
 * TLS 1.0 and 1.1 have no AEAD suites: a listener whose min_version admits them also offers the
 * forward-secret CBC suites those versions can use (still never static RSA).
 */
const LEGACY_CBC_CIPHERS = ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-RSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES256-SHA'].join(':');

export function listenerContextOptions(listener: ListenerTlsOptions): ContextOptions {
  const options: ContextOptions = {
    minVersion: listener.minVersion,
    dhparam: 'auto',
    honorCipherOrder: true,
    sessionIdContext: 'sealpost-smtp',
    ciphers: LISTENER_CIPHERS,
    // No renegotiation at all (TLS 1.2 and below; TLS 1.3 has none): a client-initiated one
    // costs the server a full handshake each time, a cheap DoS (testssl.sh secure_client_renego).
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
  };
  if (listener.minVersion === 'TLSv1' || listener.minVersion === 'TLSv1.1') {
    // RFC 8996 deprecates TLS 1.0/1.1 (config check warns), but an operator who sets min_version
    // to them wants them to work: OpenSSL 3 refuses their SHA-1 handshake signatures above
    // security level 0.
    options.ciphers = `${LISTENER_CIPHERS}:${LEGACY_CBC_CIPHERS}:@SECLEVEL=0`;
  }
  return options;
}

export function buildSecureContext(material: CertMaterial, listener: ListenerTlsOptions): tls.SecureContext {
  return tls.createSecureContext({ ...listenerContextOptions(listener), key: material.keyPem, cert: material.certPem });
}
