// Reverse (PTR) lookups of client addresses for Received headers and logs, through the
// configured DNS servers. Never rejects: a failure or timeout is just "no name".
import { promises as dns } from 'node:dns';
import type { Config } from '../config/schema.ts';

export function createReverseLookup(options: Config['dns']): (ip: string) => Promise<string | undefined> {
  const resolver = new dns.Resolver({ timeout: options.timeoutMs, tries: 1 });
  if (options.servers.length > 0) resolver.setServers([...options.servers]);
  return async (ip) => {
    if (ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.')) return 'localhost';
    try {
      return (await resolver.reverse(ip))[0];
    } catch {
      return undefined;
    }
  };
}
