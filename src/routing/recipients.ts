// Recipient policy (pure): is this RCPT ours, whose mailbox is it, and may this client relay?
// Every address trick (percent hack, source routes, bang paths, quoted "@", trailing dots, case,
// IDN forms) ends as an unknown local user or a relay attempt, never as an open relay. A valid
// SRS address at our SRS domain (a bounce to mail we forwarded) goes to the sender it stands for.

import type { DomainConfig } from '../config/types.ts';
import { canonicalDomain, formatMailbox, type Mailbox, parseMailbox } from '../core/address.ts';
import type { SrsReverse } from '../srs/srs.ts';

export type RecipientDecision =
  | { kind: 'local'; mailbox: string }
  | { kind: 'remote'; address: string }
  | { kind: 'reject'; code: number; enhanced: string; text: string };

export interface Directory {
  readonly domains: ReadonlyMap<string, DomainConfig>;
  /** SRS addresses at `domain`: what a local part stands for (srs/srs.ts srsReverse with our secrets and clock). */
  readonly srs?: { readonly domain: string; reverse(local: string): SrsReverse };
}

export function buildDirectory(domains: readonly DomainConfig[], srs?: Directory['srs']): Directory {
  return { domains: new Map(domains.map((d) => [d.name, d])), ...(srs ? { srs } : {}) };
}

export function isLocalDomain(directory: Directory, domain: string): boolean {
  return directory.domains.has(canonicalDomain(domain));
}

/**
 * `relayAllowed`: the client may send to other domains (trusted network, or authenticated).
 * RFC 5321 §4.5.3.1.10 recommends 452 for too many recipients; the caller counts.
 */
export function decideRecipient(address: string, directory: Directory, relayAllowed: boolean): RecipientDecision {
  // RFC 5321 §4.1.1.3: "RCPT TO:<Postmaster>" without a domain must be accepted; it is the
  // postmaster of our first domain (Postfix appends $myorigin the same way).
  const first = directory.domains.keys().next().value;
  if (address.toLowerCase() === 'postmaster' && first !== undefined) return decideRecipient(`postmaster@${first}`, directory, relayAllowed);
  const parsed = parseMailbox(address);
  if (!parsed) return { kind: 'reject', code: 501, enhanced: '5.1.3', text: `Bad recipient address syntax: <${address}>` };
  if (directory.srs && parsed.domain === directory.srs.domain) {
    const srs = srsRecipient(parsed, directory, address);
    if (srs) return srs;
  }
  const domain = directory.domains.get(parsed.domain);
  if (domain) return localRecipient(parsed, domain, address, directory);
  if (relayAllowed && !parsed.domain.startsWith('[')) return { kind: 'remote', address: formatMailbox(parsed) };
  return { kind: 'reject', code: 554, enhanced: '5.7.1', text: `<${address}>: Relay access denied` };
}

/** A bounce to an SRS address: to the original sender if the hash and the age check (the bounce follows the forward back, as libsrs2 reverses it). */
function srsRecipient(parsed: Mailbox, directory: Directory, address: string): RecipientDecision | undefined {
  const reversed = directory.srs?.reverse(parsed.local);
  if (!reversed || reversed.kind === 'not-srs') return undefined;
  if (reversed.kind === 'invalid') {
    const why = reversed.reason === 'expired' ? 'expired SRS address' : 'invalid SRS address';
    return { kind: 'reject', code: 550, enhanced: '5.1.1', text: `<${address}>: Recipient address rejected: ${why}` };
  }
  const original = parseMailbox(reversed.address);
  if (!original || original.domain.startsWith('['))
    return { kind: 'reject', code: 550, enhanced: '5.1.1', text: `<${address}>: Recipient address rejected: invalid SRS address` };
  const domain = directory.domains.get(original.domain);
  if (domain) return localRecipient(original, domain, reversed.address, directory);
  return { kind: 'remote', address: formatMailbox(original) };
}

function localRecipient(parsed: Mailbox, domain: DomainConfig, address: string, directory: Directory): RecipientDecision {
  // RFC 5321 §2.4: local parts are case-sensitive in general; ours are not (like Postfix's default).
  const local = parsed.local.toLowerCase();
  const unknown: RecipientDecision = {
    kind: 'reject',
    code: 550,
    enhanced: '5.1.1',
    text: `<${address}>: Recipient address rejected: User unknown in local recipient table`,
  };
  if (domain.mailboxes.includes(local)) return { kind: 'local', mailbox: `${local}@${domain.name}` };
  const alias = domain.aliases[local];
  if (alias === undefined) return domain.catchAll ? { kind: 'local', mailbox: `${domain.catchAll}@${domain.name}` } : unknown;
  if (!alias.includes('@')) return { kind: 'local', mailbox: `${alias}@${domain.name}` };
  // A forwarding alias: to one of our mailboxes (one level, no alias chains) or out through the queue.
  const target = parseMailbox(alias);
  if (!target) return unknown;
  const targetDomain = directory.domains.get(target.domain);
  if (!targetDomain) return { kind: 'remote', address: alias };
  const mailbox = target.local.toLowerCase();
  return targetDomain.mailboxes.includes(mailbox) ? { kind: 'local', mailbox: `${mailbox}@${targetDomain.name}` } : unknown;
}
