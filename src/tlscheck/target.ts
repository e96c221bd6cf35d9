// What `sealpost tls-check` was asked to look at (pure): a name (a mail domain, whose MX hosts
// are checked in order, or its own implicit MX), or one host: "HOST:PORT", an IP address,
// "[IPv6]" or "[IPv6]:PORT".
import net from 'node:net';
import { canonicalDomain } from '../core/address.ts';

export type Target =
  /** A bare name: its MX records decide (none → the name is its own MX, RFC 5321 §5.1). */
  | { kind: 'domain'; name: string }
  /** One host: a name (no MX lookup) or an address; the port when one was given. */
  | { kind: 'host'; host: string; ip?: string; port?: number };

export function parseTarget(text: string): Target | { error: string } {
  const arg = text.trim().replace(/\.$/, '');
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(arg);
  if (bracketed) {
    const ip = bracketed[1] ?? '';
    if (net.isIPv6(ip) === false) return { error: `"${text}" is not an IPv6 address in brackets` };
    return withPort({ kind: 'host', host: ip, ip }, bracketed[2], text);
  }
  if (net.isIP(arg) !== 0) return { kind: 'host', host: arg, ip: arg };
  const hostPort = /^([^:]+):(\d+)$/.exec(arg);
  if (hostPort) {
    const host = hostPort[1] ?? '';
    if (net.isIPv4(host)) return withPort({ kind: 'host', host, ip: host }, hostPort[2], text);
    const name = canonicalDomain(host);
    if (name === '') return { error: `"${host}" is not a host name` };
    return withPort({ kind: 'host', host: name }, hostPort[2], text);
  }
  const name = canonicalDomain(arg);
  if (name === '' || !name.includes('.')) return { error: `"${text}" is not a domain, HOST:PORT or address; e.g. example.org, mx.example.org:25, 192.0.2.1` };
  return { kind: 'domain', name };
}

function withPort(target: Extract<Target, { kind: 'host' }>, port: string | undefined, text: string): Target | { error: string } {
  if (port === undefined) return target;
  const n = Number(port);
  if (!Number.isInteger(n) || n < 1 || n > 65535) return { error: `"${text}": port ${port} is out of range (1-65535)` };
  return { ...target, port: n };
}
