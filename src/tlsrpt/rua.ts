// The `_smtp._tls.<domain>` TXT record (RFC 8460 §3), pure: where a domain wants its TLS reports
// (`rua=` mailto: and https: URIs). Looking it up is the caller's (tlsrpt/service.ts).

export type ReportDestination = { kind: 'mailto'; uri: string; address: string } | { kind: 'https'; uri: string; url: URL };

export type TlsrptRecord = { ok: true; destinations: ReportDestination[]; ignored: string[] } | { ok: false; error: string };

/** The name to look up (RFC 8460 §3). */
export function tlsrptName(domain: string): string {
  return `_smtp._tls.${domain}`;
}

/**
 * RFC 8460 §3: of the TXT records, those that do not begin with "v=TLSRPTv1" are discarded; unless
 * exactly one is left the domain does not take reports. `rua=` is a comma-separated list of
 * mailto: and https: URIs; other schemes are ignored (and said).
 */
export function parseTlsrptRecord(records: readonly string[]): TlsrptRecord {
  const ours = records.filter((r) => /^v=TLSRPTv1\s*(;|$)/.test(r));
  if (ours.length === 0) return { ok: false, error: 'no v=TLSRPTv1 record' };
  if (ours.length > 1) return { ok: false, error: 'more than one v=TLSRPTv1 record (RFC 8460 §3: treated as none)' };
  let rua: string | undefined;
  for (const field of (ours[0] ?? '').split(';').slice(1)) {
    const m = /^\s*([A-Za-z0-9_.-]+)\s*=\s*(.*?)\s*$/.exec(field);
    if (m?.[1] === 'rua') rua ??= m[2] ?? '';
  }
  if (rua === undefined || rua === '') return { ok: false, error: 'the record has no rua=' };
  const destinations: ReportDestination[] = [];
  const ignored: string[] = [];
  for (const uri of rua.split(/\s*,\s*/)) {
    const destination = parseDestination(uri);
    if (destination) destinations.push(destination);
    else ignored.push(uri);
  }
  if (destinations.length === 0) return { ok: false, error: `no usable rua URI (${ignored.join(', ')})` };
  return { ok: true, destinations, ignored };
}

function parseDestination(uri: string): ReportDestination | undefined {
  if (/^mailto:/i.test(uri)) {
    // RFC 6068: the address, percent-decoded; "?…" header fields are not for us.
    let address: string;
    try {
      address = decodeURIComponent(uri.slice('mailto:'.length).split('?')[0] ?? '');
    } catch {
      return undefined;
    }
    return /^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(address) ? { kind: 'mailto', uri, address } : undefined;
  }
  if (/^https:/i.test(uri)) {
    try {
      return { kind: 'https', uri, url: new URL(uri) };
    } catch {
      return undefined;
    }
  }
  return undefined;
}
