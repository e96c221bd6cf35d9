// Host names against certificates (pure): the one RFC 6125 §6.4 matcher (tls/, tls-policy/,
// tlscheck/ and outbound/ all use it), the names a certificate presents, and the SNI → entry choice.
//
//   normalizeHostname(name)      → lowercase A-label form, trailing dot dropped; '' if not a host name
//   normalizePattern(name)       → a certificate's DNS name in the same form; '' if unusable
//   nameMatches(pattern, host)   → one certificate name against one host name (also MTA-STS mx patterns)
//   certNames(cert)              → { dnsNames, commonName } of an X509Certificate or a peer certificate
//   presentedNames(names)        → the names to match: the DNS SANs, the CN only without them
//   certCovers(names, hostname)  → does a certificate naming `names` cover `hostname`?
//   checkCertName(host, names)   → undefined when covered, else why (naming what it is valid for)
//   pickEntry(servername, index) → exact name, then one-label wildcard, then the default
import { X509Certificate } from 'node:crypto';
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
  const text = name.trim().toLowerCase(); // normalizeHostname drops the one trailing dot
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

/** The names a certificate presents, lowercase: DNS subjectAltNames as written, and the subject CN. */
export interface CertNames {
  dnsNames: string[];
  commonName?: string;
}

/** What certNames reads from Node's peer certificate object (tls.TLSSocket.getPeerCertificate()). */
export interface PeerCertificateNames {
  subjectaltname?: string;
  subject?: { CN?: string | string[] };
}

/**
 * The DNS subjectAltNames and the subject CN (the last one, when there are several) of a
 * certificate, from node:crypto's X509Certificate or from a TLS peer certificate. IP and other
 * SANs are not names. A SAN value Node had to quote is unquoted (and never matches).
 */
export function certNames(cert: X509Certificate | PeerCertificateNames): CertNames {
  const x509 = cert instanceof X509Certificate;
  const san = x509 ? cert.subjectAltName : cert.subjectaltname;
  const dnsNames = sanEntries(san)
    .filter((e) => e.type === 'DNS')
    .map((e) => e.value.toLowerCase());
  const cns = x509 ? [...cert.subject.matchAll(/^CN=(.*)$/gm)].map((m) => m[1] ?? '') : ([] as string[]).concat(cert.subject?.CN ?? []);
  const cn = cns[cns.length - 1];
  return { dnsNames, ...(cn ? { commonName: cn.toLowerCase() } : {}) };
}

/**
 * Node writes subjectAltName as "DNS:a.example, IP Address:192.0.2.1"; a value holding a comma,
 * quote or control character is written as a JSON string (CVE-2021-44532), so this tokenizes
 * rather than splits, and stops at anything it does not understand.
 */
function sanEntries(san: string | undefined): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  const entry = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/y;
  let match: RegExpExecArray | null;
  while (san && entry.lastIndex < san.length && (match = entry.exec(san)) !== null) {
    const raw = match[2] ?? '';
    let value = raw;
    if (raw.startsWith('"')) {
      try {
        value = JSON.parse(raw) as string;
      } catch {
        continue;
      }
    }
    out.push({ type: match[1] ?? '', value });
  }
  return out;
}

/**
 * The identifiers to match a host against: the DNS subjectAltNames; only when there are none,
 * the subject CN (RFC 6125 §6.4.4 allows this fallback; RFC 9525 clients no longer use it).
 */
export function presentedNames(names: CertNames): string[] {
  if (names.dnsNames.length > 0) return names.dnsNames;
  return names.commonName ? [names.commonName] : [];
}

/** undefined when the certificate names `host`; otherwise the reason, naming what it is valid for. */
export function checkCertName(host: string, names: CertNames): string | undefined {
  const presented = presentedNames(names);
  if (certCovers(presented, host)) return undefined;
  const shown = normalizeHostname(host) || host.trim().toLowerCase().replace(/\.$/, '');
  if (presented.length === 0) return `certificate has no DNS names, not valid for ${shown}`;
  return `certificate is valid for ${presented.join(', ')}, not ${shown}`;
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
