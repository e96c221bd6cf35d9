// Which sender addresses an authenticated user may use (pure): their own address and the aliases
// that point to it, in any of our domains (like Postfix's reject_sender_login_mismatch with the
// alias table as smtpd_sender_login_maps). Catch-all mailboxes own nothing extra.
import { parseMailbox } from '../core/address.ts';
import type { Directory } from '../routing/recipients.ts';
import { normalizeLogin } from './users.ts';

/** May `user` (a normalized login, "alice@example.org") send as `address`? */
export function senderAllowed(user: string, address: string, directory: Directory): boolean {
  const parsed = parseMailbox(address);
  if (!parsed) return false;
  if (normalizeLogin(address) === user) return true;
  const domain = directory.domains.get(parsed.domain);
  const alias = domain?.aliases[parsed.local.toLowerCase()];
  if (!domain || alias === undefined) return false;
  return aliasTarget(alias, domain.name) === user;
}

/** Every address `user` may send as: their own first, then the aliases, sorted. */
export function ownedAddresses(user: string, directory: Directory): string[] {
  const aliases: string[] = [];
  for (const domain of directory.domains.values()) {
    for (const [local, target] of Object.entries(domain.aliases)) {
      if (aliasTarget(target, domain.name) === user) aliases.push(`${local}@${domain.name}`);
    }
  }
  return [user, ...aliases.sort()];
}

/** An alias value as a full lowercase address: "alice" is alice@<its domain>. */
function aliasTarget(alias: string, domainName: string): string | undefined {
  return normalizeLogin(alias.includes('@') ? alias : `${alias}@${domainName}`);
}
