// The records `sealpost init --records --json` prints, loaded into the test DNS server's zone
// (test/helpers/dns-server.ts): what an operator does in a DNS panel and at the hosting provider.
import type { DnsRecord } from '../../src/records/records.ts';
import type { Zone, ZoneEntry } from './dns-server.ts';

export function addRecords(zone: Zone, records: readonly DnsRecord[]): Zone {
  for (const r of records) {
    const name = r.name.toLowerCase();
    const entry: ZoneEntry = zone.get(name) ?? {};
    switch (r.type) {
      case 'MX': {
        const [pref = '0', exchange = ''] = r.value.split(/\s+/);
        entry.MX = [...(entry.MX ?? []), { preference: Number(pref), exchange: exchange.replace(/\.$/, '') }];
        break;
      }
      case 'A':
      case 'AAAA':
      case 'TXT':
        entry[r.type] = [...(entry[r.type] ?? []), r.value];
        break;
      case 'PTR':
        entry.PTR = [...(entry.PTR ?? []), r.value.replace(/\.$/, '')];
        break;
      case 'CAA': {
        const m = /^(\d+)\s+(\S+)\s+"(.*)"$/.exec(r.value);
        if (!m) throw new Error(`zone-records: cannot read CAA ${r.value}`);
        entry.CAA = [...(entry.CAA ?? []), { flags: Number(m[1]), tag: m[2] as string, value: m[3] as string }];
        break;
      }
    }
    zone.set(name, entry);
  }
  return zone;
}
