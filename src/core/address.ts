// Mail addresses as the MTA compares them: one canonical form for envelope addresses (pure).
// RFC 5321 §4.1.2 (Path, Mailbox, Local-part), §3.6.1 (source routes are ignored).
import { domainToASCII } from 'node:url';

export interface Mailbox {
  /** Local part, unquoted, case preserved (RFC 5321 §2.4: only the receiving host may fold it). */
  local: string;
  /** Domain in ASCII (A-label) form, lowercase, no trailing dot; or an address literal "[…]". */
  domain: string;
}

/**
 * A domain in the form we compare: IDNA A-labels, lowercase. Returns '' for a name that is not
 * a valid domain (empty labels, a trailing dot, characters IDNA refuses), so that such a name
 * never matches one of ours.
 */
export function canonicalDomain(name: string): string {
  if (name.startsWith('[') && name.endsWith(']')) return name.toLowerCase();
  if (name === '' || name.endsWith('.') || name.includes('..')) return '';
  const ascii = domainToASCII(name);
  if (ascii === '' || !/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(ascii)) return '';
  return ascii;
}

/**
 * Parses an envelope address as smtp-server hands it over (angle brackets removed).
 * Source routes ("@a,@b:user@domain") are dropped as RFC 5321 §3.6.1 asks; a quoted local part
 * is unquoted, so `"bob@other"@example.test` has the local part `bob@other` at example.test and
 * is never mistaken for a mailbox at "other".
 */
export function parseMailbox(address: string): Mailbox | undefined {
  let text = address.trim();
  const route = /^@[^:]*:/.exec(text);
  if (route) text = text.slice(route[0].length);
  let local: string;
  let rest: string;
  if (text.startsWith('"')) {
    const end = closingQuote(text);
    if (end < 0 || text[end + 1] !== '@') return undefined;
    local = text.slice(1, end).replace(/\\(.)/g, '$1');
    rest = text.slice(end + 2);
  } else {
    const at = text.lastIndexOf('@');
    if (at <= 0) return undefined;
    local = text.slice(0, at);
    rest = text.slice(at + 1);
    if (local.includes('"') || local.includes('@')) return undefined;
  }
  const domain = canonicalDomain(rest);
  if (domain === '' || local === '' || (/[\s<>()\\,;]/.test(local.replace(/\\./g, '')) && !text.startsWith('"'))) return undefined;
  return { local, domain };
}

export function formatMailbox(m: Mailbox): string {
  const plain = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/.test(m.local) && !m.local.startsWith('.') && !m.local.endsWith('.') && !m.local.includes('..');
  // Non-ASCII local parts (SMTPUTF8) are written as they are.
  const local = plain || /[^\x00-\x7f]/.test(m.local) ? m.local : `"${m.local.replace(/(["\\])/g, '\\$1')}"`;
  return `${local}@${m.domain}`;
}

function closingQuote(text: string): number {
  for (let i = 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return -1;
}
