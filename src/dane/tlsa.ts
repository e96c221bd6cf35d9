// TLSA records against the certificate chain a server sent (pure): which records are usable for
// SMTP (RFC 7672 §3.1: DANE-TA(2) and DANE-EE(3) only; PKIX-TA(0)/PKIX-EE(1) are unusable), and
// whether one of them matches (RFC 6698 §2.1, RFC 7671 §5). DANE-EE ignores names and validity
// dates (RFC 7672 §3.2.1); DANE-TA needs a chain from the leaf up to the matched certificate, a
// leaf within its validity and a name that is one of the reference identifiers (RFC 7672 §3.2.2),
// checked with the one RFC 6125 matcher (tls/names.ts).
import { createHash, X509Certificate } from 'node:crypto';
import type { TlsaRecord } from '../dns/resolver.ts';
import { certNames, checkCertName } from '../tls/names.ts';

/** "3 1 1": usage, selector, matching type, as operators write them. */
export function tlsaParams(r: TlsaRecord): string {
  return `${r.usage} ${r.selector} ${r.matchingType}`;
}

/** "3 1 1 <hex>": a record as in a zone file. */
export function tlsaText(r: TlsaRecord): string {
  return `${tlsaParams(r)} ${r.data}`;
}

/** Why a record cannot be used for SMTP, or undefined when it can. */
export function unusableReason(r: TlsaRecord): string | undefined {
  // RFC 7672 §3.1.3: PKIX-TA(0) and PKIX-EE(1) are not for SMTP; clients treat them as unusable.
  if (r.usage === 0 || r.usage === 1) return `usage ${r.usage} (PKIX-${r.usage === 0 ? 'TA' : 'EE'}) is not used for SMTP (RFC 7672 §3.1.3)`;
  if (r.usage !== 2 && r.usage !== 3) return `unknown usage ${r.usage}`;
  if (r.selector !== 0 && r.selector !== 1) return `unknown selector ${r.selector}`;
  if (r.matchingType !== 0 && r.matchingType !== 1 && r.matchingType !== 2) return `unknown matching type ${r.matchingType}`;
  // RFC 6698 §2.1.4: a digest of the wrong length cannot match anything.
  const want = r.matchingType === 1 ? 64 : r.matchingType === 2 ? 128 : 0;
  if (want > 0 && r.data.length !== want) return `digest of ${r.data.length / 2} bytes for matching type ${r.matchingType}`;
  if (r.data.length === 0) return 'empty association data';
  return undefined;
}

export function usableRecords(records: readonly TlsaRecord[]): TlsaRecord[] {
  return records.filter((r) => unusableReason(r) === undefined);
}

/** The bytes a record's selector picks (RFC 6698 §2.1.2): the whole certificate or its SubjectPublicKeyInfo. */
function selected(cert: X509Certificate, selector: number): Buffer {
  if (selector === 0) return cert.raw;
  return cert.publicKey.export({ type: 'spki', format: 'der' });
}

/** The association data of `cert` for a record's selector and matching type, lowercase hex. */
export function associationData(cert: X509Certificate, selector: number, matchingType: number): string {
  const bytes = selected(cert, selector);
  if (matchingType === 1) return createHash('sha256').update(bytes).digest('hex');
  if (matchingType === 2) return createHash('sha512').update(bytes).digest('hex');
  return bytes.toString('hex');
}

function matchesCert(r: TlsaRecord, cert: X509Certificate): boolean {
  return associationData(cert, r.selector, r.matchingType) === r.data.toLowerCase();
}

export interface DaneMatchInput {
  /** The served chain, leaf first, DER. */
  chain: readonly Buffer[];
  /** RFC 7672 §3.2.2 reference identifiers for DANE-TA: the TLSA base name, the MX host name (and the destination domain). */
  names: readonly string[];
  now: number;
}

export type DaneMatch = { matched: TlsaRecord } | { matched: null; error: string };

/** The first usable record the chain satisfies (DANE-EE before DANE-TA), or why none does. */
export function matchTlsa(records: readonly TlsaRecord[], input: DaneMatchInput): DaneMatch {
  const usable = usableRecords(records);
  if (usable.length === 0) return { matched: null, error: 'no usable TLSA record' };
  let certs: X509Certificate[];
  try {
    certs = input.chain.map((der) => new X509Certificate(der));
  } catch (e) {
    return { matched: null, error: `the server sent a certificate that cannot be parsed: ${(e as Error).message}` };
  }
  const leaf = certs[0];
  if (leaf === undefined) return { matched: null, error: 'the server sent no certificate' };
  // RFC 7672 §3.2.1: DANE-EE(3) binds the key or certificate; names and dates do not matter.
  const ee = usable.find((r) => r.usage === 3 && matchesCert(r, leaf));
  if (ee) return { matched: ee };
  const problems: string[] = [];
  for (const r of usable.filter((x) => x.usage === 2)) {
    // RFC 7672 §3.2.2: the trust anchor must be in the chain the server sent (RFC 7671 §5.2.2).
    const at = certs.findIndex((c, i) => i > 0 && matchesCert(r, c));
    if (at < 0) continue;
    const chainError = chainUpTo(certs, at, input.now);
    if (chainError) {
      problems.push(`${tlsaParams(r)} matches ${subjectOf(certs[at])}, but ${chainError}`);
      continue;
    }
    const nameError = firstNameError(leaf, input.names);
    if (nameError) {
      problems.push(`${tlsaParams(r)} matches the issuer ${subjectOf(certs[at])}, but the ${nameError}`);
      continue;
    }
    return { matched: r };
  }
  if (problems.length > 0) return { matched: null, error: problems.join('; ') };
  const shown = usable.map(tlsaText).join(', ');
  return {
    matched: null,
    error: `the TLSA record${usable.length > 1 ? 's' : ''} ${shown} match${usable.length > 1 ? '' : 'es'} no certificate the server sent`,
  };
}

/** Each certificate from the leaf to certs[top] issued and signed by the next, the leaf within its dates. */
function chainUpTo(certs: readonly X509Certificate[], top: number, now: number): string | undefined {
  const leaf = certs[0] as X509Certificate;
  if (Date.parse(leaf.validTo) < now) return `the server's certificate expired on ${leaf.validTo}`;
  if (Date.parse(leaf.validFrom) > now) return `the server's certificate is not valid before ${leaf.validFrom}`;
  for (let i = 0; i < top; i++) {
    const child = certs[i] as X509Certificate;
    const parent = certs[i + 1] as X509Certificate;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) return `${subjectOf(child)} is not signed by ${subjectOf(parent)}`;
  }
  return undefined;
}

function firstNameError(leaf: X509Certificate, names: readonly string[]): string | undefined {
  const names_ = certNames(leaf);
  if (names.some((n) => checkCertName(n, names_) === undefined)) return undefined;
  return checkCertName(names[0] ?? '', names_);
}

function subjectOf(cert: X509Certificate | undefined): string {
  const cn = /CN=([^\n]*)/.exec(cert?.subject ?? '')?.[1];
  return cn ? `"${cn}"` : 'a certificate';
}
