// The _smtp._tls TXT record each of our domains publishes (RFC 8460 §3, pure): where other
// domains send their TLS reports about it ([[domain]] tlsrpt_rua), and the mailboxes of ours
// whose mail is read as reports; and what DNS has published for it.
import type { DomainConfig } from '../config/types.ts';
import { type DnsAnswer, describeAnswer } from '../dns/resolver.ts';

export interface TlsRptRecord {
  domain: string;
  /** _smtp._tls.<domain> */
  name: string;
  /** "v=TLSRPTv1; rua=mailto:tlsrpt@example.org" */
  value: string;
  /** The mailbox of ours that reads the reports, or '' when they go elsewhere. */
  mailbox: string;
}

/** One record per [[domain]] with tlsrpt_rua, in [[domain]] order. */
export function tlsRptRecords(domains: readonly Pick<DomainConfig, 'name' | 'tlsrptRua'>[]): TlsRptRecord[] {
  return domains.flatMap((d) =>
    d.tlsrptRua ? [{ domain: d.name, name: `_smtp._tls.${d.name}`, value: `v=TLSRPTv1; rua=${d.tlsrptRua.uri}`, mailbox: d.tlsrptRua.mailbox }] : [],
  );
}

/** The mailboxes of ours that receive reports (the local courier reads their mail). */
export function reportMailboxes(domains: readonly Pick<DomainConfig, 'name' | 'tlsrptRua'>[]): Set<string> {
  return new Set(tlsRptRecords(domains).flatMap((r) => (r.mailbox !== '' ? [r.mailbox] : [])));
}

export type TlsRptDnsState =
  | { kind: 'current' }
  /** One TLSRPT record, without our rua: reports go where it says. */
  | { kind: 'other'; value: string }
  | { kind: 'missing'; detail: string }
  | { kind: 'unknown'; detail: string };

/** What the TXT answer for `record.name` says: our rua published, another one, none (RFC 8460 §3). */
export function publishedState(record: TlsRptRecord, answer: DnsAnswer<string>): TlsRptDnsState {
  if (answer.kind === 'servfail' || answer.kind === 'timeout') return { kind: 'unknown', detail: describeAnswer(record.name, 'TXT', answer) };
  if (answer.kind !== 'records') return { kind: 'missing', detail: describeAnswer(record.name, 'TXT', answer) };
  // RFC 8460 §3: records not starting with "v=TLSRPTv1" are discarded; unless exactly one is
  // left, senders act as if the domain had none.
  const ours = answer.records.map((r) => r.trim()).filter((r) => /^v=TLSRPTv1\s*(;|$)/.test(r));
  if (ours.length !== 1)
    return { kind: 'missing', detail: `${record.name} TXT: ${ours.length} records start with v=TLSRPTv1; senders use none unless there is exactly one` };
  const value = ours[0] as string;
  const rua = value
    .split(';')
    .map((f) => f.trim())
    .find((f) => /^rua\s*=/i.test(f));
  const uris = (rua?.replace(/^rua\s*=/i, '') ?? '').split(',').map((u) => u.trim().toLowerCase());
  return uris.includes(record.value.slice(record.value.indexOf('rua=') + 4).toLowerCase()) ? { kind: 'current' } : { kind: 'other', value };
}
