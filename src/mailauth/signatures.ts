// Which DKIM-Signature fields of an inbound message are verified (pure). Every signature costs a
// DNS TXT lookup of its key, so a message with thousands of them would make us query thousands of
// names: RFC 6376 §6.1 lets a verifier limit the signatures it tries ("in order to avoid
// denial-of-service attacks"), and mail providers check a handful. mailauth (7.1) has no such
// option, so the message the checks see keeps only the chosen fields; the stored message is not
// changed. The chosen: those whose d= is the From: domain, then those related to it (one a
// subdomain of the other, as relaxed alignment would likely have it, RFC 7489 §3.1.1; this only
// orders, mailauth's DMARC decides alignment), then the others from the top (the newest first).
// The rest get no lookup and do not appear in Authentication-Results (RFC 8601 §2.7.1 reports
// signatures that were evaluated). A kept signature whose h= covers a dropped DKIM-Signature
// field no longer verifies; a signer that signs a stack of more than MAX signatures loses that.
//
//   chooseSignatures(domains, fromDomains, max) → indexes to keep
//   limitSignatures(message, max) → { message, dropped }
//   readBody(message) → does any check hash the body (a DKIM or ARC message signature)?

import { headerBlock } from '../message/body.ts';
import { type HeaderField, headerFields, withoutFields } from '../message/header-fields.ts';

/** Signatures verified per message at most. */
export const MAX_DKIM_SIGNATURES = 5;

/**
 * Indexes (into `domains`, each a signature's d= or undefined) of the signatures to verify, in
 * their original order: aligned with a From: domain first, then related, then the rest. Pure.
 */
export function chooseSignatures(domains: readonly (string | undefined)[], fromDomains: readonly string[], max: number): number[] {
  const rank = (domain: string | undefined): number => {
    if (domain === undefined) return 2;
    if (fromDomains.includes(domain)) return 0;
    return fromDomains.some((from) => from.endsWith(`.${domain}`) || domain.endsWith(`.${from}`)) ? 1 : 2;
  };
  return domains
    .map((domain, index) => ({ index, rank: rank(domain) }))
    .sort((a, b) => a.rank - b.rank || a.index - b.index)
    .slice(0, Math.max(0, max))
    .map((entry) => entry.index)
    .sort((a, b) => a - b);
}

/** The message with at most `max` DKIM-Signature fields (the rest cut out), and how many were cut. */
export function limitSignatures(message: Buffer, max: number): { message: Buffer; dropped: number } {
  const block = headerBlock(message);
  const fields = headerFields(block.toString('latin1'));
  const signatures = fields.filter((field) => field.name === 'dkim-signature');
  if (signatures.length <= max) return { message, dropped: 0 };
  const from = fields.filter((field) => field.name === 'from').flatMap((field) => addressDomains(field.value));
  const keep = new Set(chooseSignatures(signatures.map(signingDomain), from, max));
  return {
    message: withoutFields(
      message,
      signatures.filter((_, index) => !keep.has(index)),
    ),
    dropped: signatures.length - keep.size,
  };
}

/** The d= tag of a DKIM-Signature value (RFC 6376 §3.5), lower case. */
export function signingDomain(field: HeaderField): string | undefined {
  const value = field.value.replace(/\r?\n[ \t]+/g, ' ');
  const domain = /(?:^|;)[ \t]*d[ \t]*=[ \t]*([^;\s]+)/i.exec(value)?.[1];
  return domain?.toLowerCase().replace(/\.$/, '');
}

/** The domains of the addresses in a From: value, lower case (good enough to order by). */
function addressDomains(value: string): string[] {
  return [...value.matchAll(/@([a-z0-9-]+(?:\.[a-z0-9-]+)+)/gi)].map((m) => (m[1] ?? '').toLowerCase());
}

/**
 * Whether a check reads the body: only the hash of a DKIM signature (RFC 6376 §3.7) or of an ARC
 * message signature (RFC 8617 §4.1.2) covers it. Without either, the checks get the header block
 * alone and a large message costs what a small one does.
 */
export function readBody(message: Buffer): boolean {
  return headerFields(headerBlock(message).toString('latin1')).some((field) => field.name === 'dkim-signature' || field.name === 'arc-message-signature');
}
