// Which client a connection counts against, and whether one more may open (pure). Like Postfix's
// anvil counts, but by prefix: an IPv6 client owns at least a /64 (RFC 6177 §2, RFC 7934 §6), so
// one IPv6 "address" is its /64; and a second, higher limit counts the network around it (IPv4
// /24, IPv6 /48), so a host that has a whole block cannot open connections_per_ip from each
// address. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) count as IPv4.

/** The keys a client address counts under: `address` for connections_per_ip, `network` for connections_per_net. */
export interface ClientKeys {
  address: string;
  network: string;
}

export function clientKeys(ip: string): ClientKeys {
  const v4 = ipv4Octets(ip);
  if (v4) return { address: v4.join('.'), network: `${v4.slice(0, 3).join('.')}.0/24` };
  const groups = ipv6Groups(ip);
  // Not an address we can read (it cannot come from a socket): it counts alone.
  if (!groups) return { address: ip, network: ip };
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi = 0, lo = 0] = groups.slice(6);
    const mapped = [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff];
    return { address: mapped.join('.'), network: `${mapped.slice(0, 3).join('.')}.0/24` };
  }
  const hex = (n: number) => n.toString(16);
  return { address: `${groups.slice(0, 4).map(hex).join(':')}::/64`, network: `${groups.slice(0, 3).map(hex).join(':')}::/48` };
}

export interface ClientLimits {
  /** limits.connections: all clients together. */
  connections: number;
  /** limits.connections_per_ip: one IPv4 address or IPv6 /64. */
  perAddress: number;
  /** limits.connections_per_net: one IPv4 /24 or IPv6 /48. */
  perNetwork: number;
}

/** Connections open now (not counting the new one). */
export interface OpenCounts {
  total: number;
  address: number;
  network: number;
}

/** `full`: the global limit is reached; the caller may make room (stress mode) or refuse. */
export type Admission = { kind: 'accept' } | { kind: 'refuse'; limit: 'address' | 'network' } | { kind: 'full' };

export function admit(open: OpenCounts, limits: ClientLimits): Admission {
  if (open.address >= limits.perAddress) return { kind: 'refuse', limit: 'address' };
  if (open.network >= limits.perNetwork) return { kind: 'refuse', limit: 'network' };
  if (open.total >= limits.connections) return { kind: 'full' };
  return { kind: 'accept' };
}

export const RATE_WINDOW_MS = 60_000;

/**
 * Postfix's smtpd_client_connection_rate_limit, over a sliding minute: `opened` holds the times
 * (ascending) at which this client's connections were admitted. Returns the times still inside
 * the window and whether one more may open now (limit 0: no limit).
 */
export function rateAdmit(opened: readonly number[], now: number, limit: number): { recent: number[]; ok: boolean } {
  const recent = opened.filter((t) => now - t < RATE_WINDOW_MS);
  return { recent, ok: limit === 0 || recent.length < limit };
}

function ipv4Octets(ip: string): number[] | undefined {
  const m = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/i.exec(ip);
  if (!m) return undefined;
  const octets = m.slice(1).map(Number);
  return octets.every((o) => o <= 255) ? octets : undefined;
}

/** The eight 16-bit groups of an IPv6 address (with "::", a dotted IPv4 tail, a zone), or undefined. */
function ipv6Groups(ip: string): number[] | undefined {
  let text = ip.toLowerCase().replace(/%.*$/, '');
  const tail = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (tail) {
    const o = tail.slice(1).map(Number);
    if (o.some((n) => n > 255)) return undefined;
    text = `${text.slice(0, tail.index)}${(((o[0] ?? 0) << 8) | (o[1] ?? 0)).toString(16)}:${(((o[2] ?? 0) << 8) | (o[3] ?? 0)).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const part = (s: string | undefined) => (s ? s.split(':') : []);
  const left = part(halves[0]);
  const right = part(halves[1]);
  const fill = 8 - left.length - right.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return undefined;
  const all = [...left, ...Array<string>(halves.length === 1 ? 0 : fill).fill('0'), ...right];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return all.map((g) => Number.parseInt(g, 16));
}
