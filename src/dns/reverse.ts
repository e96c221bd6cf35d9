// A client's name from reverse DNS, for Received headers and logs. Never rejects: a failure or
// a timeout is just "no name"; loopback is "localhost" without a query.
import type { DnsAnswer } from './resolver.ts';

export function reverseLookup(resolver: { reverse(ip: string): Promise<DnsAnswer<string>> }): (ip: string) => Promise<string | undefined> {
  return async (ip) => {
    if (ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.')) return 'localhost';
    const answer = await resolver.reverse(ip);
    return answer.kind === 'records' ? answer.records[0] : undefined;
  };
}
