// Recipient policy (pure): is this RCPT ours, whose mailbox is it, and may this client relay?
// Every address trick (percent hack, source routes, bang paths, quoted "@", trailing dots, case,
// IDN forms) ends as an unknown local user or a relay attempt, never as an open relay.
import { type Mailbox, canonicalDomain, formatMailbox, parseMailbox } from '../core/address.ts';
import type { DomainConfig } from '../config/schema.ts';

export type RecipientDecision =
  | { kind: 'local'; mailbox: string }
  | { kind: 'remote'; address: string }
  | { kind: 'reject'; code: number; enhanced: string; text: string };

export interface Directory {
  readonly domains: ReadonlyMap<string, DomainConfig>;
}

export function buildDirectory(domains: readonly DomainConfig[]): Directory {
  return { domains: new Map(domains.map((d) => [d.name, d])) };
}

export function isLocalDomain(directory: Directory, domain: string): boolean {
  return directory.domains.has(canonicalDomain(domain));
}

/**
 * `relayAllowed`: the client may send to other domains (trusted network, or authenticated).
 * RFC 5321 §4.5.3.1.10 recommends 452 for too many recipients; the caller counts.
 */
export function decideRecipient(address: string, directory: Directory, relayAllowed: boolean): RecipientDecision {
  const parsed = parseMailbox(address);
  if (!parsed) return { kind: 'reject', code: 501, enhanced: '5.1.3', text: `Bad recipient address syntax: <${address}>` };
  const domain = directory.domains.get(parsed.domain);
  if (domain) return localRecipient(parsed, domain, address);
  if (relayAllowed && !parsed.domain.startsWith('[')) return { kind: 'remote', address: formatMailbox(parsed) };
  return { kind: 'reject', code: 554, enhanced: '5.7.1', text: `<${address}>: Relay access denied` };
}

function localRecipient(parsed: Mailbox, domain: DomainConfig, address: string): RecipientDecision {
  // RFC 5321 §2.4: local parts are case-sensitive in general; ours are not (like Postfix's default).
  const local = parsed.local.toLowerCase();
  const target = domain.mailboxes.includes(local) ? local : (domain.aliases[local] ?? (domain.catchAll || undefined));
  if (target === undefined) {
    return { kind: 'reject', code: 550, enhanced: '5.1.1', text: `<${address}>: Recipient address rejected: User unknown in local recipient table` };
  }
  return { kind: 'local', mailbox: `${target}@${domain.name}` };
}
