// The result of `sealpost tls-check`, as data: what `--json` prints (field names are a stable
// interface) and what render.ts turns into text. Types only.
import type { TlsLevel } from '../config/types.ts';
import type { PolicySource } from '../tls-policy/policy.ts';
import type { CertSummary } from './chain.ts';
import type { Finding } from './explain.ts';

export type { CertSummary } from './chain.ts';
export type { Finding, FindingKind } from './explain.ts';

/** One TLS handshake as a person reads it. */
export interface TlsView {
  version: string;
  cipher: string;
  /** The certificate presented. */
  leaf: CertSummary;
  /** Chain verified by OpenSSL against the trusted CAs and the leaf names the host. */
  verified: boolean;
}

/** What Sealpost would do with mail for this address under the destination's policy. */
export interface DeliveryVerdict {
  action: 'deliver' | 'defer' | 'retry-plaintext' | 'skip';
  /** How the message would travel when delivered. */
  transport: 'tls-verified' | 'tls-unverified' | 'plaintext' | null;
  text: string;
}

export interface AddressReport {
  ip: string;
  port: number;
  /** The conversation reached EHLO. */
  reachable: boolean;
  /** Why the conversation stopped early (connect, greeting, EHLO). */
  error?: string;
  banner?: string;
  /** EHLO keywords before TLS. */
  ehlo?: string[];
  starttls: boolean;
  /** EHLO keywords over TLS. */
  ehloAfterTls?: string[];
  /** The handshake with SNI = the MX name (none for an IP address target). */
  withSni?: TlsView;
  /** The handshake without SNI, as many senders (Postfix by default) make it. */
  withoutSni?: TlsView;
  /** The chain exactly as the server sent it with SNI, leaf first. */
  chain: CertSummary[];
  /** The trusted root that completes the chain, when this machine's store supplied it. */
  trustAnchor?: CertSummary;
  /** TLS offered, handshake done, chain and name verified, no error finding. */
  verified: boolean;
  /** The chain as sent against the host's usable TLSA records ("3 1 1" matched, or why none); absent without usable TLSA. */
  dane?: { matched: string | null; error?: string };
  findings: Finding[];
  delivery: DeliveryVerdict;
}

/** The TLSA records of an MX host (RFC 7672 §2.2), when DNSSEC validation works. */
export interface DaneReport {
  /** "_25._tcp.mx.example.org" (the TLSA base name: the end of a secure CNAME chain). */
  name: string;
  /** The MX, address and TLSA answers were all DNSSEC-secure; null when not looked up (DNSSEC off). */
  secure: boolean | null;
  /** Zone-file form: "3 1 1 <hex>", each with "unusable: why" when it is. */
  records: { record: string; usable: boolean; why?: string }[];
  /** What a DANE sender does with this host, in words. */
  text: string;
}

export interface MxReport {
  name: string;
  preference: number;
  /** No MX records: the domain itself is the mail host (RFC 5321 §5.1). */
  implicit: boolean;
  /** Why the host has no address, when it has none. */
  dnsError?: string;
  /** Allowed by the domain's MTA-STS policy; null without a policy. */
  mtaStsAllowed: boolean | null;
  /** Its TLSA records, DNSSEC-secure or not (domain targets). */
  dane?: DaneReport;
  addresses: AddressReport[];
  verified: boolean;
}

export interface StsReport {
  /** The _mta-sts TXT record's policy id, or null. */
  id: string | null;
  /** Why there is no usable record or policy. */
  error?: string;
  policy?: { mode: 'enforce' | 'testing' | 'none'; mx: string[]; maxAge: number };
}

export interface PolicyReport {
  level: TlsLevel;
  source: PolicySource;
  text: string;
}

export interface TlsCheckReport {
  target: string;
  /** domain: the MX hosts of a domain; host: one host (HOST:PORT or an address). */
  kind: 'domain' | 'host';
  port: number;
  /** The DNS server asked, or "system". */
  dns: string;
  checkedAt: string;
  /** Why no MX host could be listed (NXDOMAIN, null MX, DNS failure). */
  dnsError?: string;
  /** domain targets only; null when the domain has no MTA-STS record. */
  mtaSts: StsReport | null;
  policy: PolicyReport;
  mx: MxReport[];
  /** Every MX host verifies: the exit status is 0 exactly when this is true. */
  verified: boolean;
}
