// What each mail-log record counts for (pure): the record's facts → counter increments and
// histogram observations with bounded labels. Never an address, a sender's domain or a queue id as a
// label: every label value comes from a fixed list (anything else is "other"), except `user` (the
// authenticated submission users, a set the operator configures) and DNS query types.
import { TLS_LEVELS } from '../config/types.ts';
import type { MailEvent, MailEventFields } from '../log/log.ts';

/** The counters of metrics/registry.ts, by their short name. */
export type CounterName =
  | 'sessions'
  | 'received'
  | 'userMessages'
  | 'delivered'
  | 'deferred'
  | 'bounced'
  | 'hops'
  | 'acmeFailures'
  | 'auth'
  | 'dnsblRejections';

export type Labels = Readonly<Record<string, string>>;

export type Count =
  | { kind: 'counter'; name: CounterName; labels: Labels }
  /** Seconds from arrival to delivery (sealpost_delivery_latency_seconds). */
  | { kind: 'latency'; labels: Labels; seconds: number };

const LISTENERS = ['mx', 'submission', 'submissions', 'local'] as const;
/** Postfix's delivery agents (master.cf): smtp (MX), relay (a relay or transport-table next hop), lmtp; maildir for Postfix's virtual. */
export const AGENTS = ['smtp', 'relay', 'lmtp', 'maildir'] as const;
export const AUTH_RESULTS = ['ok', 'failed', 'refused', 'busy'] as const;
export const HOP_RESULTS = ['verified', 'unverified', 'plaintext', 'downgrade', 'failed'] as const;
/** rspamd's actions (https://rspamd.com/doc/faq.html#what-are-rspamd-actions) and our "error". */
const RSPAMD_ACTIONS = ['reject', 'soft reject', 'rewrite subject', 'add header', 'greylist', 'no action', 'error'] as const;
const DNS_TYPES = ['MX', 'A', 'AAAA', 'TXT', 'PTR', 'CNAME', 'CAA', 'TLSA'] as const;

function oneOf(value: unknown, allowed: readonly string[]): string {
  return typeof value === 'string' && allowed.includes(value) ? value : 'other';
}

/** A TLS version as Node names it ("TLSv1.3"), "none" without TLS. */
export function tlsLabel(version: unknown): string {
  if (version === undefined || version === null) return 'none';
  return typeof version === 'string' && /^TLSv1(\.[0-3])?$/.test(version) ? version : 'other';
}

/** The delivery agent of a delivered/deferred/bounced record; records of a worker without one: by its transport. */
export function agentLabel(fields: Readonly<Record<string, unknown>>): string {
  if (fields['agent'] !== undefined) return oneOf(fields['agent'], AGENTS);
  return fields['transport'] === 'local' ? 'maildir' : fields['transport'] === 'remote' ? 'smtp' : 'other';
}

/**
 * A hop's TLS result: verified / unverified (TLS, certificate not verified), plaintext, downgrade
 * (STARTTLS failed and the mail went in plaintext, only under "may": README "TLS policies"), or
 * failed (no SMTP session: the connection or the required TLS failed before any reply).
 */
export function hopResult(hop: MailEventFields['hop']): (typeof HOP_RESULTS)[number] {
  if (hop.downgrade) return 'downgrade';
  // outbound/hop.ts: a failed handshake is a tls field without a version.
  if (hop.tls && hop.tls.version !== '') return hop.tls.verified ? 'verified' : 'unverified';
  if (hop.tls || (hop.reply === null && hop.result !== 'delivered')) return 'failed';
  return 'plaintext';
}

/** The counts of one mail-log record ([] for the records no metric counts). */
export function countsOf<E extends MailEvent>(event: E, fields: MailEventFields[E]): Count[] {
  const f = fields as Readonly<Record<string, unknown>>;
  const counter = (name: CounterName, labels: Labels = {}): Count => ({ kind: 'counter', name, labels });
  switch (event) {
    case 'session': {
      const tls = f['tls'] as { version?: unknown } | null | undefined;
      return [counter('sessions', { listener: oneOf(f['listener'], LISTENERS), tls: tlsLabel(tls?.version) })];
    }
    case 'received': {
      const counts = [counter('received', { listener: oneOf(f['listener'], LISTENERS) })];
      // Only an authenticated session has a user: one of the users the operator added (bounded).
      if (typeof f['user'] === 'string' && f['user'] !== '') counts.push(counter('userMessages', { user: f['user'] }));
      return counts;
    }
    case 'delivered': {
      const transport = agentLabel(f);
      const counts = [counter('delivered', { transport })];
      const delayMs = f['delayMs'];
      if (typeof delayMs === 'number' && delayMs >= 0) counts.push({ kind: 'latency', labels: { transport }, seconds: delayMs / 1000 });
      return counts;
    }
    case 'deferred':
    case 'bounced':
      return [counter(event, { transport: agentLabel(f) })];
    case 'hop': {
      const hop = fields as MailEventFields['hop'];
      return [counter('hops', { policy: oneOf(hop.policy, TLS_LEVELS), result: hopResult(hop) })];
    }
    case 'cert':
      // acme/manager.ts: "failed" (the CA or the order failed), "refused" (the issued certificate was unusable).
      return f['source'] === 'acme' && (f['action'] === 'failed' || f['action'] === 'refused') ? [counter('acmeFailures')] : [];
    case 'auth':
      return [counter('auth', { result: oneOf(f['result'], AUTH_RESULTS) })];
    case 'rejected':
      return f['reason'] === 'dnsbl' ? [counter('dnsblRejections')] : [];
    default:
      return [];
  }
}

/** rspamd's answer for one scan (intake's record hook). */
export function rspamdLabels(direction: string, action: string): Labels {
  return { direction: oneOf(direction, ['inbound', 'outbound']), action: oneOf(action, RSPAMD_ACTIONS) };
}

/** A DNS answer that says "try again later" (servfail, timeout); undefined for an answer (records, NXDOMAIN, NODATA). */
export function dnsErrorLabels(type: string, kind: string): Labels | undefined {
  if (kind !== 'servfail' && kind !== 'timeout') return undefined;
  return { type: oneOf(type, DNS_TYPES), error: kind };
}
