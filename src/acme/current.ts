// Admitting a certificate (from the cache or fresh from the CA): parse and lint it once for our
// names (inspect), then swap that parsed value into the cert store and describe it (admit); the
// store does not parse it again. A reason in words when it is refused; the store then keeps what
// it serves. Side effects: store.set only.
import { type CertMaterial, lintParsed, type ParsedMaterial, parseMaterial } from '../tls/material.ts';
import type { CertStore } from '../tls/store.ts';
import { ariCertId } from './ari.ts';
import type { CachedCert } from './cache.ts';

/** The ACME certificate in force. */
export interface Current {
  entry: CachedCert;
  serial: string;
  issuer: string;
  notBefore: number;
  notAfter: number;
  fingerprint: string;
  /** RFC 9773 §4.1 id, when the leaf has an Authority Key Identifier. */
  ariId?: string;
}

export type Origin = 'cache' | 'issued';

/** Parses `material` and lints it for `names` at `now`: the parsed value, or why it is refused. */
export function inspect(material: CertMaterial, options: { names: readonly string[]; now: number; origin: Origin }): ParsedMaterial | string {
  const result = parseMaterial({ certPem: material.certPem, keyPem: material.keyPem });
  const errors = result.ok
    ? lintParsed(result.parsed, options)
        .filter((p) => p.level === 'error')
        .map((p) => p.text)
    : [result.reason];
  if (errors.length === 0 && result.ok) return result.parsed;
  // Lint before the cache write and the swap: a bad issuance never replaces a good certificate.
  const what = options.origin === 'cache' ? `cached certificate for ${options.names.join(', ')} refused` : 'the CA issued a certificate that fails the check';
  return `${what}: ${errors.join('; ')}`;
}

/** Swaps `parsed` (inspect's answer for `entry`) into the store, if any, and describes it. */
export function admit(
  entry: CachedCert,
  parsed: ParsedMaterial,
  options: { names: readonly string[]; origin: Origin; store?: Pick<CertStore, 'set'> },
): Current | string {
  if (options.store) {
    const swap = options.store.set('acme', [parsed]);
    if (!swap.ok)
      return `${options.origin === 'cache' ? 'cached' : 'issued'} certificate for ${options.names.join(', ')} refused by the certificate store: ${swap.reason}`;
  }
  const leaf = parsed.chain[0];
  const ariId = leaf ? ariCertId(leaf.raw) : undefined;
  return {
    entry,
    serial: leaf?.serialNumber ?? '',
    issuer: parsed.issuer,
    notBefore: parsed.notBefore,
    notAfter: parsed.notAfter,
    fingerprint: parsed.fingerprint,
    ...(ariId ? { ariId } : {}),
  };
}
