// A hop's DANE facts (outbound/hop.ts DaneFacts, as the attempts row keeps them) in words for
// `sealpost queue show` (pure): what was matched, or why the mail waits, and what it means.
export interface DaneFactsLike {
  tlsa: number;
  usable: number;
  matched: string | null;
  error: string | null;
}

export function explainDane(d: DaneFactsLike, result: string): string {
  if (d.matched) return `authenticated by DANE: the certificate the MX host sent matches its TLSA record ${d.matched}`;
  const error = d.error ?? 'no TLSA record matched';
  if (/^TLSA lookup failed/.test(error))
    return `${error}: the TLSA answer is bogus (bad DNSSEC signatures) or the DNS server failed; RFC 7672 §2.2: the mail waits, never sent in plaintext nor without DANE`;
  const mismatch = /^the TLSA records? (.*) match(?:es)? no certificate the server sent$/.exec(error);
  if (mismatch)
    return `the MX host's TLSA record${d.usable > 1 ? 's' : ''} ${mismatch[1]} match${d.usable > 1 ? '' : 'es'} no certificate it sent; its operator rotated the key (or certificate) without updating DNS; the mail waits until the records match (RFC 7672 §2.2: no plaintext, no unauthenticated TLS)`;
  if (d.tlsa > 0 && d.usable === 0) return `the MX host publishes only unusable TLSA records (${error})`;
  if (d.usable > 0) return `DANE authentication failed: ${error}${result === 'delivered' ? '' : '; the mail waits'}`;
  return `DANE not used: ${error}`;
}
