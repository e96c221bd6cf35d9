// Does our resolver validate DNSSEC, and do we believe it? Asks the first server in [dns] servers
// for the root DNSKEY RRset with DO set (RFC 4035 §3.2.1): a validating resolver answers it with
// AD (the root is its trust anchor, RFC 4033 §5); then dns/trust.ts decides whether that AD counts.
// Run at start-up (logged) and by `sealpost status`. Network I/O: one query.
import { adTrust } from './trust.ts';
import { type DnsServerAddress, query, type WireOutcome } from './wire-client.ts';

export interface ValidationProbe {
  validating: boolean;
  /** Why, in words: "resolver 127.0.0.1:53 validates (AD set on the root DNSKEY answer) and is on loopback". */
  why: string;
}

export async function probeValidation(servers: readonly DnsServerAddress[], trustAd: boolean, timeoutMs: number): Promise<ValidationProbe> {
  const server = servers[0];
  if (server === undefined) return { validating: false, why: 'no DNS server: [dns] servers is empty and the system lists none' };
  return judgeProbe(server, await query([server], '.', 'DNSKEY', timeoutMs), trustAd);
}

/** The verdict on the root DNSKEY answer from `server` (pure). */
export function judgeProbe(server: DnsServerAddress, outcome: WireOutcome, trustAd: boolean): ValidationProbe {
  const at = server.host.includes(':') ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
  if (outcome.kind !== 'response') return { validating: false, why: `resolver ${at} did not answer the root DNSKEY query: ${outcome.detail}` };
  if (outcome.rcode !== 'NOERROR') return { validating: false, why: `resolver ${at} answered the root DNSKEY query with ${outcome.rcode}` };
  if (!outcome.response.flag_ad)
    return { validating: false, why: `resolver ${at} does not validate DNSSEC (no AD bit on the root DNSKEY answer); run unbound on 127.0.0.1` };
  const trust = adTrust(server.host, trustAd);
  if (!trust.trusted) return { validating: false, why: trust.why };
  return { validating: true, why: `resolver ${at} validates (AD set on the root DNSKEY answer); ${trust.why}` };
}

/** The status line: "DNSSEC validation: yes (…)" or "DNSSEC validation: no (…)". */
export function describeProbe(probe: ValidationProbe): string {
  return `DNSSEC validation: ${probe.validating ? 'yes' : 'no'} (${probe.why})`;
}
