// The TLS decision of one hop (one attempt to one MX address) and its record, in one place: the
// level from the policy, what the client saw (TlsObserved), evaluate() (tls-policy/evaluate.ts),
// the one plaintext retry (only under "may", only after a failed handshake, always logged as a
// downgrade), DANE per MX host (hostPolicy: RFC 7672 §2.2, the TLSA match in settle), the
// MTA-STS MX filter and the testing-mode report. The hop record is built once;
// the "hop" log record and the attempts row are both made from it. Pure, except openHop (opens
// sessions through the courier's `open`) and writeHop (the log and the attempts table).
import { isDaneLevel, type TlsLevel } from '../config/types.ts';
import type { HopInfo, SmtpReply } from '../core/delivery.ts';
import { matchTlsa, tlsaParams, tlsaText, unusableReason, usableRecords } from '../dane/tlsa.ts';
import type { TlsaRecord } from '../dns/resolver.ts';
import { type HopFields, type Logger, mailLog } from '../log/log.ts';
import { evaluate, shouldStarttls, type TlsObserved } from '../tls-policy/evaluate.ts';
import { mxAllowed, type StsPolicy } from '../tls-policy/mta-sts.ts';
import type { TlsPolicy } from '../tls-policy/policy.ts';
import type { StsProblem } from '../tls-policy/sts.ts';
import type { AttemptRecord, AttemptSink } from './attempts-store.ts';
import type { MxHost } from './mx.ts';
import type { OpenFailure, OpenResult, SmtpSession } from './smtp-client.ts';

/** The TLS fields of the record: `tls: { version, cipher, verified, error }` (operators grep them). */
export type HopTls = NonNullable<HopInfo['tls']>;

/** The record's DANE fields: `dane: { tlsa, usable, matched, error }` (operators grep them). */
export interface DaneFacts {
  /** TLSA records found (DNSSEC-secure) for the MX host. */
  tlsa: number;
  /** Of them, usable for SMTP (RFC 7672 §3.1: usages 2 and 3, known selector and matching type). */
  usable: number;
  /** The record the server's chain matched: "3 1 1"; null when none did (or none was tried). */
  matched: string | null;
  /** Why DANE did not authenticate this hop, or was not used for it. */
  error: string | null;
  /** The TLSA RRset as in a zone file ("3 1 1 <hex>"), when there was one: the TLS report's policy-string (RFC 8460 §4.3). */
  records?: string[];
}

/** What the record says of the connection's TLS, besides where it went. */
export interface HopFacts {
  tls?: HopTls;
  downgrade?: string;
  /** The TLSA match of this connection's chain (settle). */
  dane?: { matched: string | null; error?: string };
  /** The local address of the connection; before one exists, the configured source address, if any. */
  source?: string;
}

/**
 * What DNS said about DANE for one MX host (outbound/dane-lookup.ts gathers it, hostPolicy judges):
 * off (no DNSSEC validation), insecure (an MX, address or TLSA answer not DNSSEC-secure), none
 * (a secure denial: no TLSA), failed (SERVFAIL or timeout on TLSA: bogus or unreachable), records.
 */
export type DaneLookup =
  | { kind: 'off' | 'insecure'; why: string }
  | { kind: 'none'; why: string }
  | { kind: 'failed'; why: string }
  | { kind: 'records'; records: TlsaRecord[]; secure: true; base: string };

/** What a hop with usable TLSA records matches the server's chain against. */
export interface HopDane {
  records: TlsaRecord[];
  /** The TLSA base name (RFC 7672 §2.2.2): also the SNI. */
  base: string;
  /** RFC 7672 §3.2.2 reference identifiers for DANE-TA: the base name, the MX host, the domain. */
  names: string[];
}

/** Where a hop goes and for what: the fixed part of its record. */
export interface HopPlace {
  queueId: string;
  domain: string;
  rcpts: string[];
  policy: TlsPolicy;
  /** '' when no MX host was reached (the MX walk failed). */
  mx: string;
  ip: string;
  port: number;
  /** "relay" or "transport example.com" (transport.ts transportLabel); absent = MX delivery. */
  transport?: string;
  /** Why the domain's MTA-STS policy could not be used (none cached), for the TLS report. */
  stsProblem?: StsProblem;
  /** Usable TLSA records of the MX host: the chain must match one (level dane/dane-only). */
  dane?: HopDane;
  /** The DANE part of the record, when the destination's level asked for DANE. */
  daneFacts?: DaneFacts;
}

export type HostPolicy = { ok: true; policy: TlsPolicy; dane?: HopDane; facts?: DaneFacts } | { ok: false; reason: string; facts?: DaneFacts };

/**
 * The TLS policy of one MX host from its destination's policy and its DANE lookup (RFC 7672 §2.2).
 * Not a DANE level: unchanged. Usable TLSA: DANE (source "dane"). TLSA that are all unusable:
 * "encrypt" (RFC 7672 §2.2, mandatory TLS without authentication), or MTA-STS enforce when the
 * domain has it; deferred under dane-only. A
 * failed TLSA lookup: deferred, never plaintext, never MTA-STS or "may" instead. No DANE (DNSSEC
 * off, an insecure answer, no TLSA): dane-only defers; dane falls back to MTA-STS enforce (then
 * only for a host its policy names), else "may".
 */
export function hostPolicy(policy: TlsPolicy, domain: string, mx: string, lookup: DaneLookup): HostPolicy {
  if (!isDaneLevel(policy.level)) return { ok: true, policy };
  const only = policy.level === 'dane-only';
  const none = (error: string): DaneFacts => ({ tlsa: 0, usable: 0, matched: null, error });
  switch (lookup.kind) {
    case 'failed':
      return {
        ok: false,
        reason: `the TLSA lookup for ${mx} failed (${lookup.why}); RFC 7672 §2.2: deferred, never sent without DANE`,
        facts: none(`TLSA lookup failed: ${lookup.why}`),
      };
    case 'records': {
      const usable = usableRecords(lookup.records);
      const facts: DaneFacts = { tlsa: lookup.records.length, usable: usable.length, matched: null, error: null, records: lookup.records.map(tlsaText) };
      if (usable.length === 0) {
        const why = `no usable TLSA record for ${mx} (${lookup.records.map((r) => `${tlsaParams(r)}: ${unusableReason(r)}`).join('; ')})`;
        if (only) return { ok: false, reason: `dane-only: ${why}`, facts: { ...facts, error: why } };
        // Safer than RFC 7672 asks: MTA-STS enforce still authenticates where DANE cannot.
        if (policy.sts?.mode === 'enforce') return noDane(policy, domain, mx, { ...facts, error: `${why}: MTA-STS applies` });
        return { ok: true, policy: { ...policy, level: 'encrypt', source: 'dane' }, facts: { ...facts, error: `${why}: TLS required, not authenticated` } };
      }
      const names = [...new Set([lookup.base, mx, domain])];
      return { ok: true, policy: { ...policy, source: 'dane' }, dane: { records: usable, base: lookup.base, names }, facts };
    }
    default: {
      const facts = none(lookup.why);
      if (only) return { ok: false, reason: `dane-only: ${lookup.why}`, facts };
      return noDane(policy, domain, mx, facts);
    }
  }
}

/**
 * The destination's policy when DANE is off (no DNSSEC validation): "dane" is what it would be
 * without TLSA records everywhere, MTA-STS enforce (verify) or else "may", decided for the whole
 * domain as before DANE; "dane-only" stays, and hostPolicy defers each host.
 */
export function policyWithoutDane(policy: TlsPolicy): TlsPolicy {
  if (policy.level !== 'dane') return policy;
  if (policy.sts?.mode === 'enforce') return { level: 'verify', source: 'mta-sts', sts: policy.sts };
  return { ...policy, level: 'may' };
}

/** A "dane" host without DANE: MTA-STS enforce (verify, only for the MX hosts it names), else "may". */
function noDane(policy: TlsPolicy, domain: string, mx: string, facts: DaneFacts): HostPolicy {
  const sts = policy.sts;
  if (sts?.mode === 'enforce') {
    // RFC 8461 §4.1: in enforce mode only MX hosts named by the policy may be used.
    if (!mxAllowed(mx, sts)) return { ok: false, reason: `MX ${mx} of ${domain} is not in its MTA-STS policy (mx: ${sts.mx.join(', ')})`, facts };
    return { ok: true, policy: { level: 'verify', source: 'mta-sts', sts }, facts };
  }
  return { ok: true, policy: { ...policy, level: 'may' }, facts };
}

/** The record's `dane` field: what the lookup found, and what this connection's chain matched. */
export function daneRecord(place: HopPlace, facts: HopFacts): DaneFacts | undefined {
  if (!place.daneFacts) return undefined;
  if (!facts.dane) return place.daneFacts;
  return { ...place.daneFacts, matched: facts.dane.matched, error: facts.dane.error ?? null };
}

/** The DANE verdict on a finished handshake's chain (RFC 7672 §3): the record matched, or why none. */
export function daneVerdict(dane: HopDane, chain: readonly Buffer[], now: number): { matched: string | null; error?: string } {
  const match = matchTlsa(dane.records, { chain, names: dane.names, now });
  if (match.matched) return { matched: tlsaParams(match.matched) };
  return { matched: null, error: match.error };
}

/** The one record of a hop: the attempts row, plus what only the log record carries. */
export interface HopRecord extends AttemptRecord {
  /** RFC 8461 §5 testing mode: what enforce would have refused. */
  sts?: string;
}

/** The record's TLS fields from what the client saw: none when no handshake was tried. */
export function hopTls(seen: TlsObserved): HopTls | undefined {
  if (seen.handshake === 'failed') return { version: '', cipher: '', verified: false, error: seen.error ?? 'handshake failed' };
  if (seen.handshake !== 'ok') return undefined;
  // A DANE hop is verified by its TLSA match (RFC 7672 §3), not by the CA store and the name.
  if (seen.dane) {
    const { matched, error } = seen.dane;
    return { version: seen.version ?? '', cipher: seen.cipher ?? '', verified: matched !== null, ...(error ? { error } : {}) };
  }
  const error = seen.chainError ?? seen.nameError;
  return { version: seen.version ?? '', cipher: seen.cipher ?? '', verified: error === undefined, ...(error ? { error } : {}) };
}

export type TlsDecision =
  /** Go on with the transaction on this connection. */
  | { action: 'continue'; tls?: HopTls; downgrade?: string }
  /** "may" after a failed handshake: record this try, then once more in plaintext on a new connection. */
  | { action: 'retry-plaintext'; tls?: HopTls; error: string; downgrade: string }
  /** The level forbids going on: close the connection, try the next host, retry later. */
  | { action: 'defer'; tls?: HopTls; error: string };

/** Whether to send STARTTLS when the server offers it: never under "none", never on the plaintext retry. */
export function wantsStarttls(level: TlsLevel, plaintextRetry: boolean): boolean {
  return !plaintextRetry && shouldStarttls(level, true);
}

/** Level × what the client saw → continue, retry in plaintext, or defer; with the record's fields. */
export function decideTls(level: TlsLevel, seen: TlsObserved): TlsDecision {
  const verdict = evaluate(level, seen);
  const tls = hopTls(seen);
  const facts = tls ? { tls } : {};
  switch (verdict.action) {
    case 'proceed':
      return { action: 'continue', ...facts, ...(verdict.downgrade ? { downgrade: verdict.downgrade } : {}) };
    case 'retry-plaintext':
      return { action: 'retry-plaintext', ...facts, error: verdict.reason, downgrade: `${verdict.reason}; retried in plaintext` };
    case 'defer':
      return { action: 'defer', ...facts, error: verdict.reason };
  }
}

/** RFC 8461 §4.1: in enforce mode only MX hosts named by the policy may be used. */
export function stsAllowedHosts(
  domain: string,
  hosts: readonly MxHost[],
  policy: TlsPolicy,
): { ok: true; hosts: readonly MxHost[] } | { ok: false; reason: string } {
  if (policy.source !== 'mta-sts' || !policy.sts) return { ok: true, hosts };
  const sts = policy.sts;
  const allowed = hosts.filter((h) => mxAllowed(h.name, sts));
  if (allowed.length > 0) return { ok: true, hosts: allowed };
  return { ok: false, reason: `no MX host of ${domain} (${hosts.map((h) => h.name).join(', ')}) matches its MTA-STS policy (mx: ${sts.mx.join(', ')})` };
}

/** RFC 8461 §5 testing mode: what enforce would have refused, reported, not acted on. */
export function stsTestingReport(sts: StsPolicy, mx: string, tls: HopTls | undefined): string | undefined {
  if (mx === '') return undefined;
  if (!mxAllowed(mx, sts)) return `testing: MX ${mx} is not in the MTA-STS policy`;
  if (!tls || tls.version === '') return 'testing: no TLS; enforce would defer';
  if (!tls.verified) return `testing: enforce would defer: ${tls.error ?? 'not verified'}`;
  return undefined;
}

/** The hop record, built once: `at` is when the attempt started, `ms` how long it took. */
export function hopRecord(
  place: HopPlace,
  facts: HopFacts,
  span: { at: number; ms: number },
  result: AttemptRecord['result'],
  extra: { reply?: SmtpReply; error?: string },
): HopRecord {
  const { policy } = place;
  const sts = policy.sts?.mode === 'testing' ? stsTestingReport(policy.sts, place.mx, facts.tls) : undefined;
  // The policy in force for the TLS report (tlsrpt/): a table entry overrides it, so none then.
  const stsPolicy =
    policy.sts && policy.source !== 'table' ? { id: policy.sts.id, mode: policy.sts.mode, mx: policy.sts.mx, maxAge: policy.sts.maxAge } : undefined;
  const dane = daneRecord(place, facts);
  return {
    queueId: place.queueId,
    at: span.at,
    domain: place.domain,
    rcpts: place.rcpts,
    mx: place.mx,
    ip: place.ip,
    port: place.port,
    policy: policy.level,
    policySource: policy.source,
    ...(facts.tls ? { tls: facts.tls } : {}),
    ...(facts.downgrade ? { downgrade: facts.downgrade } : {}),
    ...(facts.source ? { source: facts.source } : {}),
    result,
    ...(extra.reply ? { reply: extra.reply } : {}),
    ...(extra.error ? { error: extra.error } : {}),
    ms: span.ms,
    ...(place.transport ? { transport: place.transport } : {}),
    ...(stsPolicy ? { stsPolicy } : {}),
    ...(place.stsProblem && !stsPolicy ? { stsProblem: place.stsProblem } : {}),
    ...(dane ? { dane } : {}),
    ...(sts ? { sts } : {}),
  };
}

/** What an Outcome carries of its hop (core/delivery.ts HopInfo). */
export function hopInfo(place: HopPlace, facts: HopFacts, ms: number): HopInfo {
  return {
    mx: place.mx,
    ip: place.ip,
    port: place.port,
    ms,
    ...(facts.tls ? { tls: facts.tls } : {}),
    ...(facts.downgrade ? { downgrade: facts.downgrade } : {}),
    policy: place.policy.level,
    policySource: place.policy.source,
  };
}

/** The "hop" mail-log record: every field present (null when absent), stable names. */
export function hopLogFields(r: HopRecord): HopFields {
  return {
    queueId: r.queueId,
    rcpts: r.rcpts,
    domain: r.domain,
    mx: r.mx,
    ip: r.ip,
    port: r.port,
    policy: r.policy,
    policySource: r.policySource,
    tls: r.tls ?? null,
    downgrade: r.downgrade ?? null,
    reply: r.reply ?? null,
    result: r.result,
    error: r.error ?? null,
    transport: r.transport ?? null,
    dane: r.dane ?? null,
    source: r.source ?? null,
    ...(r.sts ? { sts: r.sts } : {}),
    ms: r.ms,
  };
}

export interface HopDeps {
  log: Logger;
  attempts?: AttemptSink | undefined;
  now: () => number;
}

/** Writes the record as the "hop" log record and as the attempts row. */
export function writeHop(deps: HopDeps, record: HopRecord): void {
  mailLog(deps.log, 'hop', hopLogFields(record));
  const { sts: _logOnly, ...row } = record;
  try {
    deps.attempts?.record(row);
  } catch (err) {
    deps.log.error({ err, queueId: record.queueId }, 'could not record the attempt');
  }
}

/**
 * A session to the hop's address: an idle one from the pool (its TLS decided when it was opened),
 * or a new one, which sends STARTTLS when `starttls` says so.
 */
export type SessionSource = (plaintextRetry: boolean) => Promise<{ reused: SmtpSession } | OpenResult>;

export type HopSession =
  | { ok: true; session: SmtpSession; facts: HopFacts; plaintextRetry: boolean; started: number }
  | { ok: false; failure: OpenFailure; facts: HopFacts; started: number };

type Settled =
  | { kind: 'open'; session: SmtpSession; facts: HopFacts }
  | { kind: 'failed'; failure: OpenFailure; facts: HopFacts }
  | { kind: 'retry'; decision: Extract<TlsDecision, { action: 'retry-plaintext' }>; source?: string };

/**
 * A session that the hop's TLS level allows to carry the message, or why there is none. Under
 * "may" a failed handshake is recorded as a hop of its own, then retried once in plaintext; the
 * session of the retry carries the downgrade into its record.
 */
export async function openHop(deps: HopDeps, place: HopPlace, open: SessionSource): Promise<HopSession> {
  const level = place.policy.level;
  let started = deps.now();
  let plaintextRetry = false;
  const judge = (opened: { reused: SmtpSession } | OpenResult) => settle(level, opened, place.dane, deps.now);
  let settled = await judge(await open(false));
  if (settled.kind === 'retry') {
    const { decision, source } = settled;
    const facts: HopFacts = { ...(decision.tls ? { tls: decision.tls } : {}), ...(source ? { source } : {}) };
    writeHop(deps, hopRecord(place, facts, { at: started, ms: deps.now() - started }, 'transient', { error: decision.error }));
    started = deps.now();
    plaintextRetry = true;
    settled = await judge(await open(true));
    if (settled.kind === 'open') {
      settled.session.downgrade = decision.downgrade;
      settled.facts = { ...settled.facts, downgrade: decision.downgrade };
    }
  }
  if (settled.kind === 'open') return { ok: true, session: settled.session, facts: settled.facts, plaintextRetry, started };
  if (settled.kind === 'failed') return { ok: false, failure: settled.failure, facts: settled.facts, started };
  // A plaintext connection has no handshake to fail; evaluate() cannot ask for a second retry.
  return { ok: false, failure: { ok: false, stage: 'tls', reason: settled.decision.error }, facts: {}, started };
}

/** The decision applied to a new session: closed on defer or retry, EHLO again after TLS. */
async function settle(level: TlsLevel, opened: { reused: SmtpSession } | OpenResult, dane: HopDane | undefined, now: () => number): Promise<Settled> {
  if ('reused' in opened) return { kind: 'open', session: opened.reused, facts: sessionFacts(opened.reused) };
  if (!opened.ok) return { kind: 'failed', failure: opened, facts: {} };
  const { session } = opened;
  // RFC 7672 §3: a DANE hop is judged by its TLSA records against the chain the server sent.
  if (dane && session.tls.handshake === 'ok') session.tls.dane = daneVerdict(dane, session.tls.chain ?? [], now());
  const decision = decideTls(level, session.tls);
  const facts: HopFacts = {
    ...(decision.tls ? { tls: decision.tls } : {}),
    ...(session.tls.dane ? { dane: session.tls.dane } : {}),
    ...(session.localAddress ? { source: session.localAddress } : {}),
  };
  if (decision.action === 'defer') {
    if (session.tls.handshake === 'ok') await session.quit();
    else session.close();
    return { kind: 'failed', failure: { ok: false, stage: 'tls', reason: decision.error }, facts };
  }
  if (decision.action === 'retry-plaintext') {
    session.close();
    return { kind: 'retry', decision, ...(session.localAddress ? { source: session.localAddress } : {}) };
  }
  if (decision.downgrade) session.downgrade = decision.downgrade;
  if (session.tls.handshake === 'ok') {
    const again = await session.helloAfterTls();
    if (!again.ok) {
      session.close();
      return { kind: 'failed', failure: again, facts };
    }
  }
  return { kind: 'open', session, facts: sessionFacts(session) };
}

function sessionFacts(session: SmtpSession): HopFacts {
  const tls = hopTls(session.tls);
  return {
    ...(tls ? { tls } : {}),
    ...(session.downgrade ? { downgrade: session.downgrade } : {}),
    ...(session.tls.dane ? { dane: session.tls.dane } : {}),
    ...(session.localAddress ? { source: session.localAddress } : {}),
  };
}
