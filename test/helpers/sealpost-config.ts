// Sealpost config files for tests: test defaults (loopback ports, a temp data dir, fast retries)
// deep-merged with a test's overrides, written as TOML. Pure except writeSealpostConfig.
// Keys are the TOML file's own (snake_case), as in config/sealpost.example.toml.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'smol-toml';

/** The TOML document, key for key (src/config/schema.ts validates it). */
export interface SealpostToml {
  hostname?: string;
  data_dir?: string;
  listen?: { smtp?: string[]; acme_http?: string[]; https?: string[]; status_http?: string[]; submission?: string[]; metrics?: string[] };
  tls?: { min_version?: string; cert_file?: string; key_file?: string };
  acme?: {
    enabled?: boolean;
    directory?: string;
    email?: string;
    names?: string[];
    key_type?: string;
    ca_file?: string;
    challenge?: string;
    reuse_key?: boolean;
    rollover_after?: string;
  };
  mta_sts?: { extra_mx?: string[]; max_age?: string };
  dns?: { servers?: string[]; timeout_ms?: number };
  domain?: {
    name: string;
    mailboxes?: string[];
    aliases?: Record<string, string>;
    catch_all?: string;
    delivery?: string;
    mta_sts?: string;
    dkim_selectors?: string[];
    tlsrpt_rua?: string;
  }[];
  relay?: { networks?: string[] };
  limits?: {
    message_size?: number;
    recipients?: number;
    connections?: number;
    connections_per_ip?: number;
    connections_per_net?: number;
    command_timeout_s?: number;
    stress_timeout_s?: number;
    data_min_rate?: number;
    errors?: number;
    memory_mb?: number;
    connections_per_minute_per_ip?: number;
  };
  inbound?: {
    greet_pause_ms?: number;
    bare_newline?: 'normalize' | 'reject';
    reverse_dns?: boolean;
    min_free_mb?: number;
    dnsbl?: { zones?: { zone: string; weight?: number; codes?: string[] }[]; threshold?: number; allow_networks?: string[]; allow_domains?: string[] };
  };
  outbound?: {
    port?: number;
    tls_default?: 'none' | 'may' | 'encrypt' | 'verify' | 'dane' | 'dane-only';
    tls_policy?: Record<string, string>;
    ca_file?: string;
    mta_sts?: boolean;
    ipv6?: boolean;
    address_family?: 'any' | 'ipv4' | 'ipv6';
    prefer?: 'ipv6' | 'ipv4';
    source_ipv4?: string;
    source_ipv6?: string;
    concurrency?: number;
    concurrency_per_destination?: number;
    connect_timeout_s?: number;
    command_timeout_s?: number;
    max_mx_hosts?: number;
    relay?: string;
    relay_tls?: 'none' | 'may' | 'encrypt' | 'verify';
    relay_auth?: { username?: string; password_file?: string };
    transport?: Record<string, string | { nexthop?: string; tls?: string; username?: string; password_file?: string }>;
  };
  queue?: { min_backoff?: string; max_backoff?: string; max_lifetime?: string; delay_warning?: string; attempts_retention?: string };
  store?: { kind?: string; url?: string; password_file?: string; node?: string; lease?: string; allow_local_maildir?: boolean };
  shutdown?: { grace_s?: number };
  server?: { processes?: number | 'auto' };
  log?: { level?: 'trace' | 'debug' | 'info' | 'warn' | 'error' };
  local?: { lmtp_concurrency?: number };
  doctor?: { addresses?: string[]; dnsbl?: string[]; domain_dnsbl?: string[]; probe_mx?: string; at_startup?: boolean };
  /** Keys the schema may grow (or a test's deliberate typo): written as given. */
  [key: string]: unknown;
}

/** Overrides: tables merge key by key, arrays and values replace, null removes a default. */
export type Overrides<T> = {
  [K in keyof T]?: (NonNullable<T[K]> extends readonly unknown[] ? T[K] : NonNullable<T[K]> extends object ? Overrides<NonNullable<T[K]>> : T[K]) | null;
};

export interface TestPorts {
  smtp: number;
  acmeHttp: number;
}

/**
 * What a test gets unless it says otherwise: listeners on 127.0.0.1 free ports, one domain
 * example.test with alice and bob (postmaster → alice), relay from loopback, no reverse DNS, no
 * free-space floor, DNS at 127.0.0.1:53 (nothing answers inside netless unless the test starts a
 * DNS server there), retries within seconds, a 5 s shutdown grace. ACME stays off, and so do the
 * doctor's start-up checks (their DNS queries and self-probes would mix with what a test counts).
 */
export function testDefaults(dataDir: string, ports: TestPorts): SealpostToml {
  return {
    hostname: 'mx.sealpost.test',
    data_dir: dataDir,
    listen: { smtp: [`127.0.0.1:${ports.smtp}`], acme_http: [`127.0.0.1:${ports.acmeHttp}`] },
    dns: { servers: ['127.0.0.1:53'], timeout_ms: 500 },
    domain: [{ name: 'example.test', mailboxes: ['alice', 'bob'], aliases: { postmaster: 'alice' } }],
    relay: { networks: ['127.0.0.1/32'] },
    inbound: { reverse_dns: false, min_free_mb: 0 },
    outbound: { connect_timeout_s: 5 },
    queue: { min_backoff: '1s', max_backoff: '5s' },
    shutdown: { grace_s: 5 },
    log: { level: 'info' },
    doctor: { at_startup: false },
  };
}

/** `base` with `overrides` merged in (see Overrides). Returns a new object; inputs are untouched. */
export function mergeConfig(base: SealpostToml, overrides: Overrides<SealpostToml>): SealpostToml {
  return mergeTables(base, overrides as Record<string, unknown>) as SealpostToml;
}

function mergeTables(base: Record<string, unknown>, overrides: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    const current = out[key];
    if (value === null) delete out[key];
    else if (value === undefined) continue;
    else if (isPlainTable(value) && isPlainTable(current)) out[key] = mergeTables(current, value);
    else out[key] = value;
  }
  return out;
}

function isPlainTable(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function renderToml(config: SealpostToml): string {
  return `${stringify(config)}\n`;
}

/** What a harness needs to know of a config it did not generate (raw TOML text from a test). */
export function inspectToml(text: string, configDir: string): { dataDir: string | undefined } {
  const raw = parse(text);
  const dataDir = typeof raw['data_dir'] === 'string' ? path.resolve(configDir, raw['data_dir']) : undefined;
  return { dataDir };
}

export async function writeSealpostConfig(file: string, content: SealpostToml | string): Promise<void> {
  await writeFile(file, typeof content === 'string' ? content : renderToml(content), { mode: 0o600 });
}
