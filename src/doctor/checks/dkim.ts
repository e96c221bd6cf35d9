// Checks 5 and 6 (pure): each configured DKIM selector's TXT record exists and holds the public
// key of the key on disk (RFC 6376 §3.6.1); DMARC (RFC 7489 §6.3) exists, parses, has p=, is
// aligned with our signing (d= is the From domain), and its rua address can receive reports.
import { type DoctorFacts, describe, type Finding, ok, problem, records } from '../findings.ts';

/** A DKIM or DMARC tag list "k=v; k=v" (RFC 6376 §3.2) as a map; keys lowercase, whitespace folded out. */
export function tags(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    out.set(part.slice(0, i).trim().toLowerCase(), part.slice(i + 1).replace(/\s+/g, ''));
  }
  return out;
}

export function checkDkim(f: DoctorFacts): Finding[] {
  const out: Finding[] = [];
  for (const d of f.domains) {
    for (const k of d.dkim) {
      const name = `${k.selector}._domainkey.${d.name}`;
      if (!k.expected.ok) {
        out.push(
          problem(
            'error',
            'dkim.key-unreadable',
            name,
            k.expected.reason,
            'Sealpost refuses to start without its configured DKIM keys',
            `sealpost dkim keygen --domain ${d.name} --selector ${k.selector} --config FILE`,
          ),
        );
        continue;
      }
      const want = `${name}. IN TXT "${k.expected.record}"`;
      const published = records(k.published).filter((t) => /^v=DKIM1/i.test(t.trim()) || tags(t).has('p'));
      if (published.length === 0) {
        out.push(
          problem(
            'error',
            'dkim.missing',
            name,
            `no DKIM record: ${describe(k.published, 'TXT records')}`,
            'receivers cannot verify the signature: DKIM fails and DMARC depends on SPF alone',
            `publish ${want} (sealpost dkim show prints it)`,
          ),
        );
        continue;
      }
      const expectedKey = tags(k.expected.record).get('p');
      if (!published.some((t) => tags(t).get('p') === expectedKey)) {
        out.push(
          problem(
            'error',
            'dkim.mismatch',
            name,
            `the published key (p=${(tags(published[0] as string).get('p') ?? '').slice(0, 24)}…) is not the key on disk (p=${(expectedKey ?? '').slice(0, 24)}…)`,
            'every signature fails verification',
            `replace the record with ${want}`,
          ),
        );
        continue;
      }
      out.push(ok('dkim.match', name, 'the published key matches the key on disk'));
    }
  }
  return out;
}

export function checkDmarc(f: DoctorFacts): Finding[] {
  const out: Finding[] = [];
  for (const d of f.domains) {
    const name = `_dmarc.${d.name}`;
    const want = `${name}. IN TXT "v=DMARC1; p=none; rua=mailto:postmaster@${d.name}"`;
    const found = records(d.dmarc).filter((t) => /^v=DMARC1(\s*;|\s*$)/i.test(t.trim()));
    if (found.length === 0) {
      out.push(
        problem(
          'error',
          'dmarc.missing',
          d.name,
          `no DMARC record at ${name}: ${describe(d.dmarc, 'TXT records')}`,
          'Gmail and Yahoo require DMARC from bulk senders, and without it receivers have no policy for forged mail',
          `publish ${want}`,
        ),
      );
      continue;
    }
    if (found.length > 1) {
      out.push(
        problem(
          'error',
          'dmarc.multiple',
          d.name,
          `${found.length} DMARC records`,
          'receivers ignore DMARC when there is more than one record (RFC 7489 §6.6.3)',
          `keep one: ${want}`,
        ),
      );
      continue;
    }
    const t = tags(found[0] as string);
    const p = t.get('p');
    if (p === undefined || !['none', 'quarantine', 'reject'].includes(p.toLowerCase())) {
      out.push(
        problem(
          'error',
          'dmarc.no-policy',
          d.name,
          p === undefined ? 'the record has no p= tag' : `p=${p} is not none, quarantine or reject`,
          'a record without a valid p= is not a DMARC record (RFC 7489 §6.3)',
          `publish ${want}`,
        ),
      );
      continue;
    }
    const signs = d.dkim.length > 0;
    const rua = (t.get('rua') ?? '')
      .split(',')
      .filter((u) => u !== '')
      .map((u) =>
        u
          .replace(/^mailto:/i, '')
          .replace(/!.*$/, '')
          .toLowerCase(),
      );
    if (!signs) {
      out.push(
        problem(
          'warning',
          'dmarc.unaligned',
          d.name,
          `${d.name} has no DKIM selector: DMARC passes only on SPF alignment`,
          'forwarded mail loses SPF and then fails DMARC; an aligned DKIM signature (d= the From domain) survives forwarding',
          `sealpost dkim keygen --domain ${d.name} --selector s${new Date(f.now).getUTCFullYear()} --config FILE, publish the record, then list it in dkim_selectors`,
        ),
      );
    }
    if (rua.length === 0) {
      out.push(
        problem(
          'warning',
          'dmarc.no-rua',
          d.name,
          `p=${p} without rua=`,
          'aggregate reports show who sends as your domain; without them you tighten the policy blind',
          `add rua=mailto:postmaster@${d.name} to the record`,
        ),
      );
    }
    for (const address of rua) {
      const [local = '', domain = ''] = address.split('@');
      if (d.ourDomains.includes(domain) && domain === d.name && !d.localParts.includes(local)) {
        out.push(
          problem(
            'error',
            'dmarc.rua-unknown',
            d.name,
            `rua=mailto:${address}, but ${local} is no mailbox or alias of ${d.name}`,
            'the reports would be refused (550 5.1.1)',
            `add ${local} to the mailboxes or aliases of ${d.name}, or point rua at one that exists`,
          ),
        );
      }
    }
    if (!out.some((x) => x.subject === d.name && x.id.startsWith('dmarc.'))) {
      const next = p.toLowerCase() === 'none' ? '; once the reports show only your own mail, move to p=quarantine, then p=reject' : '';
      out.push(ok('dmarc.ok', d.name, `p=${p}, rua=${rua.join(',')}, DKIM d=${d.name} aligned${next}`));
    }
  }
  return out;
}
