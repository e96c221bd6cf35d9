// The records of records.ts as zone-file lines (RFC 1035 §5.1; TXT split in strings of at most
// 255 bytes) and as a table for a web DNS panel (name, type, value, TTL). Pure.
import type { DnsRecord } from './records.ts';

export function zoneFileLine(r: DnsRecord): string {
  return `${r.name}.\t${r.ttl}\tIN\t${r.type}\t${zoneValue(r)}`;
}

function zoneValue(r: DnsRecord): string {
  if (r.type !== 'TXT') return r.value;
  const chunks = r.value.match(/.{1,255}/g) ?? [''];
  return chunks.map((c) => `"${c.replace(/(["\\])/g, '\\$1')}"`).join(' ');
}

/** Zone-file lines with a comment per record; the PTRs, which go to the provider, last and apart. */
export function renderZone(records: readonly DnsRecord[]): string {
  const zone = records.filter((r) => r.where === 'zone');
  const provider = records.filter((r) => r.where === 'provider');
  const lines = ['; Publish in your DNS zone(s):'];
  for (const r of zone) lines.push(`; ${r.purpose}`, zoneFileLine(r));
  if (provider.length > 0) {
    lines.push('', '; Set at your hosting provider (reverse DNS of each address; most have a "PTR" or "rDNS" field in their panel):');
    for (const r of provider) lines.push(`; ${r.purpose}`, zoneFileLine(r));
  }
  return `${lines.join('\n')}\n`;
}

/** A plain-text table, one record per row: what a web DNS panel asks for. */
export function renderTable(records: readonly DnsRecord[]): string {
  const rows = [['NAME', 'TYPE', 'TTL', 'VALUE'], ...records.map((r) => [r.name, r.type, String(r.ttl), r.value])];
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((row) => (row[c] ?? '').length)));
  return `${rows.map((row) => row.map((cell, c) => (c < 3 ? cell.padEnd(widths[c] ?? 0) : cell)).join('  ')).join('\n')}\n`;
}
