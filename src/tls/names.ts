// Host names against certificates (pure): RFC 6125 §6.4 matching and the SNI → entry choice.
//
//   normalizeHostname(name)      → lowercase A-label form, trailing dot dropped; '' if not a host name
//   normalizePattern(name)       → a certificate's DNS name in the same form; '' if unusable
//   certCovers(names, hostname)  → does a certificate naming `names` cover `hostname`?
//   pickEntry(servername, index) → exact name, then one-label wildcard, then the default
import net from 'node:net';
import { domainToASCII } from 'node:url';

const HOST = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/;

/** An address literal rather than a name: "192.0.2.1", "2001:db8::1", "[2001:db8::1]". */
export function isIpLiteral(name: string): boolean {
  const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  return net.isIP(bare) !== 0;
}

/**
 * A name as we compare it: trimmed, one trailing dot removed (RFC 6125 §6.4.1: "example.com."
 * and "example.com" are the same name), IDNA A-labels, lowercase (§6.4.1: case-insensitive).
 * U-labels arrive here too: smtp-server hands SNICallback a punycode-decoded name.
 * Returns '' for an empty name, an IP literal or anything that is not a host name.
 */
export function normalizeHostname(name: string): string {
  const text = name.trim().replace(/\.$/, '');
  if (text === '' || isIpLiteral(text)) return '';
  const ascii = domainToASCII(text);
  return HOST.test(ascii) ? ascii : '';
}

/**
 * A DNS name from a certificate, normalized like a host name. A wildcard is kept only in the
 * one form RFC 9525 §6.3 (which updates RFC 6125 §6.4.3) allows: "*" as the whole left-most
 * label, over at least two more labels ("*.example.test"; never "*.test", "f*.example.test" or
 * "a.*.example.test"). Returns '' for anything else.
 */
export function normalizePattern(name: string): string {
  const text = name.trim().toLowerCase().replace(/\.$/, '');
  if (text.startsWith('*.')) {
    const base = normalizeHostname(text.slice(2));
    return base.includes('.') ? `*.${base}` : '';
  }
  return normalizeHostname(text);
}

/** RFC 6125 §6.4.3: one certificate name against one host name (both raw; normalized here). */
export function nameMatches(pattern: string, hostname: string): boolean {
  const p = normalizePattern(pattern);
  const h = normalizeHostname(hostname);
  if (p === '' || h === '') return false;
  if (p === h) return true;
  if (!p.startsWith('*.')) return false;
  // The wildcard stands for exactly one non-empty label: "*.example.test" covers
  // "a.example.test", never "a.b.example.test" nor "example.test" itself.
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot + 1) === p.slice(2);
}

/** Does a certificate that names `names` (its DNS subjectAltNames) cover `hostname`? */
export function certCovers(names: readonly string[], hostname: string): boolean {
  return names.some((pattern) => nameMatches(pattern, hostname));
}

/** What pickEntry needs: entries by normalized name (wildcards as "*.base") and a default. */
export interface NameIndex<E> {
  readonly byName: ReadonlyMap<string, E>;
  readonly default: E | undefined;
}

/**
 * The certificate to present for a ClientHello's server_name: the exact name, then the
 * one-label wildcard over it, then the default. No SNI, an IP literal (RFC 6066 §3 forbids
 * them, clients send them anyway) or an unknown name all get the default.
 */
export function pickEntry<E>(servername: string | undefined | null, index: NameIndex<E>): E | undefined {
  const name = normalizeHostname(servername ?? '');
  if (name === '') return index.default;
  const exact = index.byName.get(name);
  if (exact !== undefined) return exact;
  const dot = name.indexOf('.');
  const wildcard = dot > 0 ? index.byName.get(`*.${name.slice(dot + 1)}`) : undefined;
  return wildcard ?? index.default;
}
