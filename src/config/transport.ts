// Reads the transport settings of [outbound] (pure): `relay` with `relay_tls` and [outbound.relay_auth],
// and the [outbound.transport] table, whose values are Postfix next hops ("smtp:[host]:port") or
// tables { nexthop, tls, username, password_file }. Every problem with its key path and the fix.
import net from 'node:net';
import path from 'node:path';
import { canonicalDomain } from '../core/address.ts';
import { isTable, join, type Reader, type Table } from './fields.ts';
import { type NextHop, type RelayAuth, TLS_LEVELS, type TlsLevel } from './types.ts';

const EXAMPLE = '"smtp:[smtp.provider.example]:587" (brackets: no MX lookup) or "smtps:[smtp.provider.example]:465"';

/**
 * Postfix's next-hop syntax: "smtp:[host]:port", "smtp:host:port" (MX lookup of host), "smtps:…"
 * for implicit TLS; the port defaults to 25 (smtp) or 465 (smtps); "[ipv6:2001:db8::1]" as in Postfix.
 */
export function parseNextHop(text: string): Omit<NextHop, 'tls' | 'auth'> | string {
  const m = /^(smtps?):(.*)$/.exec(text);
  if (!m) return `"${text}" is not a next hop; write ${EXAMPLE}`;
  const protocol = m[1] as 'smtp' | 'smtps';
  const rest = m[2] ?? '';
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  const plain = bracketed ? undefined : /^([^:[\]]+)(?::(\d+))?$/.exec(rest);
  const parts = bracketed ?? plain;
  if (!parts?.[1]) return `"${text}" is not a next hop; write ${EXAMPLE}`;
  let host = parts[1].toLowerCase();
  if (host.startsWith('ipv6:')) {
    host = host.slice(5);
    if (net.isIPv6(host) === false) return `"${parts[1]}" is not an IPv6 address`;
  } else if (net.isIP(host) === 0) {
    host = canonicalDomain(host);
    if (host === '' || host.startsWith('[')) return `"${parts[1]}" is neither a host name nor an IP address`;
  }
  const port = parts[2] === undefined ? (protocol === 'smtps' ? 465 : 25) : Number(parts[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `port ${parts[2]} is out of range (1-65535)`;
  // An IP address has no MX records: brackets or not, it is the host itself.
  return { protocol, host, port, mxLookup: bracketed === null && net.isIP(host) === 0 };
}

function readAuth(r: Reader, t: Table, prefix: string, baseDir: string): RelayAuth | undefined {
  const username = r.string(t, 'username', prefix, '');
  const file = r.string(t, 'password_file', prefix, '');
  if (username === '' && file === '') return undefined;
  if (username === '') r.problem(join(prefix, 'username'), 'is required with password_file');
  if (file === '') r.problem(join(prefix, 'password_file'), 'is required with username: a file holding only the password, mode 0600');
  return { username, passwordFile: file && path.resolve(baseDir, file) };
}

/** Credentials and implicit TLS need TLS that cannot fall back to plaintext. */
function checkTls(r: Reader, keyPath: string, hop: NextHop): void {
  const level = hop.tls;
  if (level !== 'none' && level !== 'may') return;
  if (hop.auth)
    r.problem(keyPath, `credentials are sent only over TLS: with username and password_file the level must be "encrypt" or "verify", not "${level}"`);
  else if (hop.protocol === 'smtps') r.problem(keyPath, `smtps: is TLS from the first byte: the level must be "encrypt" or "verify", not "${level}"`);
}

function level(r: Reader, keyPath: string, value: unknown, fallback: TlsLevel | undefined): TlsLevel | undefined {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (TLS_LEVELS as readonly string[]).includes(value)) return value as TlsLevel;
  r.problem(keyPath, `must be one of ${TLS_LEVELS.map((l) => `"${l}"`).join(', ')}`);
  return fallback;
}

/** [outbound] relay, relay_tls, [outbound.relay_auth]: a smarthost is a known host, so TLS defaults to verify. */
export function readRelay(r: Reader, t: Table, baseDir: string): NextHop | undefined {
  const text = r.string(t, 'relay', 'outbound', '');
  const authTable = r.table(t, 'relay_auth', 'outbound');
  r.unknownKeys(authTable, 'outbound.relay_auth', ['username', 'password_file']);
  const auth = readAuth(r, authTable, 'outbound.relay_auth', baseDir);
  const tls = level(r, 'outbound.relay_tls', t['relay_tls'], 'verify');
  if (text === '') {
    if (auth) r.problem('outbound.relay_auth', `is set but there is no relay; add relay = ${EXAMPLE} to [outbound]`);
    return undefined;
  }
  const parsed = parseNextHop(text);
  if (typeof parsed === 'string') {
    r.problem('outbound.relay', parsed);
    return undefined;
  }
  const hop: NextHop = { ...parsed, ...(tls ? { tls } : {}), ...(auth ? { auth } : {}) };
  checkTls(r, 'outbound.relay_tls', hop);
  return hop;
}

/** [outbound.transport]: "example.com" = "smtp:[mx.partner.example]:25", or a table with nexthop, tls and credentials. */
export function readTransports(r: Reader, t: Table, baseDir: string): Record<string, NextHop> {
  const table = r.table(t, 'transport', 'outbound');
  const out: Record<string, NextHop> = {};
  for (const [key, value] of Object.entries(table)) {
    const keyPath = join('outbound.transport', key);
    const subdomains = key.startsWith('.');
    const domain = canonicalDomain(subdomains ? key.slice(1) : key);
    if (domain === '' || domain.startsWith('[')) {
      r.problem(keyPath, `"${key}" is not a domain; write "example.org" for that domain or ".example.org" for its subdomains`);
      continue;
    }
    let entry: Table;
    if (typeof value === 'string') entry = { nexthop: value };
    else if (isTable(value)) {
      entry = value;
      r.unknownKeys(entry, keyPath, ['nexthop', 'tls', 'username', 'password_file']);
    } else {
      r.problem(
        keyPath,
        `must be a next hop, e.g. ${JSON.stringify(key)} = "smtp:[mx.partner.example]:25", or a table { nexthop = "…", username = "…", password_file = "…" }`,
      );
      continue;
    }
    const nexthop = r.string(entry, 'nexthop', keyPath);
    const parsed = parseNextHop(nexthop);
    if (typeof parsed === 'string') {
      if (nexthop !== '') r.problem(typeof value === 'string' ? keyPath : join(keyPath, 'nexthop'), parsed);
      continue;
    }
    const auth = readAuth(r, entry, keyPath, baseDir);
    // With credentials the host is a known smarthost (verify); otherwise the destination's own policy.
    const tls = level(r, join(keyPath, 'tls'), entry['tls'], auth || parsed.protocol === 'smtps' ? 'verify' : undefined);
    const hop: NextHop = { ...parsed, ...(tls ? { tls } : {}), ...(auth ? { auth } : {}) };
    checkTls(r, join(keyPath, 'tls'), hop);
    out[(subdomains ? '.' : '') + domain] = hop;
  }
  return out;
}

/** Every password file the config names, with the key path that names it (load.ts checks them). */
export function passwordFiles(o: {
  relay?: NextHop | undefined;
  transports?: Readonly<Record<string, NextHop>> | undefined;
}): { path: string; file: string }[] {
  const files: { path: string; file: string }[] = [];
  if (o.relay?.auth) files.push({ path: 'outbound.relay_auth.password_file', file: o.relay.auth.passwordFile });
  for (const [key, hop] of Object.entries(o.transports ?? {})) {
    if (hop.auth) files.push({ path: join(join('outbound.transport', key), 'password_file'), file: hop.auth.passwordFile });
  }
  return files;
}
