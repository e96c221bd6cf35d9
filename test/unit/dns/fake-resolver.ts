// A Resolver made of data for unit tests: answers from maps keyed by name; unknown names NXDOMAIN.
import type { DnsAnswer, MxRecord, Resolver } from '../../../src/dns/resolver.ts';

export type FakeEntry = {
  MX?: MxRecord[] | DnsAnswer<MxRecord>;
  A?: string[] | DnsAnswer<string>;
  AAAA?: string[] | DnsAnswer<string>;
  TXT?: string[] | DnsAnswer<string>;
};

export function fakeResolver(zone: Record<string, FakeEntry>, asked: string[] = []): Resolver {
  const lookup = <T>(name: string, type: keyof FakeEntry): DnsAnswer<T> => {
    asked.push(`${name} ${type}`);
    const entry = zone[name];
    if (!entry) return { kind: 'nxdomain' };
    const value = entry[type] as T[] | DnsAnswer<T> | undefined;
    if (value === undefined) return { kind: 'nodata' };
    if (!Array.isArray(value)) return value;
    return value.length > 0 ? { kind: 'records', records: value } : { kind: 'nodata' };
  };
  return {
    resolveMx: async (name) => lookup(name, 'MX'),
    resolve4: async (name) => lookup(name, 'A'),
    resolve6: async (name) => lookup(name, 'AAAA'),
    resolveTxt: async (name) => lookup(name, 'TXT'),
  };
}
