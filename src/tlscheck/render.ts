// The tls-check report as text for a person (pure): per MX host and address what the server
// said, the TLS it negotiated with and without SNI, the chain as sent, every problem with its
// fix, and what Sealpost would do; a result line at the end.
import type { AddressReport, CertSummary, MxReport, StsReport, TlsCheckReport, TlsView } from './report.ts';

const DAY = 86_400_000;

export function renderReport(r: TlsCheckReport, now: number): string {
  const out: string[] = [];
  const what = r.kind === 'domain' ? 'the MX hosts of' : 'the host';
  out.push(`tls-check: ${what} ${r.target}, port ${r.port}, DNS ${r.dns}, ${r.checkedAt}`);
  if (r.kind === 'domain') out.push(`MTA-STS   ${describeSts(r.mtaSts)}`);
  out.push(`policy    Sealpost would use ${r.policy.text}`);
  if (r.dnsError) out.push('', `DNS: ${r.dnsError}`);
  for (const mx of r.mx) out.push('', ...renderMx(mx, r.kind, now));
  out.push('', resultLine(r));
  return `${out.join('\n')}\n`;
}

function describeSts(sts: StsReport | null): string {
  if (sts === null) return 'none (no _mta-sts TXT record): senders apply no MTA-STS policy';
  const head = sts.id === null ? '' : `record id ${sts.id}; `;
  if (sts.error) return `${head}problem: ${sts.error}`;
  const p = sts.policy;
  return p ? `${head}mode ${p.mode}, mx ${p.mx.join(', ') || '(none)'}, max_age ${p.maxAge} s` : `${head}no policy`;
}

function renderMx(mx: MxReport, kind: TlsCheckReport['kind'], now: number): string[] {
  const label = kind === 'domain' ? `MX ${mx.preference} ${mx.name}${mx.implicit ? ' (no MX records: the domain itself)' : ''}` : `host ${mx.name}`;
  const out = [`${label}: ${mx.verified ? 'verified' : 'NOT verified'}`];
  if (mx.mtaStsAllowed !== null) out.push(`  MTA-STS      ${mx.mtaStsAllowed ? 'listed in the policy' : 'NOT listed in the policy'}`);
  if (mx.dnsError) out.push(`  DNS          ${mx.dnsError}`);
  if (mx.dane) {
    const secure = mx.dane.secure === null ? 'not checked' : mx.dane.secure ? 'DNSSEC-secure' : 'NOT DNSSEC-secure';
    out.push(`  TLSA         ${mx.dane.name}: ${mx.dane.records.length === 0 ? 'no records' : `${mx.dane.records.length} record(s)`}, ${secure}`);
    for (const r of mx.dane.records) out.push(`               ${r.record}${r.usable ? '' : ` (unusable: ${r.why})`}`);
    out.push(`  DANE         ${mx.dane.text}`);
  }
  for (const a of mx.addresses) out.push(...renderAddress(a, now));
  return out;
}

function renderAddress(a: AddressReport, now: number): string[] {
  const out = [`  ${a.ip.includes(':') ? `[${a.ip}]` : a.ip} port ${a.port}`];
  const row = (label: string, value: string): void => {
    out.push(`    ${label.padEnd(13)}${value}`);
  };
  if (a.error) row('error', a.error);
  if (a.banner) row('banner', a.banner);
  if (a.ehlo) row('EHLO', a.ehlo.join(', ') || '(no extensions)');
  if (a.reachable) row('STARTTLS', a.starttls ? 'offered' : 'not offered');
  if (a.ehloAfterTls) row('EHLO in TLS', a.ehloAfterTls.join(', ') || '(no extensions)');
  if (a.withSni) row('with SNI', tlsLine(a.withSni));
  if (a.withoutSni)
    row(
      'without SNI',
      `${tlsLine(a.withoutSni)}${a.withSni ? (a.withoutSni.leaf.fingerprint256 === a.withSni.leaf.fingerprint256 ? ', same certificate' : `, a different certificate: ${a.withoutSni.leaf.subject}`) : ''}`,
    );
  if (a.chain.length > 0) {
    out.push('    chain as sent');
    for (const [i, c] of a.chain.entries()) out.push(...renderCert(c, i, now));
    if (a.trustAnchor)
      out.push(
        `      trusted root ${a.trustAnchor.subject}${a.chain.some((c) => c.fingerprint256 === a.trustAnchor?.fingerprint256) ? '' : " (from this machine's CA store)"}`,
      );
  }
  if (a.dane) row('DANE', a.dane.matched ? `the chain as sent matches TLSA ${a.dane.matched}` : `NO match: ${a.dane.error ?? ''}`);
  if (a.reachable) row('verified', a.verified ? 'yes' : 'no');
  for (const f of a.findings) row(f.severity === 'error' ? 'problem' : 'warning', f.text);
  row('Sealpost', a.delivery.text);
  return out;
}

function tlsLine(t: TlsView): string {
  return `${t.version} ${t.cipher}, ${t.verified ? 'verified' : 'not verified'}`;
}

function renderCert(c: CertSummary, i: number, now: number): string[] {
  const left = Math.floor((Date.parse(c.notAfter) - now) / DAY);
  const validity = left < 0 ? `expired ${-left} day${left === -1 ? '' : 's'} ago` : `${left} day${left === 1 ? '' : 's'} left`;
  return [
    `      [${i}] ${c.subject || '(empty subject)'}`,
    ...(c.dnsNames.length > 0 ? [`          names   ${c.dnsNames.join(', ')}`] : []),
    `          issuer  ${c.issuer}${c.selfIssued ? ' (itself)' : ''}`,
    `          valid   ${c.notBefore.slice(0, 10)} to ${c.notAfter.slice(0, 10)} (${validity})`,
  ];
}

function resultLine(r: TlsCheckReport): string {
  if (r.verified) return `result: ${r.kind === 'domain' ? `every MX host of ${r.target} verifies` : `${r.target} verifies`} (exit 0)`;
  if (r.mx.length === 0) return `result: no MX host to check (exit 1)`;
  const failing = r.mx.filter((m) => !m.verified).map((m) => m.name);
  return `result: ${failing.length} of ${r.mx.length} host${r.mx.length === 1 ? '' : 's'} ${failing.length === 1 ? 'does' : 'do'} not verify: ${failing.join(', ')} (exit 1)`;
}
