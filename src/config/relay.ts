// How much of the Internet relay.networks (Postfix's mynetworks) opens: each network and all of
// them together, against a bound; broader needs relay.allow_wide = true. Pure.
//
//   relayWidth(networks) → the networks broader than the bound, and the total per family
//   checkRelayWidth(r, networks, allowWide) → problems (or, allowed, one warning) on the Reader
import type { Reader } from './fields.ts';
import type { Cidr } from './types.ts';

/** The broadest single network (IPv4 /8, IPv6 /32) that passes without relay.allow_wide. */
export const WIDEST_PREFIX = { ipv4: 8, ipv6: 32 } as const;
/**
 * The most addresses all networks of a family may hold together: four /8s (a /6) for IPv4,
 * enough for 10/8, 127/8, 172.16/12, 192.168/16 and 100.64/10 together; four /32s for IPv6.
 * So two /1s or 256 /8s are caught as surely as one /0.
 */
export const MOST_ADDRESSES = { ipv4: 2n ** 26n, ipv6: 2n ** 98n } as const;

export interface RelayWidth {
  /** Indexes into `networks` broader than WIDEST_PREFIX. */
  wide: number[];
  /** Addresses per family, summed over the entries (overlaps counted twice: the bound errs on the safe side). */
  total: { ipv4: bigint; ipv6: bigint };
}

/**
 * An IPv6 network inside ::ffff:0:0/96 holds IPv4-mapped addresses, which the relay check
 * matches as IPv4 (src/inbound/networks.ts): it counts as the IPv4 network it maps.
 */
function asCounted(n: Cidr): { family: 'ipv4' | 'ipv6'; prefix: number } {
  if (n.family === 'ipv6' && n.prefix >= 96 && /^::ffff:/i.test(n.address)) return { family: 'ipv4', prefix: n.prefix - 96 };
  return { family: n.family, prefix: n.prefix };
}

export function relayWidth(networks: readonly Cidr[]): RelayWidth {
  const wide: number[] = [];
  const total = { ipv4: 0n, ipv6: 0n };
  networks.forEach((n, i) => {
    const { family, prefix } = asCounted(n);
    if (prefix < WIDEST_PREFIX[family]) wide.push(i);
    total[family] += 2n ** BigInt((family === 'ipv4' ? 32 : 128) - prefix);
  });
  return { wide, total };
}

const FIX =
  'list only the networks of your own clients (they may relay mail to anywhere), or set relay.allow_wide = true if you really mean to relay for all of them';

/** Records why relay.networks is too wide, or — allowed by relay.allow_wide — one warning saying what it opens. */
export function checkRelayWidth(r: Reader, networks: readonly Cidr[], texts: readonly string[], allowWide: boolean): void {
  const { wide, total } = relayWidth(networks);
  const wideFamilies = new Set(wide.map((i) => asCounted(networks[i] as Cidr).family));
  // A family with a network too broad on its own is reported for that network alone.
  const tooMany = (['ipv4', 'ipv6'] as const).filter((family) => !wideFamilies.has(family) && total[family] > MOST_ADDRESSES[family]);
  if (wide.length === 0 && tooMany.length === 0) return;
  if (allowWide) {
    const what = [...wide.map((i) => `"${texts[i] ?? ''}"`), ...tooMany.map((f) => `${total[f]} ${f === 'ipv4' ? 'IPv4' : 'IPv6'} addresses in all`)];
    r.warning(
      'relay.allow_wide',
      `relay.networks is wider than a /8 (IPv4) or /32 (IPv6) allows (${what.join(', ')}): every client in it may relay mail to anywhere`,
    );
    return;
  }
  for (const i of wide) {
    const n = networks[i] as Cidr;
    const bound = WIDEST_PREFIX[asCounted(n).family];
    r.problem(
      `relay.networks[${i}]`,
      `"${texts[i] ?? ''}" is broader than a /${bound}: everyone in it could relay mail through this server (an open relay); ${FIX}`,
    );
  }
  for (const family of tooMany) {
    const name = family === 'ipv4' ? 'IPv4' : 'IPv6';
    const most = family === 'ipv4' ? 'four /8s' : 'four /32s';
    r.problem(
      'relay.networks',
      `the networks hold ${total[family]} ${name} addresses together, more than ${most}: that is a large share of the Internet; ${FIX}`,
    );
  }
}
