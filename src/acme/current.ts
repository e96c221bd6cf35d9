// Admitting a certificate (from the cache or fresh from the CA): lint it for our names, swap it
// into the cert store, and describe it. A reason in words when it is refused; the store then
// keeps what it serves. Side effects: store.set only.
import { type CertMaterial, lintChain, parseMaterial } from '../tls/material.ts';
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

export function admit(entry: CachedCert, options: { names: readonly string[]; now: number; origin: 'cache' | 'issued'; store?: Pick<CertStore, 'set'> }): Current | string {
  const material: CertMaterial = { keyPem: entry.keyPem, certPem: entry.certPem };
  const errors = lintChain(material, { names: options.names, now: options.now }).filter((p) => p.level === 'error');
  const what = `${options.origin === 'cache' ? 'cached' : 'issued'} certificate for ${options.names.join(', ')}`;
  if (errors.length > 0) return `${what} refused: ${errors.map((p) => p.text).join('; ')}`;
  const parsed = parseMaterial(material);
  if (!parsed.ok) return `${what} refused: ${parsed.reason}`;
  if (options.store) {
    const swap = options.store.set('acme', [material]);
    if (!swap.ok) return `${what} refused by the certificate store: ${swap.reason}`;
  }
  const leaf = parsed.parsed.chain[0];
  const ariId = leaf ? ariCertId(leaf.raw) : undefined;
  return {
    entry,
    serial: leaf?.serialNumber ?? '',
    issuer: parsed.parsed.issuer,
    notBefore: parsed.parsed.notBefore,
    notAfter: parsed.parsed.notAfter,
    fingerprint: parsed.parsed.fingerprint,
    ...(ariId ? { ariId } : {}),
  };
}
