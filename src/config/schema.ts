// The config's types and its validation: raw TOML table → frozen Config, or every problem with
// its key path and what would fix it. Pure: paths are resolved against a base directory given in.
import net from 'node:net';
import path from 'node:path';
import { canonicalDomain } from '../core/address.ts';
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
  /** Lowercase local part → lowercase mailbox local part in the same domain. */
  aliases: Readonly<Record<string, string>>;
  /** Mailbox for unknown local parts, or '' for none. */
  catchAll: string;
}

export interface Config {
  hostname: string;
  dataDir: string;
  listen: { smtp: readonly ListenAddress[] };
  tls: { minVersion: TlsVersion; certFile: string; keyFile: string };
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
  };
  shutdown: { graceSeconds: number };
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' };
}

export type Validated = { ok: true; config: Config } | { ok: false; problems: Problem[] };

const TOP_KEYS = ['hostname', 'data_dir', 'listen', 'tls', 'dns', 'domain', 'relay', 'limits', 'inbound', 'shutdown', 'log'] as const;

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
  r.unknownKeys(listenTable, 'listen', ['smtp']);
  const smtp = addresses(r, listenTable, 'smtp', 'listen', ['0.0.0.0:25', '[::]:25'], 25);

  const tlsTable = r.table(raw, 'tls', '');
  r.unknownKeys(tlsTable, 'tls', ['min_version', 'cert_file', 'key_file']);
  const minVersion = r.oneOf(tlsTable, 'min_version', 'tls', TLS_VERSIONS, 'TLSv1.2');
  const certFile = r.string(tlsTable, 'cert_file', 'tls', '');
  const keyFile = r.string(tlsTable, 'key_file', 'tls', '');
  if ((certFile === '') !== (keyFile === '')) {
    r.problem(certFile ? 'tls.key_file' : 'tls.cert_file', 'cert_file and key_file go together: set both (a PEM chain and its key) or neither');
  }

  const dnsTable = r.table(raw, 'dns', '');
  r.unknownKeys(dnsTable, 'dns', ['servers', 'timeout_ms']);
  const servers = r.stringList(dnsTable, 'servers', 'dns', []);
  servers.forEach((s, i) => {
    const parsed = parseHostPort(s, 53);
    if (typeof parsed === 'string') r.problem(`dns.servers[${i}]`, parsed);
  });
  const timeoutMs = r.integer(dnsTable, 'timeout_ms', 'dns', 5000, 100, 60000);

  const domains = readDomains(r, raw['domain']);

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
  r.unknownKeys(inboundTable, 'inbound', ['greet_pause_ms', 'bare_newline', 'reverse_dns', 'min_free_mb']);
  const inbound = {
    greetPauseMs: r.integer(inboundTable, 'greet_pause_ms', 'inbound', 0, 0, 60000),
    bareNewline: r.oneOf(inboundTable, 'bare_newline', 'inbound', ['normalize', 'reject'] as const, 'normalize'),
    reverseDns: r.boolean(inboundTable, 'reverse_dns', 'inbound', true),
    minFreeMegabytes: r.integer(inboundTable, 'min_free_mb', 'inbound', 100, 0, 1024 * 1024),
  };

  const shutdownTable = r.table(raw, 'shutdown', '');
  r.unknownKeys(shutdownTable, 'shutdown', ['grace_s']);
  const shutdown = { graceSeconds: r.integer(shutdownTable, 'grace_s', 'shutdown', 30, 0, 3600) };

  const logTable = r.table(raw, 'log', '');
  r.unknownKeys(logTable, 'log', ['level']);
  const level = r.oneOf(logTable, 'level', 'log', ['trace', 'debug', 'info', 'warn', 'error'] as const, 'info');

  if (r.problems.length > 0) return { ok: false, problems: r.problems };
  const config: Config = {
    hostname,
    dataDir: path.resolve(baseDir, dataDirRaw),
    listen: { smtp },
    tls: {
      minVersion,
      certFile: certFile && path.resolve(baseDir, certFile),
      keyFile: keyFile && path.resolve(baseDir, keyFile),
    },
    dns: { servers, timeoutMs },
    domains,
    relay: { networks },
    limits,
    inbound,
    shutdown,
    log: { level },
  };
  return { ok: true, config: deepFreeze(config) };
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

function readDomains(r: Reader, raw: unknown): DomainConfig[] {
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
    r.unknownKeys(table, prefix, ['name', 'mailboxes', 'aliases', 'catch_all']);
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
      const target = to.toLowerCase();
      if (!mailboxes.includes(target)) {
        r.problem(`${prefix}.aliases.${from}`, `points to "${to}", which is not in ${prefix}.mailboxes; add it there or point the alias at an existing mailbox`);
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
