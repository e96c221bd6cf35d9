// Checks 1 and 2 (pure): the hostname's A/AAAA are our public addresses, and each address has a
// forward-confirmed PTR naming the hostname (Gmail and Outlook.com require FCrDNS of senders).
import net from 'node:net';
import { expandIpv6, reverseName } from '../../dns/names.ts';
import { type DoctorFacts, describe, type Finding, ok, problem, records } from '../findings.ts';

/** Loopback, RFC 1918, CGNAT (RFC 6598), link-local, ULA (RFC 4193), unspecified: not reachable from the Internet. */
export function notPublic(ip: string): string | undefined {
  if (net.isIPv4(ip)) {
    const [a = 0, b = 0] = ip.split('.').map(Number);
    if (a === 127) return 'loopback';
    if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'private (RFC 1918)';
    if (a === 100 && b >= 64 && b <= 127) return 'carrier-grade NAT (RFC 6598)';
    if (a === 169 && b === 254) return 'link-local';
    if (a === 0) return 'unspecified';
    return undefined;
  }
  const v = ip.toLowerCase();
  if (v === '::1') return 'loopback';
  if (v === '::') return 'unspecified';
  if (/^f[cd]/.test(v)) return 'unique local (RFC 4193)';
  if (/^fe[89ab]/.test(v)) return 'link-local';
  if (v.startsWith('::ffff:')) return notPublic(v.slice(7));
  return undefined;
}

export function checkHost(f: DoctorFacts): Finding[] {
  const out: Finding[] = [];
  const h = f.hostname;
  const published = [...records(f.hostA), ...records(f.hostAaaa)];
  const source = { flag: '--ip', config: 'doctor.addresses', machine: "the machine's global addresses" }[f.addressSource];
  if (f.addresses.length === 0) {
    out.push(
      problem(
        'error',
        'host.no-addresses',
        h,
        `no public address: ${source} gave none`,
        'without knowing our addresses nothing can be checked against them, and other servers cannot reach this one',
        'set doctor.addresses = ["203.0.113.7", "2001:db8::7"] (your public IPs) in the config, or run sealpost doctor --ip IP',
      ),
    );
  }
  for (const ip of f.addresses) {
    const bad = notPublic(ip);
    if (bad)
      out.push(
        problem(
          'error',
          'host.not-public',
          ip,
          `${ip} is ${bad}`,
          'other mail servers cannot connect to it',
          `list your public addresses in doctor.addresses (or --ip); publish those in the A/AAAA records of ${h}`,
        ),
      );
  }
  if (published.length === 0) {
    const found =
      f.hostA.kind === 'records' || f.hostAaaa.kind === 'records' ? '' : `A: ${describe(f.hostA, 'A records')}; AAAA: ${describe(f.hostAaaa, 'AAAA records')}`;
    const lines = f.addresses.map((ip) => `${h}. IN ${net.isIPv6(ip) ? 'AAAA' : 'A'} ${ip}`).join(' and ') || `${h}. IN A <your IPv4 address>`;
    out.push(problem('error', 'host.missing', h, found, `${h} is the name in the MX record, EHLO and the certificate: it must resolve`, `publish ${lines}`));
    return out;
  }
  for (const ip of f.addresses) {
    const list = net.isIPv6(ip) ? records(f.hostAaaa) : records(f.hostA);
    if (!list.some((x) => sameIp(x, ip))) {
      out.push(
        problem(
          'error',
          'host.address-missing',
          h,
          `${h} has ${net.isIPv6(ip) ? 'AAAA' : 'A'} ${list.join(', ') || '(none)'}, not ${ip}`,
          `mail sent from ${ip} does not match the forward DNS of ${h}, so its PTR is not forward-confirmed`,
          `publish ${h}. IN ${net.isIPv6(ip) ? 'AAAA' : 'A'} ${ip}`,
        ),
      );
    }
  }
  for (const ip of published) {
    if (!f.addresses.some((x) => sameIp(x, ip))) {
      out.push(
        problem(
          'error',
          'host.foreign-address',
          h,
          `${h} has the address ${ip}, which is not one of this server's (${f.addresses.join(', ') || 'none'})`,
          'other servers deliver mail for your domains to that address',
          `remove ${ip} from the A/AAAA records of ${h}, or add it to doctor.addresses if it is this server`,
        ),
      );
    }
  }
  if (!out.some((x) => x.id.startsWith('host.'))) out.push(ok('host.addresses', h, `${h} → ${published.join(', ')} (${source})`));
  return out;
}

export function checkPtr(f: DoctorFacts): Finding[] {
  return f.ptr.map((p) => {
    const v6 = net.isIPv6(p.ip);
    const setIt = `set the PTR of ${p.ip} (${reverseName(p.ip)}) to ${f.hostname} at your hosting provider`;
    const names = records(p.names);
    if (names.length === 0) {
      return problem(
        'error',
        'ptr.missing',
        p.ip,
        `no PTR for ${p.ip}: ${describe(p.names, 'PTR records')}`,
        'Gmail, Outlook.com and most receivers refuse or spam-folder mail from an address without forward-confirmed reverse DNS',
        v6
          ? `${setIt}; or send over IPv4 only (outbound.address_family = "ipv4") until it is set, or from an IPv6 address that has one (outbound.source_ipv6)`
          : setIt,
      );
    }
    const confirmed = names.filter((n) => records(p.forward[n] ?? { kind: 'nodata' }).some((x) => sameIp(x, p.ip)));
    if (confirmed.length === 0) {
      return problem(
        'error',
        'ptr.not-confirmed',
        p.ip,
        `PTR ${names.join(', ')}, which does not resolve back to ${p.ip}`,
        'reverse DNS counts only when forward-confirmed (the PTR name has an A/AAAA record with the same address)',
        `publish ${names[0]}. IN ${v6 ? 'AAAA' : 'A'} ${p.ip}, or ${setIt}`,
      );
    }
    if (!confirmed.some((n) => n.toLowerCase().replace(/\.$/, '') === f.hostname)) {
      return problem(
        'warning',
        'ptr.other-name',
        p.ip,
        `PTR ${confirmed.join(', ')} (forward-confirmed), not ${f.hostname}`,
        'receivers compare the PTR with the EHLO name; a mismatch costs reputation',
        setIt,
      );
    }
    return ok('ptr.confirmed', p.ip, `PTR ${f.hostname}, which resolves back to ${p.ip}`);
  });
}

export function sameIp(a: string, b: string): boolean {
  if (a === b) return true;
  return net.isIPv6(a) && net.isIPv6(b) && expandIpv6(a) === expandIpv6(b);
}
