// The DNS records a Sealpost domain publishes (pure): MX, A/AAAA of the hostname, SPF, DKIM per
// selector, DMARC, CAA for the ACME CA, and the PTR the hosting provider must set for each IP.
// `sealpost init` prints them, `sealpost init --records` prints them again, `sealpost doctor`
// checks what DNS answers against the same values. Records of later features (MTA-STS, TLSRPT,
// TLSA) join RECORD_FAMILIES below. Rendering is in render.ts.
import net from 'node:net';
import { reverseName } from '../dns/names.ts';

export type RecordType = 'MX' | 'A' | 'AAAA' | 'TXT' | 'CAA' | 'PTR';

export interface DnsRecord {
  /** Owner name, without the trailing dot. */
  name: string;
  type: RecordType;
  /** The value as a DNS panel takes it: TXT without quotes, MX as "10 mx.example.org." */
  value: string;
  ttl: number;
  /** What it is for, one line. */
  purpose: string;
  /** "zone": your DNS zone; "provider": the reverse zone, set at your hosting provider. */
  where: 'zone' | 'provider';
}

export interface RecordInputs {
  hostname: string;
  domains: readonly string[];
  /** Our public addresses (IPv4 and IPv6). */
  addresses: readonly string[];
  /** One per configured DKIM key: its TXT value (src/dkim/keys.ts dkimRecord). */
  dkim: readonly { domain: string; selector: string; record: string }[];
  acme: { enabled: boolean; directory: string; accountUrl?: string };
  /** The mailbox address DMARC aggregate reports go to, per domain. */
  dmarcRua: (domain: string) => string;
}

const TTL = 3600;

/** RFC 7208 §5: "mx" authorizes our MX hosts; our addresses are listed too, so mail sent from an address that is not the MX passes. */
export function spfRecord(addresses: readonly string[]): string {
  const ips = addresses.map((ip) => (net.isIPv6(ip) ? `ip6:${ip}` : `ip4:${ip}`));
  return ['v=spf1', 'mx', ...ips, '-all'].join(' ');
}

/** RFC 7489 §6.3: start with p=none and aggregate reports; tighten once the reports are clean. */
export function dmarcRecord(rua: string, policy: 'none' | 'quarantine' | 'reject' = 'none'): string {
  return `v=DMARC1; p=${policy}; rua=mailto:${rua}; adkim=r; aspf=r`;
}

/** The CAA issuer domain of well-known ACME CAs (RFC 8659 §4.2); otherwise the directory's host. */
export function caaIssuer(directory: string): string {
  let host = '';
  try {
    host = new URL(directory).hostname.toLowerCase();
  } catch {
    return '';
  }
  const known: [RegExp, string][] = [
    [/(^|\.)letsencrypt\.org$/, 'letsencrypt.org'],
    [/(^|\.)zerossl\.com$/, 'sectigo.com'],
    [/(^|\.)buypass\.(com|no)$/, 'buypass.com'],
    [/(^|\.)pki\.goog$/, 'pki.goog'],
    [/(^|\.)ssl\.com$/, 'ssl.com'],
  ];
  return known.find(([re]) => re.test(host))?.[1] ?? host;
}

/** RFC 8657 §3: accounturi binds issuance to our ACME account once it exists. */
export function caaValue(directory: string, accountUrl?: string): string {
  const issuer = caaIssuer(directory);
  return `0 issue "${issuer}${accountUrl ? `; accounturi=${accountUrl}` : ''}"`;
}

type Family = (i: RecordInputs) => DnsRecord[];

const mx: Family = (i) => i.domains.map((d) => rec(d, 'MX', `10 ${i.hostname}.`, `mail for ${d} goes to ${i.hostname}`));
const host: Family = (i) =>
  i.addresses.map((ip) => rec(i.hostname, net.isIPv6(ip) ? 'AAAA' : 'A', ip, `${i.hostname} is this server (forward DNS of the PTR)`));
const spf: Family = (i) => i.domains.map((d) => rec(d, 'TXT', spfRecord(i.addresses), `SPF (RFC 7208): only this server sends mail for ${d}`));
const dkim: Family = (i) =>
  i.dkim.map((k) => rec(`${k.selector}._domainkey.${k.domain}`, 'TXT', k.record, `DKIM key "${k.selector}" (RFC 6376) that signs ${k.domain}`));
const dmarc: Family = (i) =>
  i.domains.map((d) =>
    rec(`_dmarc.${d}`, 'TXT', dmarcRecord(i.dmarcRua(d)), `DMARC (RFC 7489), monitoring; later: ${dmarcRecord(i.dmarcRua(d), 'quarantine')}, then p=reject`),
  );
const caa: Family = (i) =>
  i.acme.enabled && caaIssuer(i.acme.directory) !== ''
    ? [
        rec(
          i.hostname,
          'CAA',
          caaValue(i.acme.directory, i.acme.accountUrl),
          `only your ACME CA may issue for ${i.hostname}${i.acme.accountUrl ? ', for your account' : ' (accounturi is added once the ACME account exists)'}`,
        ),
      ]
    : [];
const ptr: Family = (i) =>
  i.addresses.map((ip) => ({
    ...rec(reverseName(ip), 'PTR', `${i.hostname}.`, `reverse DNS of ${ip}: set it at your hosting provider`),
    where: 'provider' as const,
  }));

/** Each family of records, in the order they are printed. MTA-STS, TLSRPT and TLSA join here when those features land. */
export const RECORD_FAMILIES: readonly { id: string; records: Family }[] = [
  { id: 'mx', records: mx },
  { id: 'host', records: host },
  { id: 'spf', records: spf },
  { id: 'dkim', records: dkim },
  { id: 'dmarc', records: dmarc },
  { id: 'caa', records: caa },
  { id: 'ptr', records: ptr },
];

export function mailRecords(inputs: RecordInputs): DnsRecord[] {
  return RECORD_FAMILIES.flatMap((f) => f.records(inputs));
}

function rec(name: string, type: RecordType, value: string, purpose: string): DnsRecord {
  return { name, type, value, ttl: TTL, purpose, where: 'zone' };
}
