// `sealpost mta-sts show` in words (pure): for each policy we host, the DNS records to publish
// (with the domain's _smtp._tls record, RFC 8460 §3), the policy text, what DNS says now (the id
// published, an old one, or none), and whether the TLS reports received allow "enforce".
import type { DnsAnswer } from '../dns/resolver.ts';
import { describeAnswer } from '../dns/resolver.ts';
import { parseStsTxt } from '../tls-policy/mta-sts.ts';
import type { TlsRptDnsState, TlsRptRecord } from '../tlsrpt/record.ts';
import { describeAdvice, type EnforceAdvice } from '../tlsrpt/summary.ts';
import { type HostedPolicy, POLICY_PATH } from './policy.ts';

export type DnsState =
  | { kind: 'current'; id: string }
  /** DNS has another id: senders keep the policy they cached under it until they see ours. */
  | { kind: 'old'; id: string }
  | { kind: 'missing'; detail: string }
  | { kind: 'unknown'; detail: string };

export interface PolicyShow {
  policy: HostedPolicy;
  dns: DnsState;
  /** Whether mta-sts.<domain> has addresses (A or AAAA, through a CNAME or not), or why not. */
  host: { kind: 'resolves'; addresses: string[] } | { kind: 'missing'; detail: string };
  /** The domain's _smtp._tls record ([[domain]] tlsrpt_rua), absent without one. */
  tlsrpt?: TlsRptRecord & { dns: TlsRptDnsState };
  /** What the TLS reports received about the domain say about enforcing. */
  advice?: EnforceAdvice;
}

/** What the A and AAAA answers for `policy.host` say. */
export function hostState(policy: HostedPolicy, a: DnsAnswer<string>, aaaa: DnsAnswer<string>): PolicyShow['host'] {
  const addresses = [a, aaaa].flatMap((x) => (x.kind === 'records' ? x.records : []));
  return addresses.length > 0 ? { kind: 'resolves', addresses } : { kind: 'missing', detail: describeAnswer(policy.host, 'A', a) };
}

/** What the _mta-sts TXT answer says about `policy`. */
export function dnsState(policy: HostedPolicy, answer: DnsAnswer<string>): DnsState {
  if (answer.kind === 'servfail' || answer.kind === 'timeout') return { kind: 'unknown', detail: describeAnswer(policy.txtName, 'TXT', answer) };
  if (answer.kind !== 'records') return { kind: 'missing', detail: describeAnswer(policy.txtName, 'TXT', answer) };
  const parsed = parseStsTxt(answer.records);
  if ('error' in parsed) return { kind: 'missing', detail: `${policy.txtName} TXT: ${parsed.error}` };
  return parsed.id === policy.id ? { kind: 'current', id: parsed.id } : { kind: 'old', id: parsed.id };
}

/** The report; `warnings` counts what needs the operator (an old or missing id, no HTTPS listener). */
export function renderShow(shows: readonly PolicyShow[], facts: { hostname: string; httpsListening: boolean }): { text: string; warnings: number } {
  if (shows.length === 0)
    return { text: 'no domain hosts an MTA-STS policy: set mta_sts = "testing" in a [[domain]] and listen.https (see README "MTA-STS")\n', warnings: 0 };
  const lines: string[] = [];
  let warnings = 0;
  if (!facts.httpsListening) {
    warnings++;
    lines.push('WARNING listen.https is empty: nothing serves these policies; add https = ["0.0.0.0:443", "[::]:443"] to [listen]', '');
  }
  for (const { policy, dns, host, tlsrpt, advice } of shows) {
    lines.push(`${policy.domain} (mode ${policy.mode})`);
    lines.push('  publish:');
    lines.push(`    ${policy.txtName}. IN TXT "${policy.txt}"`);
    lines.push(`    ${policy.host}. IN CNAME ${facts.hostname}.   (or A/AAAA records of this server)`);
    if (tlsrpt) lines.push(`    ${tlsrpt.name}. IN TXT "${tlsrpt.value}"   (where senders send TLS reports)`);
    else lines.push(`    (no _smtp._tls record: set tlsrpt_rua = "tlsrpt@${policy.domain}" in its [[domain]] to receive TLS reports)`);
    lines.push(`  policy at https://${policy.host}${POLICY_PATH}:`);
    for (const line of policy.text.split('\r\n').filter((l) => l !== '')) lines.push(`    ${line}`);
    switch (dns.kind) {
      case 'current':
        lines.push(`  ok      DNS has id=${dns.id}, this policy's`);
        break;
      case 'old':
        warnings++;
        lines.push(
          `  WARNING DNS still has id=${dns.id}, not ${policy.id}: senders keep the policy they cached until the id changes; publish the TXT record above`,
        );
        break;
      case 'missing':
        warnings++;
        lines.push(`  WARNING ${dns.detail}: senders do not look for the policy; publish the TXT record above`);
        break;
      case 'unknown':
        warnings++;
        lines.push(`  WARNING could not check DNS (${dns.detail}); try again`);
        break;
    }
    if (tlsrpt) {
      const d = tlsrpt.dns;
      if (d.kind === 'current') lines.push(`  ok      DNS has ${tlsrpt.name} with this rua`);
      else {
        warnings++;
        lines.push(
          d.kind === 'other'
            ? `  WARNING DNS has ${tlsrpt.name} "${d.value}": reports go there, not to tlsrpt_rua; publish the TXT record above`
            : d.kind === 'missing'
              ? `  WARNING ${d.detail}: senders do not send TLS reports; publish the TXT record above`
              : `  WARNING could not check DNS (${d.detail}); try again`,
        );
      }
    }
    if (host.kind === 'resolves') lines.push(`  ok      ${policy.host} resolves to ${host.addresses.join(', ')}`);
    else {
      warnings++;
      lines.push(`  WARNING ${host.detail}: senders cannot fetch the policy; publish the CNAME (or A/AAAA) above`);
    }
    if (advice) lines.push(`  reports ${describeAdvice(advice, policy.mode)}`);
    if (policy.mode === 'testing')
      lines.push(
        `  next:   senders only report under "testing"; switch to mta_sts = "enforce" once TLS reports (RFC 8460) show no failures, then publish the new id${advice?.kind === 'safe' ? ' (the reports say: now)' : ''}`,
      );
    lines.push('');
  }
  return { text: `${lines.join('\n')}`, warnings };
}
