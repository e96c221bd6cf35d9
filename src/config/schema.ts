// The config's types and its validation: raw TOML table → frozen Config, or every problem with
// its key path and what would fix it. Pure: paths are resolved against a base directory given in.
import path from 'node:path';
import { canonicalDomain } from '../core/address.ts';
import { type DoctorConfig, readDoctor } from './doctor.ts';
import { type Problem, Reader, type Table, parseHostPort } from './fields.ts';
import { addresses, parseCidr, readAcme, readAuth, readDomains, readOutbound, readQueue } from './sections.ts';

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
}

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
  };
  tls: { minVersion: TlsVersion; certFile: string; keyFile: string };
  /** Lowest TLS version per submission listener (default tls.min_version). */
  submission: { minVersion: TlsVersion };
  submissions: { minVersion: TlsVersion };
  auth: AuthConfig;
  /** Domains that sign outgoing mail; [] = no DKIM. */
  dkim: readonly DkimDomain[];
  dns: { servers: readonly string[]; timeoutMs: number };
  domains: readonly DomainConfig[];
  relay: { networks: readonly Cidr[] };
  limits: {
    messageSize: number;
    recipients: number;
    connections: number;
    connectionsPerIp: number;
    commandTimeoutSeconds: number;
    errors: number;
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
  };
  shutdown: { graceSeconds: number };
  acme: AcmeConfig;
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' };
  outbound: OutboundConfig;
  queue: QueueConfig;
  /** [doctor]: our public addresses, blocklists, the port-25 probe (`sealpost doctor`). */
  doctor: DoctorConfig;
}

/** Postfix's TLS security levels for outbound SMTP (smtp_tls_security_level). */
export type TlsLevel = 'none' | 'may' | 'encrypt' | 'verify';
export const TLS_LEVELS: readonly TlsLevel[] = ['none', 'may', 'encrypt', 'verify'];

/** [outbound]: delivery to remote MX hosts. */
export interface OutboundConfig {
  /** Port of the remote MX hosts (25; other values are for tests). */
  port: number;
  tlsDefault: TlsLevel;
  /** Keys: "example.org" (that domain only) or ".example.net" (its subdomains); ASCII, lowercase. */
  tlsPolicy: Readonly<Record<string, TlsLevel>>;
  /** Absolute path of extra trusted CAs (PEM) on top of Node's store, or ''. */
  caFile: string;
  /** Fetch and apply MTA-STS policies (RFC 8461). */
  mtaSts: boolean;
  ipv6: boolean;
  concurrency: number;
  concurrencyPerDestination: number;
  connectTimeoutSeconds: number;
  commandTimeoutSeconds: number;
  maxMxHosts: number;
}

/** [queue]: retry schedule and notices. */
export interface QueueConfig {
  minBackoffMs: number;
  maxBackoffMs: number;
  maxLifetimeMs: number;
  /** A "delayed" notice goes to the sender once a message has waited this long; 0 = never. */
  delayWarningMs: number;
}

export type Validated = { ok: true; config: Config } | { ok: false; problems: Problem[] };

const TOP_KEYS = ['hostname', 'data_dir', 'listen', 'tls', 'submission', 'submissions', 'auth', 'dns', 'domain', 'relay', 'limits', 'inbound', 'shutdown', 'acme', 'log', 'outbound', 'queue', 'doctor'] as const;

/** Validates a parsed TOML document. `baseDir` resolves relative paths (the config file's folder). */
export function validateConfig(raw: Table, baseDir: string): Validated {
  const r = new Reader();
  r.unknownKeys(raw, '', TOP_KEYS);

  const hostname = canonicalDomain(r.string(raw, 'hostname', ''));
  if (raw['hostname'] !== undefined && (hostname === '' || !hostname.includes('.'))) {
    r.problem('hostname', 'must be a fully qualified host name such as "mx.example.org" (the name in EHLO and on the certificate)');
  }
  const dataDirRaw = r.string(raw, 'data_dir', '');
  if (raw['data_dir'] !== undefined && dataDirRaw === '') r.problem('data_dir', 'must name a directory, e.g. "/var/lib/sealpost"');

  const listenTable = r.table(raw, 'listen', '');
  r.unknownKeys(listenTable, 'listen', ['smtp', 'submission', 'submissions', 'acme_http']);
  const smtp = addresses(r, listenTable, 'smtp', 'listen', ['0.0.0.0:25', '[::]:25'], 25);
  // Off unless listed: without users, a submission port would only be something to attack.
  const submission = addresses(r, listenTable, 'submission', 'listen', [], 587);
  const submissions = addresses(r, listenTable, 'submissions', 'listen', [], 465);
  const acmeHttp = addresses(r, listenTable, 'acme_http', 'listen', ['0.0.0.0:80', '[::]:80'], 80);

  const tlsTable = r.table(raw, 'tls', '');
  r.unknownKeys(tlsTable, 'tls', ['min_version', 'cert_file', 'key_file']);
  const minVersion = r.oneOf(tlsTable, 'min_version', 'tls', TLS_VERSIONS, 'TLSv1.2');
  const certFile = r.string(tlsTable, 'cert_file', 'tls', '');
  const keyFile = r.string(tlsTable, 'key_file', 'tls', '');
  if ((certFile === '') !== (keyFile === '')) {
    r.problem(certFile ? 'tls.key_file' : 'tls.cert_file', 'cert_file and key_file go together: set both (a PEM chain and its key) or neither');
  }

  // A listener may admit older clients than [tls] does (an old phone on 587) or fewer.
  const listenerTls = (key: 'submission' | 'submissions') => {
    const t = r.table(raw, key, '');
    r.unknownKeys(t, key, ['min_version']);
    return { minVersion: r.oneOf(t, 'min_version', key, TLS_VERSIONS, minVersion) };
  };
  const submissionTls = listenerTls('submission');
  const submissionsTls = listenerTls('submissions');
  const auth = readAuth(r, r.table(raw, 'auth', ''));

  const dnsTable = r.table(raw, 'dns', '');
  r.unknownKeys(dnsTable, 'dns', ['servers', 'timeout_ms']);
  const servers = r.stringList(dnsTable, 'servers', 'dns', []);
  servers.forEach((s, i) => {
    const parsed = parseHostPort(s, 53);
    if (typeof parsed === 'string') r.problem(`dns.servers[${i}]`, parsed);
  });
  const timeoutMs = r.integer(dnsTable, 'timeout_ms', 'dns', 5000, 100, 60000);

  const dkim: DkimDomain[] = [];
  const domains = readDomains(r, raw['domain'], dkim);

  const relayTable = r.table(raw, 'relay', '');
  r.unknownKeys(relayTable, 'relay', ['networks']);
  const networks = r.stringList(relayTable, 'networks', 'relay', ['127.0.0.1/32', '::1/128']).flatMap((text, i) => {
    const cidr = parseCidr(text);
    if (typeof cidr === 'string') {
      r.problem(`relay.networks[${i}]`, cidr);
      return [];
    }
    return [cidr];
  });

  const limitsTable = r.table(raw, 'limits', '');
  const limitKeys = ['message_size', 'recipients', 'connections', 'connections_per_ip', 'command_timeout_s', 'errors'];
  r.unknownKeys(limitsTable, 'limits', limitKeys);
  const limits = {
    messageSize: r.integer(limitsTable, 'message_size', 'limits', 50 * 1024 * 1024, 1024, 2 ** 31),
    recipients: r.integer(limitsTable, 'recipients', 'limits', 1000, 1, 100000),
    connections: r.integer(limitsTable, 'connections', 'limits', 1000, 1, 100000),
    connectionsPerIp: r.integer(limitsTable, 'connections_per_ip', 'limits', 50, 1, 100000),
    commandTimeoutSeconds: r.integer(limitsTable, 'command_timeout_s', 'limits', 300, 1, 3600),
    errors: r.integer(limitsTable, 'errors', 'limits', 10, 1, 1000),
  };

  const inboundTable = r.table(raw, 'inbound', '');
  r.unknownKeys(inboundTable, 'inbound', ['greet_pause_ms', 'bare_newline', 'reverse_dns', 'min_free_mb', 'authentication_results', 'dmarc_reject']);
  const inbound = {
    greetPauseMs: r.integer(inboundTable, 'greet_pause_ms', 'inbound', 0, 0, 60000),
    bareNewline: r.oneOf(inboundTable, 'bare_newline', 'inbound', ['normalize', 'reject'] as const, 'normalize'),
    reverseDns: r.boolean(inboundTable, 'reverse_dns', 'inbound', true),
    minFreeMegabytes: r.integer(inboundTable, 'min_free_mb', 'inbound', 100, 0, 1024 * 1024),
    authenticationResults: r.boolean(inboundTable, 'authentication_results', 'inbound', true),
    dmarcReject: r.boolean(inboundTable, 'dmarc_reject', 'inbound', false),
  };
  if (inbound.dmarcReject && !inbound.authenticationResults) {
    r.problem('inbound.dmarc_reject', 'needs inbound.authentication_results = true: DMARC is only evaluated when the checks run');
  }

  const shutdownTable = r.table(raw, 'shutdown', '');
  r.unknownKeys(shutdownTable, 'shutdown', ['grace_s']);
  const shutdown = { graceSeconds: r.integer(shutdownTable, 'grace_s', 'shutdown', 30, 0, 3600) };

  const acme = readAcme(r, r.table(raw, 'acme', ''), hostname, acmeHttp.length, baseDir);

  const logTable = r.table(raw, 'log', '');
  r.unknownKeys(logTable, 'log', ['level']);
  const level = r.oneOf(logTable, 'level', 'log', ['trace', 'debug', 'info', 'warn', 'error'] as const, 'info');

  const outbound = readOutbound(r, r.table(raw, 'outbound', ''), baseDir);
  const queue = readQueue(r, r.table(raw, 'queue', ''));
  const doctor = readDoctor(r, r.table(raw, 'doctor', ''));

  if (r.problems.length > 0) return { ok: false, problems: r.problems };
  const config: Config = {
    hostname,
    dataDir: path.resolve(baseDir, dataDirRaw),
    listen: { smtp, submission, submissions, acmeHttp },
    tls: {
      minVersion,
      certFile: certFile && path.resolve(baseDir, certFile),
      keyFile: keyFile && path.resolve(baseDir, keyFile),
    },
    submission: submissionTls,
    submissions: submissionsTls,
    auth,
    dkim,
    dns: { servers, timeoutMs },
    domains,
    relay: { networks },
    limits,
    inbound,
    shutdown,
    acme,
    log: { level },
    outbound,
    queue,
    doctor,
  };
  return { ok: true, config: deepFreeze(config) };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
