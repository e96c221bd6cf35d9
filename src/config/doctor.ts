// The [doctor] section (pure): this server's public addresses (for the SPF and PTR records and the
// checks of `sealpost doctor`), the DNS blocklists to look ourselves up in, the host that the
// outbound port-25 probe connects to, and whether the checks also run at daemon start-up.
import net from 'node:net';
import { canonicalDomain } from '../core/address.ts';
import { parseHostPort, type Reader, type Table } from './fields.ts';
import type { DoctorConfig } from './types.ts';

export const DEFAULT_DNSBL = ['zen.spamhaus.org', 'bl.spamcop.net', 'b.barracudacentral.org'];
export const DEFAULT_DOMAIN_DNSBL = ['dbl.spamhaus.org'];

export function readDoctor(r: Reader, t: Table): DoctorConfig {
  r.unknownKeys(t, 'doctor', ['addresses', 'dnsbl', 'domain_dnsbl', 'probe_mx', 'at_startup']);
  const addresses = r.stringList(t, 'addresses', 'doctor', []);
  addresses.forEach((a, i) => {
    if (net.isIP(a) === 0) r.problem(`doctor.addresses[${i}]`, `"${a}" is not an IP address; write "203.0.113.7" or "2001:db8::7" (no port, no prefix)`);
  });
  const zones = (key: string, fallback: string[]) =>
    r.stringList(t, key, 'doctor', fallback).map((z, i) => {
      const zone = canonicalDomain(z);
      if (zone === '' || !zone.includes('.') || zone.startsWith('['))
        r.problem(`doctor.${key}[${i}]`, `"${z}" is not a DNS zone; write e.g. "zen.spamhaus.org"`);
      return zone;
    });
  const dnsbl = zones('dnsbl', DEFAULT_DNSBL);
  const domainDnsbl = zones('domain_dnsbl', DEFAULT_DOMAIN_DNSBL);
  const probeMx = r.string(t, 'probe_mx', 'doctor', 'gmail.com');
  if (probeMx.includes(':') || /^[\d.]+$/.test(probeMx)) {
    if (typeof parseHostPort(probeMx) === 'string') r.problem('doctor.probe_mx', `"${probeMx}" is neither a domain (its MX is probed) nor "IP:PORT"`);
  } else if (!canonicalDomain(probeMx).includes('.')) {
    r.problem('doctor.probe_mx', `"${probeMx}" is not a domain; write a domain whose MX accepts connections on port 25, e.g. "gmail.com"`);
  }
  return { addresses, dnsbl, domainDnsbl, probeMx, atStartup: r.boolean(t, 'at_startup', 'doctor', true) };
}
