// Check 3 (pure): each domain's MX names our hostname, is not a null MX (RFC 7505), and the MX
// host is not a CNAME (RFC 2181 §10.3) and resolves.
import { type DoctorFacts, describe, type Finding, ok, problem, records } from '../findings.ts';

export function checkMx(f: DoctorFacts): Finding[] {
  const out: Finding[] = [];
  for (const d of f.domains) {
    const want = `${d.name}. IN MX 10 ${f.hostname}.`;
    const mx = records(d.mx);
    if (mx.length === 0) {
      out.push(
        problem(
          'error',
          'mx.missing',
          d.name,
          `no MX record: ${describe(d.mx, 'MX records')}`,
          `without an MX other servers try the A record of ${d.name}, which is rarely this server`,
          `publish ${want}`,
        ),
      );
      continue;
    }
    // RFC 7505 §3: a null MX (preference 0, ".") says the domain accepts no mail.
    if (mx.some((m) => m.exchange === '' || m.exchange === '.')) {
      out.push(
        problem(
          'error',
          'mx.null',
          d.name,
          `a null MX ("0 .": ${d.name} accepts no mail)`,
          'senders bounce every message to the domain at once (RFC 7505)',
          `replace it with ${want}`,
        ),
      );
      continue;
    }
    const ours = mx.find((m) => m.exchange === f.hostname);
    if (!ours) {
      out.push(
        problem(
          'error',
          'mx.elsewhere',
          d.name,
          `MX ${mx.map((m) => `${m.preference} ${m.exchange}`).join(', ')}; ${f.hostname} is not among them`,
          `mail for ${d.name} goes to another server`,
          `publish ${want} (and remove the other MX records unless they are backups that relay to ${f.hostname})`,
        ),
      );
      continue;
    }
    const best = Math.min(...mx.map((m) => m.preference));
    const host = d.mxHosts.find((h) => h.name === f.hostname);
    if (host && host.cname.kind === 'records') {
      out.push(
        problem(
          'error',
          'mx.cname',
          f.hostname,
          `${f.hostname} is a CNAME for ${host.cname.records.join(', ')}`,
          'an MX must name a host with its own A/AAAA records, not an alias (RFC 2181 §10.3, RFC 5321 §5.1); some senders refuse it',
          `replace the CNAME of ${f.hostname} with A/AAAA records`,
        ),
      );
      continue;
    }
    if (host && records(host.a).length === 0 && records(host.aaaa).length === 0) {
      out.push(
        problem(
          'error',
          'mx.unresolved',
          f.hostname,
          `the MX host has no address (A: ${describe(host.a, 'A records')})`,
          'senders cannot connect to it',
          `publish ${f.hostname}. IN A <your IPv4 address>`,
        ),
      );
      continue;
    }
    const note = ours.preference === best ? '' : ` (but ${mx.find((m) => m.preference === best)?.exchange} is preferred)`;
    out.push(
      note
        ? problem(
            'warning',
            'mx.not-preferred',
            d.name,
            `MX ${ours.preference} ${f.hostname}${note}`,
            'mail goes first to the preferred MX',
            `lower the preference of ${f.hostname}, or make sure the other MX relays to it`,
          )
        : ok('mx.ours', d.name, `MX ${ours.preference} ${f.hostname}`),
    );
  }
  return out;
}
