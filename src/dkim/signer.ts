// DKIM signing (RFC 6376 §5) of outgoing mail with mailauth: one DKIM-Signature per configured
// selector of the From: domain (RFC 8463 §6: RSA and Ed25519 side by side), relaxed/relaxed, so
// DMARC (RFC 7489 §3.1.1) finds an aligned signature. CPU work only; no I/O.
//
//   createDkimSigner(keys) → { domains, sign(message, domain) → SignOutcome }
//   createLiveDkimSigner(keys) → the same, plus swap(keys)
import type { DKIMSignOptions } from 'mailauth';
import { canonicalDomain } from '../core/address.ts';
import { bodyStream, isSpooled, type MessageBody } from '../core/body.ts';
import type { DkimKey } from './keys.ts';

export type SignOutcome =
  /** `headers`: the DKIM-Signature field(s), each ending in CRLF, to put in front of the message. */
  { kind: 'signed'; headers: string; domain: string; selectors: string[] } | { kind: 'unsigned'; reason: string };

export interface DkimSigner {
  /** The domains that have at least one key. */
  readonly domains: readonly string[];
  /**
   * Signs for `domain` (the From: domain) when it has keys. Rejects only if the library fails. A
   * spooled message is read as a stream, in chunks.
   */
  sign(message: MessageBody, domain: string): Promise<SignOutcome>;
}

export function createDkimSigner(keys: readonly DkimKey[]): DkimSigner {
  const byDomain = new Map<string, DkimKey[]>();
  for (const key of keys) byDomain.set(key.domain, [...(byDomain.get(key.domain) ?? []), key]);

  return {
    domains: [...byDomain.keys()],
    async sign(message, domain) {
      const name = canonicalDomain(domain);
      const domainKeys = byDomain.get(name);
      if (!domainKeys) return { kind: 'unsigned', reason: `no DKIM key for ${name || domain}` };
      const signatureData = domainKeys.map((k) => ({ signingDomain: k.domain, selector: k.selector, privateKey: k.privateKeyPem, algorithm: k.algorithm }));
      // mailauth signs with signatureData only; its .d.ts still marks the single-key fields required.
      const options = { canonicalization: 'relaxed/relaxed', signatureData } as DKIMSignOptions;
      // mailauth is loaded on the first signature: a daemon without DKIM keys never needs it here.
      const { dkimSign } = await import('mailauth');
      const result = await dkimSign(isSpooled(message) ? bodyStream(message) : message, options);
      const failed = result.errors[0];
      if (failed) throw new Error(`DKIM signing for ${name} (selector ${failed.selector ?? '?'}) failed: ${failed.err.message}`);
      return { kind: 'signed', headers: result.signatures, domain: name, selectors: domainKeys.map((k) => k.selector) };
    },
  };
}

/** A signer whose keys can be replaced while it runs (a key rotated on disk, or synced from another node). */
export interface LiveDkimSigner extends DkimSigner {
  swap(keys: readonly DkimKey[]): void;
}

export function createLiveDkimSigner(keys: readonly DkimKey[]): LiveDkimSigner {
  let current = createDkimSigner(keys);
  return {
    get domains() {
      return current.domains;
    },
    sign: (message, domain) => current.sign(message, domain),
    swap(next) {
      current = createDkimSigner(next);
    },
  };
}

/** The domain of the first From: address (the RFC 5322.From domain DMARC aligns with), or undefined. */
export function fromDomain(fromAddresses: readonly string[]): string | undefined {
  const first = fromAddresses[0];
  const at = first?.lastIndexOf('@') ?? -1;
  return first !== undefined && at > 0 ? canonicalDomain(first.slice(at + 1)) || undefined : undefined;
}
