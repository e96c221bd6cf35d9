// Whether a resolver's AD bit means anything (pure). A stub resolver cannot check signatures
// itself, so it relies on the validating resolver and the path to it (RFC 4035 §4.9.3, RFC 6698
// §4.1, RFC 7672 §1.3): only a resolver on loopback, or one the operator vouches for on a trusted
// link (`[dns] trust_ad = true`), is believed. The same rule as mox and maddy.
import net from 'node:net';

export interface AdTrust {
  trusted: boolean;
  /** Why, in words, for the log and `sealpost status`. */
  why: string;
}

/** host: the resolver's IP address (no port, no brackets). */
export function adTrust(host: string, trustAd: boolean): AdTrust {
  if (isLoopback(host)) return { trusted: true, why: `resolver ${host} is on loopback` };
  if (trustAd) return { trusted: true, why: `resolver ${host} is trusted by [dns] trust_ad = true` };
  return {
    trusted: false,
    why: `resolver ${host} is not on loopback, so its AD bit could be forged on the way; run a validating resolver on 127.0.0.1 (unbound) or set [dns] trust_ad = true for one on a trusted link`,
  };
}

const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104. */
export function isLoopback(host: string): boolean {
  if (net.isIPv4(host)) return LOOPBACK.check(host, 'ipv4');
  return net.isIPv6(host) && LOOPBACK.check(host, 'ipv6');
}
