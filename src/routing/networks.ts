// Is a client address inside one of the configured networks (relay.networks)? IPv4-mapped IPv6
// addresses ("::ffff:192.0.2.1") count as their IPv4 form.
import net from 'node:net';
import type { Cidr } from '../config/types.ts';

export function networkMatcher(networks: readonly Cidr[]): (ip: string) => boolean {
  const list = new net.BlockList();
  for (const n of networks) list.addSubnet(n.address, n.prefix, n.family);
  return (ip) => {
    const address = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1] ?? ip;
    const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : undefined;
    return family !== undefined && list.check(address, family);
  };
}
