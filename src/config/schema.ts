// The config's types and its validation: raw TOML table → frozen Config, or every problem with
// its key path and what would fix it. Pure: paths are resolved against a base directory given in.
import net from 'node:net';
import path from 'node:path';
import { canonicalDomain, formatMailbox, parseMailbox } from '../core/address.ts';
import { type Problem, Reader, type Table, isTable, join, parseHostPort } from './fields.ts';

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

const TOP_KEYS = ['hostname', 'data_dir', 'listen', 'tls', 'submission', 'submissions', 'auth', 'dns', 'domain', 'relay', 'limits', 'inbound', 'shutdown', 'acme', 'log', 'outbound', 'queue'] as const;

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
  };
  return { ok: true, config: deepFreeze(config) };
}

function readOutbound(r: Reader, t: Table, baseDir: string): OutboundConfig {
  const known = ['port', 'tls_default', 'tls_policy', 'ca_file', 'mta_sts', 'ipv6', 'concurrency', 'concurrency_per_destination', 'connect_timeout_s', 'command_timeout_s', 'max_mx_hosts'];
  r.unknownKeys(t, 'outbound', known);
  const tlsPolicy: Record<string, TlsLevel> = {};
  for (const [key, level] of Object.entries(r.stringMap(t, 'tls_policy', 'outbound'))) {
    const keyPath = `outbound.tls_policy.${JSON.stringify(key)}`;
    const subdomains = key.startsWith('.');
    const domain = canonicalDomain(subdomains ? key.slice(1) : key);
    if (domain === '' || domain.startsWith('[')) r.problem(keyPath, `"${key}" is not a domain; write "example.org" for that domain or ".example.org" for its subdomains`);
    if (!(TLS_LEVELS as readonly string[]).includes(level)) r.problem(keyPath, `must be one of ${TLS_LEVELS.map((l) => `"${l}"`).join(', ')}; got "${level}"`);
    else tlsPolicy[(subdomains ? '.' : '') + domain] = level as TlsLevel;
  }
  const caFile = r.string(t, 'ca_file', 'outbound', '');
  return {
    port: r.integer(t, 'port', 'outbound', 25, 1, 65535),
    tlsDefault: r.oneOf(t, 'tls_default', 'outbound', TLS_LEVELS, 'may'),
    tlsPolicy,
    caFile: caFile && path.resolve(baseDir, caFile),
    mtaSts: r.boolean(t, 'mta_sts', 'outbound', true),
    ipv6: r.boolean(t, 'ipv6', 'outbound', true),
    concurrency: r.integer(t, 'concurrency', 'outbound', 100, 1, 10000),
    concurrencyPerDestination: r.integer(t, 'concurrency_per_destination', 'outbound', 20, 1, 10000),
    connectTimeoutSeconds: r.integer(t, 'connect_timeout_s', 'outbound', 30, 1, 600),
    commandTimeoutSeconds: r.integer(t, 'command_timeout_s', 'outbound', 300, 1, 3600),
    maxMxHosts: r.integer(t, 'max_mx_hosts', 'outbound', 5, 1, 50),
  };
}

function readAuth(r: Reader, t: Table): AuthConfig {
  r.unknownKeys(t, 'auth', ['slow_after', 'delay_ms', 'max_failures', 'lockout_s']);
  const auth = {
    slowAfter: r.integer(t, 'slow_after', 'auth', 3, 0, 1000),
    delayMs: r.integer(t, 'delay_ms', 'auth', 1000, 0, 30_000),
    maxFailures: r.integer(t, 'max_failures', 'auth', 10, 1, 10_000),
    lockoutSeconds: r.integer(t, 'lockout_s', 'auth', 900, 1, 7 * 86_400),
  };
  if (auth.slowAfter > auth.maxFailures) r.problem('auth.slow_after', `is larger than auth.max_failures (${auth.maxFailures}); slowing down must start before refusing`);
  return auth;
}

function readQueue(r: Reader, t: Table): QueueConfig {
  r.unknownKeys(t, 'queue', ['min_backoff', 'max_backoff', 'max_lifetime', 'delay_warning']);
  const before = r.problems.length;
  const queue = {
    minBackoffMs: duration(r, t, 'min_backoff', '5m'),
    maxBackoffMs: duration(r, t, 'max_backoff', '4h'),
    maxLifetimeMs: duration(r, t, 'max_lifetime', '5d'),
    delayWarningMs: duration(r, t, 'delay_warning', '4h', true),
  };
  if (r.problems.length === before && queue.minBackoffMs > queue.maxBackoffMs) r.problem('queue.min_backoff', 'is longer than queue.max_backoff; the first retry delay must not exceed the largest one');
  return queue;
}

/** A Postfix-style duration ("30s", "5m", "4h", "5d", "1w") in ms; "0" only where `zeroOk`. */
function duration(r: Reader, t: Table, key: string, fallback: string, zeroOk = false): number {
  const text = r.string(t, key, 'queue', fallback);
  const m = /^(\d+)\s*([smhdw])$/.exec(text.trim());
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
  const ms = m ? Number(m[1]) * unit[m[2] as keyof typeof unit] : text.trim() === '0' && zeroOk ? 0 : Number.NaN;
  if (Number.isNaN(ms) || (ms === 0 && !zeroOk)) {
    r.problem(`queue.${key}`, `"${text}" is not a duration; write a number with a unit s, m, h, d or w, e.g. "${fallback}"${zeroOk ? ' (or "0" for never)' : ''}`);
    return duration(r, {}, key, fallback);
  }
  return ms;
}

function addresses(r: Reader, table: Table, key: string, prefix: string, fallback: string[], port: number): ListenAddress[] {
  return r.stringList(table, key, prefix, fallback).flatMap((text, i) => {
    const parsed = parseHostPort(text, port);
    if (typeof parsed === 'string') {
      r.problem(`${join(prefix, key)}[${i}]`, parsed);
      return [];
    }
    return [parsed];
  });
}

function readAcme(r: Reader, table: Table, hostname: string, httpListeners: number, baseDir: string): AcmeConfig {
  r.unknownKeys(table, 'acme', ['enabled', 'directory', 'email', 'names', 'key_type', 'ca_file']);
  const enabled = r.boolean(table, 'enabled', 'acme', false);
  const directory = r.string(table, 'directory', 'acme', 'https://acme-v02.api.letsencrypt.org/directory');
  if (!isHttpsUrl(directory)) {
    // RFC 8555 §6.1: all ACME communication is over HTTPS.
    r.problem('acme.directory', `"${directory}" is not an https:// URL; use your CA's directory, e.g. "https://acme-v02.api.letsencrypt.org/directory"`);
  }
  const email = r.string(table, 'email', 'acme', '');
  if (email !== '' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
    r.problem('acme.email', `"${email}" is not an email address; the CA writes to it about expiring certificates (or leave it "")`);
  }
  const names: string[] = [];
  r.stringList(table, 'names', 'acme', []).forEach((text, i) => {
    const name = canonicalDomain(text);
    if (text.startsWith('*.')) {
      r.problem(`acme.names[${i}]`, `"${text}" is a wildcard; wildcards need DNS-01 validation, which Sealpost does not do (HTTP-01 only): list each name`);
    } else if (name === '' || name.startsWith('[') || !name.includes('.')) {
      r.problem(`acme.names[${i}]`, `"${text}" is not a fully qualified host name`);
    } else if (name !== hostname && !names.includes(name)) {
      names.push(name);
    }
  });
  const keyType = r.oneOf(table, 'key_type', 'acme', ['ecdsa-p256', 'rsa-2048'] as const, 'ecdsa-p256');
  const caFileRaw = r.string(table, 'ca_file', 'acme', '');
  if (enabled && httpListeners === 0) {
    r.problem('listen.acme_http', 'is empty but [acme] is enabled: HTTP-01 validation needs a listener on port 80, e.g. acme_http = ["0.0.0.0:80", "[::]:80"]');
  }
  return { enabled, directory, email, names, keyType, caFile: caFileRaw && path.resolve(baseDir, caFileRaw) };
}

function isHttpsUrl(text: string): boolean {
  try {
    return new URL(text).protocol === 'https:';
  } catch {
    return false;
  }
}

function readDomains(r: Reader, raw: unknown, dkim: DkimDomain[]): DomainConfig[] {
  if (raw === undefined) {
    r.problem('domain', 'at least one [[domain]] is required: the domains this server receives mail for');
    return [];
  }
  if (!Array.isArray(raw) || !raw.every(isTable)) {
    r.problem('domain', 'must be an array of tables: write each domain as [[domain]]');
    return [];
  }
  const seen = new Set<string>();
  return raw.map((table, i) => {
    const prefix = `domain[${i}]`;
    r.unknownKeys(table, prefix, ['name', 'mailboxes', 'aliases', 'catch_all', 'dkim_selectors']);
    const nameRaw = r.string(table, 'name', prefix);
    const name = canonicalDomain(nameRaw);
    if (nameRaw !== '' && name === '') r.problem(`${prefix}.name`, `"${nameRaw}" is not a valid domain name`);
    if (name !== '' && seen.has(name)) r.problem(`${prefix}.name`, `domain "${name}" is listed twice; merge the two [[domain]] tables`);
    seen.add(name);
    const mailboxes = r.stringList(table, 'mailboxes', prefix, []).map((m) => m.toLowerCase());
    mailboxes.forEach((m, j) => {
      if (!/^[a-z0-9!#$%&'*+/=?^_`{|}~.-]+$/.test(m) || m.includes('@')) {
        r.problem(`${prefix}.mailboxes[${j}]`, `"${m}" is not a plain local part (letters, digits, . - _ + …, no @)`);
      }
    });
    const aliases: Record<string, string> = {};
    for (const [from, to] of Object.entries(r.stringMap(table, 'aliases', prefix))) {
      let target = to.toLowerCase();
      if (to.includes('@')) {
        // Forwarding: a full address, here or at another domain (delivered through the outbound queue).
        const parsed = parseMailbox(to);
        if (!parsed) r.problem(`${prefix}.aliases.${from}`, `"${to}" is not a valid address; write a mailbox name ("alice") or a full address ("alice@example.net")`);
        else target = formatMailbox(parsed);
      } else if (!mailboxes.includes(target)) {
        r.problem(`${prefix}.aliases.${from}`, `points to "${to}", which is not in ${prefix}.mailboxes; add it there, point the alias at an existing mailbox, or give a full address to forward to`);
      }
      if (mailboxes.includes(from.toLowerCase())) {
        r.problem(`${prefix}.aliases.${from}`, `"${from}" is a mailbox as well as an alias; remove one of the two`);
      }
      aliases[from.toLowerCase()] = target;
    }
    const catchAll = r.string(table, 'catch_all', prefix, '').toLowerCase();
    if (catchAll !== '' && !mailboxes.includes(catchAll)) {
      r.problem(`${prefix}.catch_all`, `"${catchAll}" is not in ${prefix}.mailboxes; name an existing mailbox or leave it empty`);
    }
    // RFC 6376 §3.1: a selector is DNS labels; it names <data_dir>/dkim/<domain>/<selector>.pem.
    const selectors = r.stringList(table, 'dkim_selectors', prefix, []).map((s) => s.toLowerCase());
    selectors.forEach((s, j) => {
      if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/.test(s)) {
        r.problem(`${prefix}.dkim_selectors[${j}]`, `"${s}" is not a selector; use DNS labels (letters, digits, hyphens), e.g. "s2026"`);
      }
    });
    if (new Set(selectors).size !== selectors.length) r.problem(`${prefix}.dkim_selectors`, 'lists a selector twice');
    if (selectors.length > 0 && name !== '') dkim.push({ domain: name, selectors });
    return { name, mailboxes, aliases, catchAll };
  });
}

export function parseCidr(text: string): Cidr | string {
  const [address = '', prefixText, extra] = text.split('/');
  const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : undefined;
  if (!family || extra !== undefined) return `"${text}" is not a network; write it as "192.0.2.0/24" or "2001:db8::/32"`;
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) return `"${text}" has a prefix length outside 0-${max}`;
  return { address, prefix, family };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
