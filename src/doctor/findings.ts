// What `sealpost doctor` reports (pure types and helpers): one finding per check, with what it
// found, why it matters and the exact fix; the facts the checks read, gathered by gather.ts.

import type { TlsLevel } from '../config/types.ts';
import type { SmtpReply } from '../core/delivery.ts';
import type { DnsAnswer, MxRecord } from '../dns/resolver.ts';
import type { TlsObserved } from '../tls-policy/evaluate.ts';
import type { CertSummary } from '../tlscheck/chain.ts';

export type Level = 'ok' | 'warning' | 'error';

export interface Finding {
  /** Stable id for scripts, "family.what": "ptr.missing", "spf.multiple". */
  id: string;
  level: Level;
  /** What was checked: "203.0.113.7", "example.org", "mx.example.org:25". */
  subject: string;
  found: string;
  /** Why it matters (empty for ok). */
  why: string;
  /** The exact fix: the record, the config key or the command (empty for ok). */
  fix: string;
}

export function ok(id: string, subject: string, found: string): Finding {
  return { id, level: 'ok', subject, found, why: '', fix: '' };
}

export function problem(level: 'warning' | 'error', id: string, subject: string, found: string, why: string, fix: string): Finding {
  return { id, level, subject, found, why, fix };
}

/** Exit code of `sealpost doctor`: 0 without errors, 1 with. */
export function exitCode(findings: readonly Finding[]): 0 | 1 {
  return findings.some((f) => f.level === 'error') ? 1 : 0;
}

export function counts(findings: readonly Finding[]): Record<Level, number> {
  const c: Record<Level, number> = { ok: 0, warning: 0, error: 0 };
  for (const f of findings) c[f.level]++;
  return c;
}

export interface PtrFacts {
  ip: string;
  names: DnsAnswer<string>;
  /** Each PTR name → its addresses of the IP's family (A or AAAA). */
  forward: Record<string, DnsAnswer<string>>;
}

export interface MxHostFacts {
  name: string;
  cname: DnsAnswer<string>;
  a: DnsAnswer<string>;
  aaaa: DnsAnswer<string>;
}

export interface DkimFacts {
  selector: string;
  /** The TXT value our key on disk publishes, or why the key could not be read. */
  expected: { ok: true; record: string } | { ok: false; reason: string };
  published: DnsAnswer<string>;
}

export interface DomainFacts {
  name: string;
  mx: DnsAnswer<MxRecord>;
  mxHosts: MxHostFacts[];
  /** Every TXT record at the domain (SPF is the ones starting "v=spf1"). */
  txt: DnsAnswer<string>;
  /** The SPF record of each domain an include: or redirect= reaches (null: none or not found). */
  spfTree: Record<string, string | null>;
  /** mailauth's SPF result for each of our addresses. */
  spfResults: { ip: string; result: string; comment: string }[];
  dkim: DkimFacts[];
  dmarc: DnsAnswer<string>;
  /** Local parts that receive mail here (mailboxes and aliases), for the DMARC rua check. */
  localParts: string[];
  /** All our domains, to tell a local rua from an external one. */
  ourDomains: string[];
}

export type CertProbe =
  | { kind: 'down'; detail: string }
  | { kind: 'no-starttls' }
  | { kind: 'failed'; detail: string }
  | { kind: 'tls'; authorized: boolean; code?: string; leaf: CertSummary; nameError?: string };

export interface CertFacts {
  listener: 'smtp' | 'submissions';
  address: string;
  probe: CertProbe;
}

export interface AcmeFacts {
  enabled: boolean;
  directory: string;
  accountUrl?: string;
  lastError?: string;
  /** CAA records at the hostname or its closest ancestor that has any (RFC 8659 §3). */
  caa?: { at: string; records: DnsAnswer<string> };
}

export interface DnsblFacts {
  /** The IP or domain looked up. */
  subject: string;
  zone: string;
  answer: DnsAnswer<string>;
}

/** `ip` is "IP:PORT" ("[IPv6]:PORT"). */
export type Port25Facts =
  | { kind: 'connected'; target: string; ip: string; ms: number }
  | { kind: 'timeout'; target: string; ip: string; ms: number }
  | { kind: 'failed'; target: string; ip: string; detail: string }
  | { kind: 'unresolved'; target: string; detail: string };

/** One smarthost ([outbound] relay or a transport with credentials) as the doctor's session saw it. */
export interface SmarthostFacts {
  /** "relay" or "transport example.com". */
  via: string;
  /** "smtps:[smtp.provider.example]:465", as configured. */
  nexthop: string;
  host: string;
  port: number;
  level: TlsLevel;
  username?: string;
  passwordFile?: string;
  /** How far the session got: the first stage that failed, or "done". */
  result:
    | { stage: 'resolve'; detail: string }
    | { stage: 'connect' | 'greeting' | 'ehlo'; ip: string; detail: string; reply?: SmtpReply }
    /** TLS as the session saw it; `verdict` is why the level refuses it, undefined when it allows it. */
    | { stage: 'tls'; ip: string; tls: TlsObserved; verdict: string }
    | { stage: 'password'; ip: string; tls: TlsObserved; detail: string }
    | { stage: 'auth'; ip: string; tls: TlsObserved; detail: string; reply?: SmtpReply; offered: string }
    | { stage: 'done'; ip: string; tls: TlsObserved; authenticated: boolean; source: string };
}

export interface DoctorFacts {
  hostname: string;
  addresses: string[];
  addressSource: 'flag' | 'config' | 'machine';
  hostA: DnsAnswer<string>;
  hostAaaa: DnsAnswer<string>;
  ptr: PtrFacts[];
  domains: DomainFacts[];
  certs: CertFacts[];
  acme: AcmeFacts;
  dnsbl: DnsblFacts[];
  /** Absent when the probe was not run (daemon start-up). */
  port25?: Port25Facts;
  /** Absent when not run (daemon start-up); [] when no smarthost is configured. */
  smarthosts?: SmarthostFacts[];
  now: number;
}

export function records<T>(answer: DnsAnswer<T>): T[] {
  return answer.kind === 'records' ? answer.records : [];
}

/** "no A records (NODATA)", "NXDOMAIN", "SERVFAIL", … for a finding's `found`. */
export function describe(answer: DnsAnswer<unknown>, what: string): string {
  switch (answer.kind) {
    case 'records':
      return `${answer.records.length} ${what}`;
    case 'nxdomain':
      return 'the name does not exist (NXDOMAIN)';
    case 'nodata':
      return `no ${what}`;
    case 'servfail':
      return `the DNS lookup failed (${answer.detail})`;
    case 'timeout':
      return `the DNS lookup timed out (${answer.detail})`;
  }
}
