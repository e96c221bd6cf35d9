// The _smtp._tls TXT record each of our domains publishes (RFC 8460 §3, pure): where other
// domains send their TLS reports about it ([[domain]] tlsrpt_rua), and the mailboxes of ours
// whose mail is read as reports.
import type { DomainConfig } from '../config/types.ts';

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
