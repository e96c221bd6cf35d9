// The config's section readers (pure): each reads one TOML table into its typed slice, recording
// every problem with its key path and what would fix it. schema.ts puts the slices together.
import net from 'node:net';
import path from 'node:path';
import { canonicalDomain, formatMailbox, parseMailbox } from '../core/address.ts';
import { parseDelivery } from './delivery.ts';
import { readDnsbl } from './dnsbl.ts';
import { isTable, join, parseHostPort, type Reader, type Table } from './fields.ts';
import { checkRelayWidth } from './relay.ts';
import { checkTlsRptRua, readTlsRptRua } from './tlsrpt.ts';
import { readRelay as readRelayHop, readTransports } from './transport.ts';
import {
  type AcmeConfig,
  ADDRESS_FAMILIES,
  type AuthConfig,
  type Cidr,
  type Config,
  type DkimDomain,
  type DomainConfig,
  type ListenAddress,
  type LocalConfig,
  MIN_FREE_FLOOR_MB,
  MTA_STS_MODES,
  type OutboundConfig,
  PREFER_FAMILIES,
  type QueueConfig,
  TLS_LEVELS,
  TLS_VERSIONS,
  type TlsLevel,
} from './types.ts';

export function readOutbound(r: Reader, t: Table, baseDir: string): OutboundConfig {
  const known = [
    'port',
    'tls_default',
    'tls_policy',
    'ca_file',
    'mta_sts',
    'ipv6',
    'address_family',
    'prefer',
    'source_ipv4',
    'source_ipv6',
    'concurrency',
    'concurrency_per_destination',
    'connect_timeout_s',
    'command_timeout_s',
    'max_mx_hosts',
    'relay',
    'relay_tls',
    'relay_auth',
    'transport',
    'rspamd',
  ];
  r.unknownKeys(t, 'outbound', known);
  const tlsPolicy: Record<string, TlsLevel> = {};
  for (const [key, level] of Object.entries(r.stringMap(t, 'tls_policy', 'outbound'))) {
    const keyPath = `outbound.tls_policy.${JSON.stringify(key)}`;
    const subdomains = key.startsWith('.');
    const domain = canonicalDomain(subdomains ? key.slice(1) : key);
    if (domain === '' || domain.startsWith('['))
      r.problem(keyPath, `"${key}" is not a domain; write "example.org" for that domain or ".example.org" for its subdomains`);
    if (!(TLS_LEVELS as readonly string[]).includes(level)) r.problem(keyPath, `must be one of ${TLS_LEVELS.map((l) => `"${l}"`).join(', ')}; got "${level}"`);
    else tlsPolicy[(subdomains ? '.' : '') + domain] = level as TlsLevel;
  }
  const caFile = r.string(t, 'ca_file', 'outbound', '');
  const relay = readRelayHop(r, t, baseDir);
  const transports = readTransports(r, t, baseDir);
  const families = readFamilies(r, t);
  return {
    port: r.integer(t, 'port', 'outbound', 25, 1, 65535),
    tlsDefault: r.oneOf(t, 'tls_default', 'outbound', TLS_LEVELS, 'dane'),
    tlsPolicy,
    caFile: caFile && path.resolve(baseDir, caFile),
    mtaSts: r.boolean(t, 'mta_sts', 'outbound', true),
    ...families,
    concurrency: r.integer(t, 'concurrency', 'outbound', 100, 1, 10000),
    concurrencyPerDestination: r.integer(t, 'concurrency_per_destination', 'outbound', 20, 1, 10000),
    connectTimeoutSeconds: r.integer(t, 'connect_timeout_s', 'outbound', 30, 1, 600),
    commandTimeoutSeconds: r.integer(t, 'command_timeout_s', 'outbound', 300, 1, 3600),
    maxMxHosts: r.integer(t, 'max_mx_hosts', 'outbound', 5, 1, 50),
    ...(relay ? { relay } : {}),
    ...(Object.keys(transports).length > 0 ? { transports } : {}),
  };
}

/**
 * address_family, prefer, source_ipv4, source_ipv6, and the older ipv6 switch (false = "ipv4"):
 * each source address must be an address of its family, and one the family setting never uses
 * is a problem; a preference it makes moot is a warning.
 */
function readFamilies(r: Reader, t: Table): Pick<OutboundConfig, 'ipv6' | 'addressFamily' | 'prefer' | 'sourceIpv4' | 'sourceIpv6'> {
  const ipv6Switch = r.boolean(t, 'ipv6', 'outbound', true);
  const family = r.oneOf(t, 'address_family', 'outbound', ADDRESS_FAMILIES, ipv6Switch ? 'any' : 'ipv4');
  if (!ipv6Switch && family !== 'ipv4')
    r.problem('outbound.ipv6', `is false but outbound.address_family is "${family}"; remove ipv6 = false (address_family = "ipv4" says the same)`);
  const prefer = r.oneOf(t, 'prefer', 'outbound', PREFER_FAMILIES, 'ipv6');
  if (t['prefer'] !== undefined && family !== 'any')
    r.warning('outbound.prefer', `has no effect with address_family = "${family}" (only one family is used); remove it or set address_family = "any"`);
  const source = (key: 'source_ipv4' | 'source_ipv6', want: 4 | 6): string | undefined => {
    const text = r.string(t, key, 'outbound', '').trim();
    if (text === '') return undefined;
    const bare = text.replace(/^\[(.*)\]$/, '$1');
    if (net.isIP(bare) !== want) {
      const other = net.isIP(bare) !== 0 ? ` (an IPv${net.isIP(bare)} address: use source_ipv${net.isIP(bare)})` : '';
      r.problem(
        `outbound.${key}`,
        `"${text}" is not an IPv${want} address${other}; write one of this machine's addresses, e.g. ${want === 4 ? '"203.0.113.7"' : '"2001:db8::7"'}`,
      );
      return undefined;
    }
    const unused = want === 4 ? family === 'ipv6' : family === 'ipv4';
    if (unused) r.problem(`outbound.${key}`, `is never used: address_family = "${family}"; remove it or set address_family = "any"`);
    return bare;
  };
  const sourceIpv4 = source('source_ipv4', 4);
  const sourceIpv6 = source('source_ipv6', 6);
  return {
    ipv6: family !== 'ipv4',
    addressFamily: family,
    prefer,
    ...(sourceIpv4 ? { sourceIpv4 } : {}),
    ...(sourceIpv6 ? { sourceIpv6 } : {}),
  };
}

export function readAuth(r: Reader, t: Table): AuthConfig {
  r.unknownKeys(t, 'auth', ['slow_after', 'delay_ms', 'max_failures', 'lockout_s', 'max_concurrent']);
  const auth = {
    slowAfter: r.integer(t, 'slow_after', 'auth', 3, 0, 1000),
    delayMs: r.integer(t, 'delay_ms', 'auth', 1000, 0, 30_000),
    maxFailures: r.integer(t, 'max_failures', 'auth', 10, 1, 10_000),
    lockoutSeconds: r.integer(t, 'lockout_s', 'auth', 900, 1, 7 * 86_400),
    maxConcurrent: r.integer(t, 'max_concurrent', 'auth', 4, 1, 1000),
  };
  if (auth.slowAfter > auth.maxFailures)
    r.problem('auth.slow_after', `is larger than auth.max_failures (${auth.maxFailures}); slowing down must start before refusing`);
  return auth;
}

export function readLocal(r: Reader, t: Table): LocalConfig {
  r.unknownKeys(t, 'local', ['lmtp_concurrency', 'maildir_threads']);
  return { lmtpConcurrency: r.integer(t, 'lmtp_concurrency', 'local', 10, 1, 1000), maildirThreads: maildirThreads(r, t['maildir_threads']) };
}

/** [local] maildir_threads: "auto" (half the CPUs, 1 to 8) or a whole number from 1 to 64. */
function maildirThreads(r: Reader, value: unknown): LocalConfig['maildirThreads'] {
  if (value === undefined || value === 'auto') return 'auto';
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 64) return n;
  r.problem(
    'local.maildir_threads',
    `is ${JSON.stringify(typeof value === 'bigint' ? n : value)}; write "auto" (half the CPUs, 1 to 8) or a whole number from 1 to 64`,
  );
  return 'auto';
}

export function readQueue(r: Reader, t: Table): QueueConfig {
  r.unknownKeys(t, 'queue', ['min_backoff', 'max_backoff', 'max_lifetime', 'delay_warning', 'attempts_retention']);
  const before = r.problems.length;
  const queue = {
    minBackoffMs: duration(r, t, 'min_backoff', '5m'),
    maxBackoffMs: duration(r, t, 'max_backoff', '4h'),
    maxLifetimeMs: duration(r, t, 'max_lifetime', '5d'),
    delayWarningMs: duration(r, t, 'delay_warning', '4h', true),
    attemptsRetentionMs: duration(r, t, 'attempts_retention', '30d'),
  };
  if (r.problems.length === before && queue.minBackoffMs > queue.maxBackoffMs)
    r.problem('queue.min_backoff', 'is longer than queue.max_backoff; the first retry delay must not exceed the largest one');
  return queue;
}

/** A Postfix-style duration ("30s", "5m", "4h", "5d", "1w") in ms; "0" only where `zeroOk`. */
export function duration(r: Reader, t: Table, key: string, fallback: string, zeroOk = false, section = 'queue'): number {
  const text = r.string(t, key, section, fallback);
  const m = /^(\d+)\s*([smhdw])$/.exec(text.trim());
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
  const ms = m ? Number(m[1]) * unit[m[2] as keyof typeof unit] : text.trim() === '0' && zeroOk ? 0 : Number.NaN;
  if (Number.isNaN(ms) || (ms === 0 && !zeroOk)) {
    r.problem(
      `${section}.${key}`,
      `"${text}" is not a duration; write a number with a unit s, m, h, d or w, e.g. "${fallback}"${zeroOk ? ' (or "0" for never)' : ''}`,
    );
    return duration(r, {}, key, fallback, zeroOk, section);
  }
  return ms;
}

export function addresses(r: Reader, table: Table, key: string, prefix: string, fallback: string[], port: number): ListenAddress[] {
  return r.stringList(table, key, prefix, fallback).flatMap((text, i) => {
    const parsed = parseHostPort(text, port);
    if (typeof parsed === 'string') {
      r.problem(`${join(prefix, key)}[${i}]`, parsed);
      return [];
    }
    return [parsed];
  });
}

/** `listen`: what readListen read, with whether acme_http was written (its default depends on the challenge). */
export function readAcme(
  r: Reader,
  table: Table,
  hostname: string,
  listen: { acmeHttp: number; acmeHttpGiven: boolean; https: number },
  baseDir: string,
): AcmeConfig {
  r.unknownKeys(table, 'acme', ['enabled', 'directory', 'email', 'names', 'key_type', 'ca_file', 'challenge', 'reuse_key', 'rollover_after']);
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
  // Default: HTTP-01 where port 80 was asked for (or nothing was said), else TLS-ALPN-01 on 443.
  const fallback = listen.acmeHttpGiven || listen.https === 0 ? 'http-01' : 'tls-alpn-01';
  const challenge = r.oneOf(table, 'challenge', 'acme', ['http-01', 'tls-alpn-01'] as const, fallback);
  if (enabled && challenge === 'http-01' && listen.acmeHttp === 0) {
    r.problem(
      'listen.acme_http',
      'is empty but [acme] is enabled with challenge "http-01": HTTP-01 validation needs a listener on port 80, e.g. acme_http = ["0.0.0.0:80", "[::]:80"] (or listen.https and acme.challenge = "tls-alpn-01")',
    );
  }
  if (enabled && challenge === 'tls-alpn-01' && listen.https === 0) {
    // RFC 8737 §3: the CA connects to port 443.
    r.problem(
      'listen.https',
      'is empty but acme.challenge is "tls-alpn-01": TLS-ALPN-01 needs the HTTPS listener on port 443, e.g. https = ["0.0.0.0:443", "[::]:443"]',
    );
  }
  // RFC 7671 §8.1: a 3 1 1 TLSA record names the key, so renewals keep it; a new key is staged
  // (`sealpost dane rollover`) and used by the first renewal once rollover_after has passed.
  const reuseKey = r.boolean(table, 'reuse_key', 'acme', true);
  const rolloverAfterMs = duration(r, table, 'rollover_after', '2d', false, 'acme');
  return { enabled, directory, email, names, keyType, caFile: caFileRaw && path.resolve(baseDir, caFileRaw), challenge, reuseKey, rolloverAfterMs };
}

function isHttpsUrl(text: string): boolean {
  try {
    return new URL(text).protocol === 'https:';
  } catch {
    return false;
  }
}

export function readDomains(r: Reader, raw: unknown, dkim: DkimDomain[]): DomainConfig[] {
  if (raw === undefined) {
    r.problem('domain', 'at least one [[domain]] is required: the domains this server receives mail for');
    return [];
  }
  if (!Array.isArray(raw) || !raw.every(isTable)) {
    r.problem('domain', 'must be an array of tables: write each domain as [[domain]]');
    return [];
  }
  const seen = new Set<string>();
  const ruas: (string | undefined)[] = [];
  const domains = raw.map((table, i): DomainConfig => {
    const prefix = `domain[${i}]`;
    r.unknownKeys(table, prefix, ['name', 'mailboxes', 'aliases', 'catch_all', 'dkim_selectors', 'delivery', 'mta_sts', 'tlsrpt_rua']);
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
        if (!parsed)
          r.problem(`${prefix}.aliases.${from}`, `"${to}" is not a valid address; write a mailbox name ("alice") or a full address ("alice@example.net")`);
        else target = formatMailbox(parsed);
      } else if (!mailboxes.includes(target)) {
        r.problem(
          `${prefix}.aliases.${from}`,
          `points to "${to}", which is not in ${prefix}.mailboxes; add it there, point the alias at an existing mailbox, or give a full address to forward to`,
        );
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
    const delivery = parseDelivery(r.string(table, 'delivery', prefix, 'maildir'));
    if (typeof delivery === 'string') r.problem(`${prefix}.delivery`, delivery);
    const mtaSts = r.oneOf(table, 'mta_sts', prefix, MTA_STS_MODES, 'none');
    ruas.push(readTlsRptRua(r, table, prefix));
    return { name, mailboxes, aliases, catchAll, delivery: typeof delivery === 'string' ? { kind: 'maildir' } : delivery, mtaSts };
  });
  // A rua may name a mailbox of another of our domains: checked once all are read.
  return checkTlsRptRua(r, domains, ruas).map((tlsrptRua, i) => (tlsrptRua ? { ...(domains[i] as DomainConfig), tlsrptRua } : (domains[i] as DomainConfig)));
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

function isLoopbackHost(host: string): boolean {
  return host === '::1' || host === 'localhost' || (net.isIPv4(host) && host.startsWith('127.'));
}

export function readListen(r: Reader, listenTable: Table): Config['listen'] {
  r.unknownKeys(listenTable, 'listen', ['smtp', 'submission', 'submissions', 'acme_http', 'https', 'status_http', 'metrics']);
  const smtp = addresses(r, listenTable, 'smtp', 'listen', ['0.0.0.0:25', '[::]:25'], 25);
  // Off unless listed: without users, a submission port would only be something to attack.
  const submission = addresses(r, listenTable, 'submission', 'listen', [], 587);
  const submissions = addresses(r, listenTable, 'submissions', 'listen', [], 465);
  const acmeHttp = addresses(r, listenTable, 'acme_http', 'listen', ['0.0.0.0:80', '[::]:80'], 80);
  const https = addresses(r, listenTable, 'https', 'listen', [], 443);
  const statusHttp = addresses(r, listenTable, 'status_http', 'listen', [], 8025);
  // Prometheus's /metrics (src/metrics): off unless listed; it has no password, so say so off loopback.
  const metrics = addresses(r, listenTable, 'metrics', 'listen', [], 9309);
  metrics.forEach((a, i) => {
    if (!isLoopbackHost(a.host))
      r.warning(
        `listen.metrics[${i}]`,
        `"${a.host}" is not a loopback address: anyone who reaches it reads the metrics (no password); bind 127.0.0.1 or a private network your Prometheus alone reaches`,
      );
  });
  return { smtp, submission, submissions, acmeHttp, https, statusHttp, metrics };
}

/** [tls] and the listeners' own floors ([submission], [submissions]), read from the whole document. */
export function readTls(r: Reader, raw: Table, baseDir: string): Pick<Config, 'tls' | 'submission' | 'submissions'> {
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
  for (const key of ['tls', 'submission', 'submissions'] as const) {
    const table = raw[key];
    const version = isTable(table) ? table['min_version'] : undefined;
    // RFC 8996: TLS 1.0 and 1.1 are deprecated (SHA-1 handshake signatures, no AEAD suites).
    if (version === 'TLSv1' || version === 'TLSv1.1') {
      r.warning(
        `${key}.min_version`,
        `"${version}" admits TLS ${version === 'TLSv1' ? '1.0' : '1.1'}, which RFC 8996 deprecates; use "TLSv1.2" unless clients that cannot do TLS 1.2 must still connect`,
      );
    }
  }
  return {
    tls: { minVersion, certFile: certFile && path.resolve(baseDir, certFile), keyFile: keyFile && path.resolve(baseDir, keyFile) },
    submission: submissionTls,
    submissions: submissionsTls,
  };
}

export function readDns(r: Reader, dnsTable: Table): Config['dns'] {
  r.unknownKeys(dnsTable, 'dns', ['servers', 'timeout_ms', 'trust_ad']);
  const servers = r.stringList(dnsTable, 'servers', 'dns', []);
  servers.forEach((s, i) => {
    const parsed = parseHostPort(s, 53);
    if (typeof parsed === 'string') r.problem(`dns.servers[${i}]`, parsed);
  });
  const timeoutMs = r.integer(dnsTable, 'timeout_ms', 'dns', 5000, 100, 60000);
  const trustAd = r.boolean(dnsTable, 'trust_ad', 'dns', false);
  return { servers, timeoutMs, trustAd };
}

export function readRelay(r: Reader, relayTable: Table): Config['relay'] {
  r.unknownKeys(relayTable, 'relay', ['networks', 'allow_wide']);
  const networkTexts = r.stringList(relayTable, 'networks', 'relay', ['127.0.0.1/32', '::1/128']);
  const networks = networkTexts.flatMap((text, i) => {
    const cidr = parseCidr(text);
    if (typeof cidr === 'string') {
      r.problem(`relay.networks[${i}]`, cidr);
      return [];
    }
    return [cidr];
  });
  const allowWide = r.boolean(relayTable, 'allow_wide', 'relay', false);
  if (networks.length === networkTexts.length) checkRelayWidth(r, networks, networkTexts, allowWide);
  return { networks, allowWide };
}

export function readLimits(r: Reader, limitsTable: Table): Config['limits'] {
  const limitKeys = [
    'message_size',
    'recipients',
    'connections',
    'connections_per_ip',
    'connections_per_net',
    'command_timeout_s',
    'stress_timeout_s',
    'data_min_rate',
    'errors',
    'memory_mb',
    'connections_per_minute_per_ip',
  ];
  r.unknownKeys(limitsTable, 'limits', limitKeys);
  const connectionsPerIp = r.integer(limitsTable, 'connections_per_ip', 'limits', 50, 1, 100000);
  const limits = {
    messageSize: r.integer(limitsTable, 'message_size', 'limits', 50 * 1024 * 1024, 1024, 2 ** 31),
    recipients: r.integer(limitsTable, 'recipients', 'limits', 1000, 1, 100000),
    connections: r.integer(limitsTable, 'connections', 'limits', 1000, 1, 100000),
    connectionsPerIp,
    connectionsPerNet: r.integer(limitsTable, 'connections_per_net', 'limits', 2 * connectionsPerIp, 1, 200000),
    commandTimeoutSeconds: r.integer(limitsTable, 'command_timeout_s', 'limits', 300, 1, 3600),
    stressTimeoutSeconds: r.integer(limitsTable, 'stress_timeout_s', 'limits', 10, 1, 3600),
    // Postfix's smtpd_min_data_rate: 500 bytes/s (4 kbit/s) is far below any working link.
    dataMinRate: r.integer(limitsTable, 'data_min_rate', 'limits', 500, 1, 2 ** 31),
    errors: r.integer(limitsTable, 'errors', 'limits', 10, 1, 1000),
    memoryBytes: r.integer(limitsTable, 'memory_mb', 'limits', 256, 8, 1024 * 1024) * 1024 * 1024,
    // Postfix's smtpd_client_connection_rate_limit: 0, no limit, by default.
    connectionsPerMinutePerIp: r.integer(limitsTable, 'connections_per_minute_per_ip', 'limits', 0, 0, 1_000_000),
  };
  if (limits.connectionsPerNet < limits.connectionsPerIp) {
    r.problem(
      'limits.connections_per_net',
      `is smaller than limits.connections_per_ip (${limits.connectionsPerIp}); a network holds many addresses, so its limit must be at least as high`,
    );
  }
  return limits;
}

export function readInbound(r: Reader, inboundTable: Table): Config['inbound'] {
  r.unknownKeys(inboundTable, 'inbound', [
    'greet_pause_ms',
    'bare_newline',
    'reverse_dns',
    'min_free_mb',
    'authentication_results',
    'dmarc_reject',
    'dnsbl',
    'rspamd',
  ]);
  const inbound = {
    greetPauseMs: r.integer(inboundTable, 'greet_pause_ms', 'inbound', 0, 0, 60000),
    bareNewline: r.oneOf(inboundTable, 'bare_newline', 'inbound', ['normalize', 'reject'] as const, 'normalize'),
    reverseDns: r.boolean(inboundTable, 'reverse_dns', 'inbound', true),
    // Below the floor (0 included) means the floor: a full data_dir would stop the queue itself.
    minFreeMegabytes: Math.max(MIN_FREE_FLOOR_MB, r.integer(inboundTable, 'min_free_mb', 'inbound', 100, 0, 1024 * 1024)),
    authenticationResults: r.boolean(inboundTable, 'authentication_results', 'inbound', true),
    dmarcReject: r.boolean(inboundTable, 'dmarc_reject', 'inbound', false),
    dnsbl: readDnsbl(r, r.table(inboundTable, 'dnsbl', 'inbound'), parseCidr),
  };
  if (inbound.dmarcReject && !inbound.authenticationResults) {
    r.problem('inbound.dmarc_reject', 'needs inbound.authentication_results = true: DMARC is only evaluated when the checks run');
  }
  return inbound;
}

export function readShutdown(r: Reader, shutdownTable: Table): Config['shutdown'] {
  r.unknownKeys(shutdownTable, 'shutdown', ['grace_s']);
  const shutdown = { graceSeconds: r.integer(shutdownTable, 'grace_s', 'shutdown', 30, 0, 3600) };
  return shutdown;
}

/** [server]: how many processes serve the SMTP sessions ("auto": one per CPU; 1: the primary alone). */
export function readServer(r: Reader, t: Table): Config['server'] {
  r.unknownKeys(t, 'server', ['processes']);
  const value = t['processes'];
  if (value === undefined || value === 'auto') return { processes: value ?? 1 };
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 256) {
    r.problem('server.processes', 'must be "auto" (one session process per CPU) or a whole number from 1 to 256 (1: one process, as before)');
    return { processes: 1 };
  }
  return { processes: n };
}

export function readLog(r: Reader, logTable: Table): Config['log'] {
  r.unknownKeys(logTable, 'log', ['level']);
  const level = r.oneOf(logTable, 'level', 'log', ['trace', 'debug', 'info', 'warn', 'error'] as const, 'info');
  return { level };
}
