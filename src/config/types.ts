// The config's types (no logic): the frozen Config that validation (schema.ts) produces and
// every module reads its slice of. Constants here are the values a key may take.
export type TlsVersion = 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
export const TLS_VERSIONS: readonly TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

export interface ListenAddress {
  host: string;
  port: number;
}

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

export interface DomainConfig {
  /** ASCII (A-label), lowercase. */
  name: string;
  /** Lowercase local parts. */
  mailboxes: readonly string[];
  /** Lowercase local part → a mailbox local part in the same domain, or a full address (forwarding). */
  aliases: Readonly<Record<string, string>>;
  /** Mailbox for unknown local parts, or '' for none. */
  catchAll: string;
  /** How its mailboxes receive mail ([[domain]] delivery); absent: maildir. */
  delivery?: LocalDelivery;
  /** The MTA-STS policy mode we host for it (RFC 8461 §5); 'none' (or absent): no policy hosted. */
  mtaSts?: MtaStsMode;
  /** [[domain]] tlsrpt_rua: where other domains send TLS reports about it (RFC 8460 §3); absent: none published. */
  tlsrptRua?: TlsRptRua;
}

/** The rua of our _smtp._tls record: a mailbox of ours (its mail is read as reports) or an address/URL elsewhere. */
export interface TlsRptRua {
  /** As published: "mailto:tlsrpt@example.org" or "https://…". */
  uri: string;
  /** The mailbox of ours it names (local part lowercase), whose mail is read as reports; '' when reports go elsewhere. */
  mailbox: string;
}

/** Where a domain's mail is delivered: our Maildirs, or an LMTP server (RFC 2033) such as Dovecot. */
export type LocalDelivery = { kind: 'maildir' } | { kind: 'lmtp'; socket: string } | { kind: 'lmtp'; host: string; port: number };

export type MtaStsMode = 'none' | 'testing' | 'enforce';
export const MTA_STS_MODES: readonly MtaStsMode[] = ['none', 'testing', 'enforce'];

/** [mta_sts]: the policies we host on listen.https (RFC 8461 §3.2). */
export interface MtaStsConfig {
  /** MX hosts allowed besides `hostname` (backup MX), canonical. */
  extraMx: readonly string[];
  /** The policy's max_age in seconds. */
  maxAgeSeconds: number;
}

/** How the CA validates our names: HTTP-01 on port 80 (RFC 8555 §8.3) or TLS-ALPN-01 on 443 (RFC 8737). */
export type AcmeChallenge = 'http-01' | 'tls-alpn-01';

export type AcmeKeyType = 'ecdsa-p256' | 'rsa-2048';

/** [acme]: certificates for `hostname` + `names` over HTTP-01 (RFC 8555 §8.3). */
export interface AcmeConfig {
  enabled: boolean;
  /** RFC 8555 directory URL (https). */
  directory: string;
  /** Account contact, '' for none. */
  email: string;
  /** Extra names besides `hostname`, canonical, deduplicated. */
  names: readonly string[];
  keyType: AcmeKeyType;
  /** Absolute path of an extra CA (PEM) to trust for the directory's HTTPS, or ''. */
  caFile: string;
  challenge: AcmeChallenge;
  /** Renewals keep the certificate's key (a 3 1 1 TLSA record stays valid); default true. */
  reuseKey: boolean;
  /** A staged key (`sealpost dane rollover`) is used by the first renewal this long after staging; default 2 days. */
  rolloverAfterMs: number;
}

/** [auth]: the brute-force guard of submission AUTH, per client address (IPv6: per /64). */
export interface AuthConfig {
  /** Failures before each further AUTH answer is delayed. */
  slowAfter: number;
  /** The first delay; it doubles with each further failure (at most 30 s). */
  delayMs: number;
  /** Failures after which AUTH is refused (421 4.7.0) … */
  maxFailures: number;
  /** … until this long after the last failure; older failures are forgotten. */
  lockoutSeconds: number;
  /** AUTH attempts from one address checked at once; more get 454 4.7.0. */
  maxConcurrent: number;
}

/** The DKIM keys to sign with: [[domain]] dkim_selectors, keys in <data_dir>/dkim/<domain>/<selector>.pem. */
export interface DkimDomain {
  domain: string;
  selectors: readonly string[];
}

export interface Config {
  hostname: string;
  dataDir: string;
  listen: {
    smtp: readonly ListenAddress[];
    /** Message submission with STARTTLS (RFC 6409, port 587); [] = off. */
    submission: readonly ListenAddress[];
    /** Message submission over implicit TLS (RFC 8314 §3.3, port 465); [] = off. */
    submissions: readonly ListenAddress[];
    acmeHttp: readonly ListenAddress[];
    /** HTTPS (port 443): the MTA-STS policies and TLS-ALPN-01; [] = off. */
    https: readonly ListenAddress[];
    /** The status page (HTTP on loopback, HTTPS elsewhere); [] = off. */
    statusHttp: readonly ListenAddress[];
    /** Prometheus's GET /metrics (src/metrics); [] = off. */
    metrics: readonly ListenAddress[];
  };
  tls: { minVersion: TlsVersion; certFile: string; keyFile: string };
  /** Lowest TLS version per submission listener (default tls.min_version). */
  submission: { minVersion: TlsVersion };
  submissions: { minVersion: TlsVersion };
  auth: AuthConfig;
  /** Domains that sign outgoing mail; [] = no DKIM. */
  dkim: readonly DkimDomain[];
  /** trustAd: believe the AD bit of a resolver not on loopback (dns/trust.ts). */
  dns: { servers: readonly string[]; timeoutMs: number; trustAd: boolean };
  domains: readonly DomainConfig[];
  /** allowWide: networks broader than /8 (IPv4) or /32 (IPv6), or more of them together, are meant (config/relay.ts). */
  relay: { networks: readonly Cidr[]; allowWide: boolean };
  limits: {
    messageSize: number;
    recipients: number;
    connections: number;
    /** Per IPv4 address or IPv6 /64. */
    connectionsPerIp: number;
    /** Per IPv4 /24 or IPv6 /48. */
    connectionsPerNet: number;
    commandTimeoutSeconds: number;
    /** The command timeout in stress mode (from 80 % of `connections`). */
    stressTimeoutSeconds: number;
    /** Bytes/s a DATA transfer must keep up. */
    dataMinRate: number;
    errors: number;
    /** Bytes of message bodies held in memory while they arrive, all sessions together. */
    memoryBytes: number;
    /** New connections per IPv4 address or IPv6 /64 in any 60 s on port 25 (relay.networks exempt); 0 = no limit. */
    connectionsPerMinutePerIp: number;
  };
  inbound: {
    greetPauseMs: number;
    bareNewline: 'normalize' | 'reject';
    reverseDns: boolean;
    minFreeMegabytes: number;
    /** Verify SPF, DKIM and DMARC of mail from other servers and add Authentication-Results. */
    authenticationResults: boolean;
    /** Refuse (550 5.7.1) mail that fails DMARC of a domain with p=reject. */
    dmarcReject: boolean;
    /** [inbound.dnsbl]: DNS blocklists looked up at connect on port 25. */
    dnsbl: DnsblConfig;
  };
  shutdown: { graceSeconds: number };
  /** [server] processes: SMTP session processes ("auto": one per CPU); 1 = the primary serves them itself. */
  server: { processes: number | 'auto' };
  acme: AcmeConfig;
  mtaSts: MtaStsConfig;
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' };
  outbound: OutboundConfig;
  queue: QueueConfig;
  /** [store]: where the queue lives (config/store.ts). */
  store: StoreConfig;
  local: LocalConfig;
  /** [doctor]: our public addresses, blocklists, the port-25 probe (`sealpost doctor`). */
  doctor: DoctorConfig;
  statusHttp: StatusHttpConfig;
  /** [tlsrpt]: the daily TLS reports (RFC 8460) we send to the domains we deliver to. */
  tlsrpt: TlsrptConfig;
  /** [inbound.rspamd] and [outbound.rspamd]: content checks by rspamd at end of DATA; null = off. */
  rspamd: RspamdConfig | null;
  /** [srs]: the envelope sender of mail forwarded to other domains (Sender Rewriting Scheme). */
  srs: SrsConfig;
  /** [arc]: an ARC set on forwarded mail (RFC 8617). */
  arc: ArcConfig;
}

export interface SrsConfig {
  /** The domain of our SRS addresses (ASCII, lowercase; '' with no domains configured). */
  domain: string;
  /** Absolute; one secret per line, the first signs (made 0600 at start when absent). */
  secretFile: string;
  /** An SRS0 address older than this is refused at RCPT (550 5.1.1). */
  maxAgeDays: number;
}

export interface ArcConfig {
  /** Seal mail from other servers that we forward, with the DKIM key of the [srs] domain. */
  enabled: boolean;
}

/** rspamd at end of DATA (its HTTP /checkv2 protocol). */
export interface RspamdConfig {
  /** Base URL of rspamd's normal worker, e.g. "http://127.0.0.1:11333". */
  url: string;
  timeoutMs: number;
  /** rspamd down, slow or broken: answer 451 (tempfail) or take the mail unchecked (accept). */
  fail: 'tempfail' | 'accept';
  /** Deliver mail rspamd tags (add header, rewrite subject) into the mailbox's .Junk/ folder. */
  junkFolder: boolean;
  /** Also scan mail from authenticated users and relay.networks ([outbound.rspamd] enabled). */
  outbound: boolean;
}

/** One DNSBL zone (RFC 5782 §2.1) with Postfix's postscreen_dnsbl_sites weight and reply filter. */
export interface DnsblZone {
  /** Lowercase, no trailing dot. */
  zone: string;
  /** Added to the client's score when the zone lists it (negative for an allowlist zone). */
  weight: number;
  /** The A answers that mean "listed", as inclusive ranges of IPv4 addresses (numbers). */
  codes: readonly { from: number; to: number }[];
}

/** [inbound.dnsbl]: a client whose score reaches `threshold` is refused after the greeting. */
export interface DnsblConfig {
  zones: readonly DnsblZone[];
  threshold: number;
  /** Clients never looked up. */
  allowNetworks: readonly Cidr[];
  /** Clients whose forward-confirmed reverse name (FCrDNS) is one of these domains or below one are never refused. */
  allowDomains: readonly string[];
}

/**
 * Postfix's TLS security levels for outbound SMTP (smtp_tls_security_level). dane: DANE (RFC 7672)
 * where the MX host has DNSSEC-secure TLSA records, else as "may"; dane-only: secure TLSA required.
 */
export type TlsLevel = 'none' | 'may' | 'encrypt' | 'verify' | 'dane' | 'dane-only';
export const TLS_LEVELS: readonly TlsLevel[] = ['none', 'may', 'encrypt', 'verify', 'dane', 'dane-only'];

/** The levels that ask for DANE (RFC 7672). */
export function isDaneLevel(level: TlsLevel): level is 'dane' | 'dane-only' {
  return level === 'dane' || level === 'dane-only';
}

/** Which address families outbound connections use ([outbound] address_family). */
export type AddressFamily = 'any' | 'ipv4' | 'ipv6';
export const ADDRESS_FAMILIES: readonly AddressFamily[] = ['any', 'ipv4', 'ipv6'];
/** Which family's addresses of a host are tried first when both are used ([outbound] prefer). */
export type PreferFamily = 'ipv6' | 'ipv4';
export const PREFER_FAMILIES: readonly PreferFamily[] = ['ipv6', 'ipv4'];

/** [outbound]: delivery to remote MX hosts. */
export interface OutboundConfig {
  /** Port of the remote MX hosts (25; other values are for tests). */
  port: number;
  /** Default "dane": DANE where the MX host publishes secure TLSA, else "may" (and "may" whenever DNSSEC validation does not work). */
  tlsDefault: TlsLevel;
  /** Keys: "example.org" (that domain only) or ".example.net" (its subdomains); ASCII, lowercase. */
  tlsPolicy: Readonly<Record<string, TlsLevel>>;
  /** Absolute path of extra trusted CAs (PEM) on top of Node's store, or ''. */
  caFile: string;
  /** Fetch and apply MTA-STS policies (RFC 8461). */
  mtaSts: boolean;
  /** IPv6 is used (addressFamily is not "ipv4"): AAAA lookups here and for MTA-STS and tls-check. */
  ipv6: boolean;
  /** address_family: "ipv4" or "ipv6" only, or both ("any"; default; also "ipv4" when ipv6 = false). */
  addressFamily?: AddressFamily;
  /** prefer: which family is tried first under "any" (default "ipv6"). */
  prefer?: PreferFamily;
  /** source_ipv4 / source_ipv6: the local address bound before connecting to an address of that family. */
  sourceIpv4?: string;
  sourceIpv6?: string;
  concurrency: number;
  concurrencyPerDestination: number;
  connectTimeoutSeconds: number;
  commandTimeoutSeconds: number;
  maxMxHosts: number;
  /** [outbound] relay: the smarthost for every remote domain no transport entry names; absent = MX delivery. */
  relay?: NextHop;
  /** [outbound.transport]: keys "example.org" (that domain) or ".example.net" (its subdomains), as tls_policy. */
  transports?: Readonly<Record<string, NextHop>>;
}

/** Credentials for a smarthost: the password stays in its file (mode 0600), read when AUTH is sent. */
export interface RelayAuth {
  username: string;
  /** Absolute path. */
  passwordFile: string;
}

/**
 * A transport's next hop, Postfix's "smtp:[host]:port": `smtps` is implicit TLS (RFC 8314 §3.3);
 * brackets (mxLookup false) send to the host itself, without them its MX records are used.
 */
export interface NextHop {
  protocol: 'smtp' | 'smtps';
  host: string;
  port: number;
  mxLookup: boolean;
  /** The TLS level; undefined = the destination's own policy (tls_policy, MTA-STS, tls_default). */
  tls?: TlsLevel;
  auth?: RelayAuth;
}

/**
 * The least inbound.min_free_mb can mean (MiB): room for the queue to go on once new mail stops,
 * i.e. one WAL checkpoint (SQLite's wal_autocheckpoint: 1000 pages of 4 KiB), outcomes and DSNs.
 * Lower values, 0 included, mean this: refusing them would turn an upgrade into a failed start.
 */
export const MIN_FREE_FLOOR_MB = 4;

/** [local]: delivery to our own mailboxes ([[domain]] delivery says where). */
export interface LocalConfig {
  /** Connections at once to one LMTP server; later messages wait for one (Dovecot's lmtp process_limit caps the other side). */
  lmtpConcurrency: number;
  /** Threads that write Maildirs at most (offload/writers.ts); "auto": half the CPUs, 1 to 8. */
  maildirThreads: number | 'auto';
}

/** [queue]: retry schedule and notices. */
export interface QueueConfig {
  minBackoffMs: number;
  maxBackoffMs: number;
  maxLifetimeMs: number;
  /** A "delayed" notice goes to the sender once a message has waited this long; 0 = never. */
  delayWarningMs: number;
  /** Delivery attempt records (`queue show`) older than this are deleted and their space given back. */
  attemptsRetentionMs: number;
}

/** [store]: the embedded SQLite database in data_dir, or one PostgreSQL database shared by several nodes. */
export type StoreConfig =
  | { kind: 'sqlite' }
  | {
      kind: 'postgres';
      /** postgres://USER@HOST:PORT/DATABASE, never with a password. */
      url: string;
      /** A file holding the password (absolute); absent: PGPASSFILE or ~/.pgpass. */
      passwordFile?: string;
      /** This node's name on its claims (`owner`); absent: the machine's host name. */
      node?: string;
      /** How long a claim stays this node's without a renewal; renewed every third of it. */
      leaseMs: number;
      /** Maildir delivery allowed anyway (one node alone); absent: every [[domain]] must deliver over LMTP. */
      allowLocalMaildir?: boolean;
    };

/** `warnings`: settings that work but should not be used; they never make a config invalid. */

/** [tlsrpt]: sending TLS reports (RFC 8460) once a UTC day to each destination that asks for them. */
export interface TlsrptConfig {
  enabled: boolean;
  /** The report's organization-name; undefined: our hostname (config/tlsrpt-sending.ts reportIdentity). */
  organization?: string;
  /** The report's contact-info; undefined: postmaster@ the first [[domain]]. */
  contact?: string;
}

/** [doctor]: what `sealpost doctor` checks against. */
export interface DoctorConfig {
  /** Public IPv4/IPv6 addresses of this server; [] = the machine's global addresses. */
  addresses: readonly string[];
  /** DNSBL zones our IPs are looked up in (RFC 5782 §2.1). */
  dnsbl: readonly string[];
  /** Domain blocklists (RFC 5782 §2.2) our domains are looked up in. */
  domainDnsbl: readonly string[];
  /** A domain whose MX the port-25 probe connects to, or "IP:PORT". */
  probeMx: string;
  /** Run the checks (without the port-25 probe) at start-up and log each error. */
  atStartup: boolean;
}

/** [status_http]: HTTP basic auth of the status page. */
export interface StatusHttpConfig {
  /** Absolute path of the "user:password" lines (mode 0600), or '' for no password (loopback only). */
  passwordFile: string;
}
