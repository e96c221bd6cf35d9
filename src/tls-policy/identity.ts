// Does a server certificate name this host? RFC 6125 §6.4 matching (pure): DNS subjectAltNames,
// the CN only when there are none (§6.4.4), a wildcard only as the whole left-most label and
// matching exactly one label (§6.4.3). Also used for MTA-STS "mx" patterns (RFC 8461 §4.1).

export interface CertNames {
  dnsNames: string[];
  commonName?: string;
}

/** Reads Node's `subjectaltname` string ("DNS:a, DNS:b, IP Address:…", values maybe JSON-quoted). */
export function certNames(cert: { subjectaltname?: string; subject?: { CN?: string | string[] } }): CertNames {
  const dnsNames: string[] = [];
  const san = cert.subjectaltname ?? '';
  const entry = /([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/g;
  for (let m = entry.exec(san); m !== null && m[0] !== ''; m = entry.exec(san)) {
    const raw = m[2] ?? '';
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
    if (m[1] === 'DNS') dnsNames.push(value);
  }
  const cn = cert.subject?.CN;
  return { dnsNames, commonName: Array.isArray(cn) ? cn[cn.length - 1] : cn };
}

function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** RFC 6125 §6.4.3 with one-label wildcards only: "*.example.com" matches "a.example.com" only. */
export function nameMatches(pattern: string, host: string): boolean {
  const p = normalize(pattern);
  const h = normalize(host);
  if (p === '' || h === '') return false;
  if (!p.includes('*')) return p === h;
  // Only "*" as the entire left-most label, and not over a bare TLD ("*.com").
  if (!p.startsWith('*.') || p.indexOf('*', 1) !== -1 || p.split('.').length < 3) return false;
  const dot = h.indexOf('.');
  return dot > 0 && h.slice(dot) === p.slice(1);
}

/** undefined when the certificate names `host`; otherwise the reason, naming what it is valid for. */
export function checkCertName(host: string, names: CertNames): string | undefined {
  // RFC 6125 §6.4.4: the CN is a fallback only for certificates without DNS-ID.
  const presented = names.dnsNames.length > 0 ? names.dnsNames : names.commonName ? [names.commonName] : [];
  if (presented.some((p) => nameMatches(p, host))) return undefined;
  if (presented.length === 0) return `certificate has no DNS names, not valid for ${normalize(host)}`;
  return `certificate is valid for ${presented.join(', ')}, not ${normalize(host)}`;
}
