// `sealpost status --config FILE [--json]`: what an operator checks first. Whether the daemon
// answers on its listeners, the certificates and their expiry, the queue by state, the last
// delivery errors, whether DNSSEC validation works through [dns] servers, the share of inbound
// and outbound connections that used TLS over the last day, and the connections refused at
// connect by DNSBL in that day, the TLS reports other domains sent us in the last 7 days and our
// _smtp._tls records to publish. Reads the config, the certificate files and the database
// (read-only, never migrated); connects to its own listeners to see that they answer, asks the
// first DNS server for the root DNSKEY (dns/validation-probe.ts). Starts nothing.
// Exit 0; 3 when no listener answers (the daemon is not running: LSB's "not running").
import { getServers as dnsServersOfSystem } from 'node:dns';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import Database from 'better-sqlite3';
import { formatProblems, loadConfig } from '../config/load.ts';
import { type Config, isDaneLevel, type ListenAddress, type TlsLevel } from '../config/types.ts';
import type { Db } from '../db/open.ts';
import { parseServer } from '../dns/dnssec-resolver.ts';
import { describeProbe, probeValidation, type ValidationProbe } from '../dns/validation-probe.ts';
import { readDoctorRecord } from '../doctor/startup.ts';
import { inboundShare } from '../inbound/session-stats.ts';
import { localDeliveries } from '../local/delivery-stats.ts';
import { type AttemptRecord, AttemptsStore, type ConnectionShare } from '../outbound/attempts-store.ts';
import type { NodeView } from '../queue/pg/admin.ts';
import { rspamdActions } from '../rspamd/stats.ts';
import { openSharedStores, type SharedStores } from '../shared-state/stores.ts';
import { type TlsRptRecord, tlsRptRecords } from '../tlsrpt/record.ts';
import { lastSentDay, type SentDay } from '../tlsrpt/sent-store.ts';
import { readReports, type StoredPolicy } from '../tlsrpt/store.ts';
import { type ReportDay, type ReportTotals, reportDays, reportTotals, sinceDays, totalsLine } from '../tlsrpt/summary.ts';
import type { Args } from './args.ts';
import { type CertListing, collect } from './certs.ts';

const DAY = 86_400_000;
/** The days of TLS reports summed up in one line. */
const REPORT_DAYS = 7;

export interface ListenerStatus {
  kind: 'smtp' | 'submission' | 'submissions' | 'acme_http' | 'https';
  address: string;
  answering: boolean;
  /** The SMTP greeting. */
  greeting?: string;
  error?: string;
}

export interface DeliveryError {
  at: string;
  queueId: string;
  /** Recipient address (local) or destination domain (remote). */
  to: string;
  /** "mx[ip]:port" for a remote attempt that reached a host. */
  host?: string;
  result: string;
  error: string;
}

export interface StatusReport {
  hostname: string;
  configFile: string;
  dataDir: string;
  checkedAt: string;
  listeners: ListenerStatus[];
  certificates: (CertListing & { daysLeft?: number })[];
  /** null when there is no database yet (the daemon never ran with this data_dir). */
  queue: { messages: number; oldestReceivedAt: string | null; recipients: Record<string, Record<string, number>> } | null;
  lastErrors: DeliveryError[];
  tls: {
    since: string;
    inbound: { sessions: number; tls: number; share: number | null; byListener: Record<string, { sessions: number; tls: number }> } | null;
    outbound: { connections: number; tls: number; verified: number; share: number | null; verifiedShare: number | null } | null;
  };
  /** Port-25 connections refused because DNSBLs list the client, in the last day; null without statistics. */
  refused: { since: string; dnsbl: number } | null;
  /** rspamd scans of the last day by direction and action ("error": rspamd could not answer); null before any. */
  rspamd?: Record<string, Record<string, number>> | null;
  /** Local deliveries (Maildir, LMTP) of the last day, one per recipient, in all and by agent; null before any table for them. */
  local?: (ReturnType<typeof localDeliveries> & { since: string }) | null;
  /** Whether [dns] servers validates DNSSEC and we believe its AD bit (DANE needs both). */
  dnssec: ValidationProbe;
  /** Whether outbound DANE (RFC 7672) is on, and why (daneStatus). */
  dane?: { on: boolean; why: string };
  /** The doctor's findings at the last daemon start (data_dir/doctor.json); absent before one ran. */
  doctor?: { checkedAt: string; errors: number; warnings: number };
  /** TLS reports (RFC 8460) received in the last 7 days and the _smtp._tls records to publish. */
  tlsReports: { since: string; days: number; totals: ReportTotals; byDay: ReportDay[]; records: TlsRptRecord[] };
  /**
   * [store] kind = "postgres": the shared queue (its counts are `queue`), the nodes with their
   * heartbeat and claims, or why the database could not be read.
   */
  queueDatabase?: { url: string; nodes: NodeView[]; error?: string };
  /** The TLS reports we send ([tlsrpt]): on or off, and those of the latest day made (tlsrpt/sent-store.ts). */
  tlsReportsSent: { enabled: boolean; last: { day: string; sent: string[]; failed: string[] } | null };
}

type Out = Pick<NodeJS.WriteStream, 'write'>;

export async function run(configFile: string, args: Args, out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  const loaded = await loadConfig(configFile);
  if (!loaded.ok) {
    err.write(`${formatProblems(loaded.file, loaded.problems)}\n`);
    return 1;
  }
  let report: StatusReport;
  try {
    report = await collectStatus(loaded.config, loaded.file, Date.now());
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw e;
    err.write(`sealpost status: ${(e as Error).message}; run it as the sealpost user (sudo -u sealpost sealpost status --config ${configFile}) or as root\n`);
    return 1;
  }
  out.write(args.flags.has('json') ? `${JSON.stringify(report, null, 2)}\n` : renderStatus(report));
  return report.listeners.some((l) => l.answering) ? 0 : 3;
}

/** `errors`: how many of the newest delivery errors (default 10; the status page groups more). */
export async function collectStatus(
  config: Config,
  configFile: string,
  now: number,
  options: { errors?: number; shared?: SharedStores } = {},
): Promise<StatusReport> {
  const [listeners, dnssec] = await Promise.all([
    Promise.all(listenerTargets(config).map((l) => probeListener(l.kind, l.address, config.inbound.greetPauseMs))),
    probeDnssec(config),
  ]);
  const certificates = (await collect(config)).map((c) => (c.notAfter ? { ...c, daysLeft: Math.floor((Date.parse(c.notAfter) - now) / DAY) } : c));
  const since = now - DAY;
  const reportsSince = sinceDays(now, REPORT_DAYS);
  const tlsReports = (policies: readonly StoredPolicy[]): StatusReport['tlsReports'] => ({
    since: new Date(reportsSince).toISOString(),
    days: REPORT_DAYS,
    totals: reportTotals(policies),
    byDay: reportDays(policies),
    records: tlsRptRecords(config.domains),
  });
  const doctorRecord = await readDoctorRecord(config.dataDir);
  const doctor = doctorRecord
    ? { doctor: { checkedAt: doctorRecord.checkedAt, errors: doctorRecord.counts.error, warnings: doctorRecord.counts.warning } }
    : {};
  const base = {
    hostname: config.hostname,
    configFile,
    dataDir: config.dataDir,
    checkedAt: new Date(now).toISOString(),
    listeners,
    certificates,
    dnssec,
    dane: daneStatus(dnssec, config.outbound.tlsDefault, config.outbound.tlsPolicy),
    ...doctor,
  };
  const errors = options.errors ?? 10;
  // With [store] kind = "postgres" the attempts and the TLS report state are the nodes' shared
  // tables (shared-state/stores.ts); in data_dir's database otherwise (read here read-only).
  const sharedState = config.store.kind === 'postgres' ? await sharedFacts(config, since, reportsSince, errors, options.shared) : undefined;
  const shared = await sharedQueue(config.store, now, errors);
  const local = await collectLocal(config, base, { since, reportsSince }, tlsReports, { errors, ...(sharedState ? { sharedState } : {}) });
  if (!shared) return local;
  // The local recipients' errors are the shared queue's (whichever node tried them), not data_dir's.
  const lastErrors = [...local.lastErrors, ...shared.localErrors].sort((a, b) => b.at.localeCompare(a.at)).slice(0, errors);
  return { ...local, queue: shared.queue, queueDatabase: shared.database, lastErrors };
}

type Base = Omit<StatusReport, 'queue' | 'lastErrors' | 'tls' | 'refused' | 'tlsReports' | 'tlsReportsSent'>;

/** What status reads of the state the nodes share on PostgreSQL. */
interface SharedFacts {
  failures: AttemptRecord[];
  share: ConnectionShare;
  policies: StoredPolicy[];
  lastSent: SentDay | null;
}

/**
 * The report's parts read from the node-local database (with SQLite, the queue too); `sharedState`:
 * the attempts and TLS report parts read from the nodes' PostgreSQL instead.
 */
async function collectLocal(
  config: Config,
  base: Base,
  { since, reportsSince }: { since: number; reportsSince: number },
  tlsReports: (policies: readonly StoredPolicy[]) => StatusReport['tlsReports'],
  options: { errors: number; sharedState?: SharedFacts },
): Promise<StatusReport> {
  const { errors, sharedState: shared } = options;
  const file = path.join(config.dataDir, 'sealpost.db');
  if (!existsSync(file))
    return {
      ...base,
      queue: null,
      lastErrors: shared ? shared.failures.map(attemptError) : [],
      tls: { since: new Date(since).toISOString(), inbound: null, outbound: shared ? outboundShare(shared.share) : null },
      refused: null,
      tlsReports: tlsReports(shared?.policies ?? []),
      tlsReportsSent: { enabled: config.tlsrpt.enabled, last: shared?.lastSent ?? null },
    };
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const has = (table: string): boolean =>
      db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = ?").get(table)?.n === 1;
    const share = has('session_stats') ? inboundShare(db, since) : null;
    const attempts = has('attempts') ? new AttemptsStore(db) : undefined;
    const failures = shared ? shared.failures : attempts ? await attempts.recentFailures(errors) : [];
    const outbound = shared ? shared.share : attempts ? await attempts.connectionShare(since) : undefined;
    return {
      ...base,
      queue: queueCounts(db),
      lastErrors: lastErrors(db, failures, errors),
      tls: {
        since: new Date(since).toISOString(),
        inbound: share ? withShare(share) : null,
        outbound: outbound ? outboundShare(outbound) : null,
      },
      refused: share ? { since: new Date(since).toISOString(), dnsbl: share.dnsblRefused } : null,
      rspamd: has('rspamd_stats') ? rspamdActions(db, since) : null,
      local: has('local_delivery_stats') ? { since: new Date(since).toISOString(), ...localDeliveries(db, since) } : null,
      tlsReports: tlsReports(shared ? shared.policies : has('tls_reports') ? readReports(db, reportsSince) : []),
      tlsReportsSent: { enabled: config.tlsrpt.enabled, last: shared ? shared.lastSent : has('tlsrpt_sent') ? lastSentDay(db) : null },
    };
  } finally {
    db.close();
  }
}

/** What status reads of the state the nodes share in PostgreSQL: through `given` (the daemon's), or a pool of its own. */
async function sharedFacts(
  config: Config,
  since: number,
  reportsSince: number,
  errors: number,
  given: SharedStores | undefined,
): Promise<SharedFacts | undefined> {
  // An unreachable database: those parts are left empty (the queue part says why, sharedQueue).
  const stores = given ?? (await openSharedStores(config, {}).catch(() => undefined));
  if (!stores) return undefined;
  try {
    const [failures, share, policies, lastSent] = await Promise.all([
      stores.attempts.recentFailures(errors),
      stores.attempts.connectionShare(since),
      stores.tlsReports.reports(reportsSince),
      stores.tlsrptSent.lastDay(),
    ]);
    return { failures, share, policies, lastSent };
  } catch {
    return undefined;
  } finally {
    if (!given) await stores.close().catch(() => undefined);
  }
}

/** [store] kind = "postgres": the shared queue's counts and nodes, read from any node; an unreachable database is reported, not thrown. */
async function sharedQueue(
  store: Config['store'],
  now: number,
  errors: number,
): Promise<{ queue: StatusReport['queue']; database: NonNullable<StatusReport['queueDatabase']>; localErrors: DeliveryError[] } | undefined> {
  if (store.kind !== 'postgres') return undefined;
  const [{ openPool, targetOf }, { nodeViews, pgLocalErrors, pgQueueByTransport, pgQueueStatus }] = await Promise.all([
    import('../queue/pg/connect.ts'),
    import('../queue/pg/admin.ts'),
  ]);
  const t = targetOf(store.url);
  const url = `postgres://${t.user}@${t.host}:${t.port}/${t.database}`;
  const pool = openPool(store, 1);
  try {
    const status = await pgQueueStatus(pool);
    if (status.schema.version === 0)
      return { queue: null, database: { url, nodes: [], error: 'no Sealpost schema yet (sealpost store init)' }, localErrors: [] };
    const localErrors = (await pgLocalErrors(pool, errors)).map(
      (r): DeliveryError => ({
        at: new Date(r.updatedAt).toISOString(),
        queueId: r.queueId,
        to: r.address,
        result: r.state === 'failed' ? 'permanent' : 'transient',
        error: r.lastError,
      }),
    );
    return { queue: await pgQueueByTransport(pool), database: { url, nodes: nodeViews(status.nodes, now, store.leaseMs) }, localErrors };
  } catch (e) {
    return { queue: null, database: { url, nodes: [], error: e instanceof Error ? e.message : String(e) }, localErrors: [] };
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** DANE is on when DNSSEC validation works and a TLS level asks for it (tls_default or a tls_policy entry). */
export function daneStatus(probe: ValidationProbe, tlsDefault: TlsLevel, tlsPolicy: Readonly<Record<string, TlsLevel>>): { on: boolean; why: string } {
  const entries = Object.values(tlsPolicy).filter(isDaneLevel).length;
  if (!probe.validating) return { on: false, why: `no DNSSEC validation: ${probe.why}` };
  if (isDaneLevel(tlsDefault)) return { on: true, why: `outbound.tls_default = "${tlsDefault}"` };
  if (entries > 0) return { on: true, why: `for ${entries} outbound.tls_policy entr${entries === 1 ? 'y' : 'ies'}` };
  return { on: false, why: `outbound.tls_default = "${tlsDefault}" and no outbound.tls_policy entry asks for dane` };
}

function probeDnssec(config: Config): Promise<ValidationProbe> {
  const servers = config.dns.servers.length > 0 ? config.dns.servers : dnsServersOfSystem();
  return probeValidation(
    servers.map(parseServer).filter((s) => s !== undefined),
    config.dns.trustAd,
    Math.min(config.dns.timeoutMs, 3000),
  );
}

function listenerTargets(config: Config): { kind: ListenerStatus['kind']; address: ListenAddress }[] {
  return [
    ...config.listen.smtp.map((address) => ({ kind: 'smtp' as const, address })),
    ...config.listen.submission.map((address) => ({ kind: 'submission' as const, address })),
    ...config.listen.submissions.map((address) => ({ kind: 'submissions' as const, address })),
    ...(config.acme.enabled ? config.listen.acmeHttp.map((address) => ({ kind: 'acme_http' as const, address })) : []),
    ...config.listen.https.map((address) => ({ kind: 'https' as const, address })),
  ];
}

/** Connects to one of our listeners (a wildcard address through loopback) and reads the greeting. */
function probeListener(kind: ListenerStatus['kind'], a: ListenAddress, greetPauseMs: number): Promise<ListenerStatus> {
  const host = a.host === '0.0.0.0' ? '127.0.0.1' : a.host === '::' ? '::1' : a.host;
  const address = a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
  return new Promise((resolve) => {
    const implicitTls = kind === 'submissions' || kind === 'https';
    const socket: net.Socket = implicitTls ? tls.connect({ host, port: a.port, rejectUnauthorized: false }) : net.connect({ host, port: a.port });
    let text = '';
    const done = (result: Omit<ListenerStatus, 'kind' | 'address'>): void => {
      clearTimeout(timer);
      if (result.answering && kind !== 'acme_http' && kind !== 'https') socket.end('QUIT\r\n');
      else socket.destroy();
      resolve({ kind, address, ...result });
    };
    const timer = setTimeout(
      () =>
        done({
          answering: false,
          error: `no ${kind === 'acme_http' || kind === 'https' ? 'connection' : 'greeting'} within ${Math.round((greetPauseMs + 3000) / 1000)} s`,
        }),
      greetPauseMs + 3000,
    );
    socket.once(implicitTls ? 'secureConnect' : 'connect', () => {
      // HTTP servers say nothing first: a connection (a TLS handshake on https) is the answer.
      if (kind === 'acme_http' || kind === 'https') done({ answering: true });
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const line = /^([^\r\n]*)\r?\n/.exec(text)?.[1];
      if (line !== undefined)
        done(line.startsWith('220') ? { answering: true, greeting: line } : { answering: false, greeting: line, error: 'no 220 greeting' });
    });
    socket.on('error', (e: NodeJS.ErrnoException) => done({ answering: false, error: `${e.code ?? e.message}` }));
  });
}

function queueCounts(db: Db): NonNullable<StatusReport['queue']> {
  const messages = db.prepare<[], { n: number; oldest: number | null }>('SELECT count(*) AS n, min(received_at) AS oldest FROM messages').get();
  const recipients: Record<string, Record<string, number>> = {};
  for (const r of db
    .prepare<[], { transport: string; state: string; n: number }>(
      'SELECT transport, state, count(*) AS n FROM recipients GROUP BY transport, state ORDER BY transport, state',
    )
    .all()) {
    (recipients[r.transport] ??= {})[r.state] = r.n;
  }
  return { messages: messages?.n ?? 0, oldestReceivedAt: messages?.oldest ? new Date(messages.oldest).toISOString() : null, recipients };
}

/** A failed attempt as a delivery error of the report. */
function attemptError(a: AttemptRecord): DeliveryError {
  return {
    at: new Date(a.at).toISOString(),
    queueId: a.queueId,
    to: a.domain,
    ...(a.mx !== '' ? { host: `${a.mx}[${a.ip}]:${a.port}` } : {}),
    result: a.result,
    error:
      a.error ??
      (a.reply !== undefined ? `${a.reply.code}${a.reply.enhanced ? ` ${a.reply.enhanced}` : ''} ${a.reply.text}`.trim() : (a.tls?.error ?? 'unknown')),
  };
}

/**
 * The newest failed attempts (remote: `remote`, read from the attempts store) and local recipients
 * waiting with an error, newest first.
 */
function lastErrors(db: Db, remote: readonly AttemptRecord[], limit: number): DeliveryError[] {
  const local = db
    .prepare<[number], { updated_at: number; message_id: string; address: string; state: string; last_error: string }>(
      `SELECT updated_at, message_id, address, state, last_error FROM recipients
       WHERE transport = 'local' AND state IN ('queued', 'held', 'failed') AND last_error IS NOT NULL ORDER BY updated_at DESC LIMIT ?`,
    )
    .all(limit)
    .map(
      (r): DeliveryError => ({
        at: new Date(r.updated_at).toISOString(),
        queueId: r.message_id,
        to: r.address,
        result: r.state === 'failed' ? 'permanent' : 'transient',
        error: r.last_error,
      }),
    );
  return [...remote.map(attemptError), ...local].sort((a, b) => b.at.localeCompare(a.at)).slice(0, limit);
}

/** Outbound attempts that had a session with a host since `since` (CONNECTED_SQL): how many used TLS, how many verified. */
function outboundShare(c: ConnectionShare): NonNullable<StatusReport['tls']['outbound']> {
  const n = c.connections;
  return { connections: n, tls: c.tls, verified: c.verified, share: n > 0 ? c.tls / n : null, verifiedShare: n > 0 ? c.verified / n : null };
}

function withShare(s: ReturnType<typeof inboundShare>): NonNullable<StatusReport['tls']['inbound']> {
  return { sessions: s.sessions, tls: s.tls, share: s.sessions > 0 ? s.tls / s.sessions : null, byListener: s.byListener };
}

export function renderStatus(r: StatusReport): string {
  const out = [`sealpost status: ${r.hostname} (config ${r.configFile}, data ${r.dataDir})`, ''];
  const answering = r.listeners.filter((l) => l.answering).length;
  out.push(
    `daemon        ${answering === 0 ? 'NOT RUNNING: no listener answers' : answering === r.listeners.length ? 'running' : `${answering} of ${r.listeners.length} listeners answer`}`,
    'listeners',
  );
  for (const l of r.listeners)
    out.push(
      `  ${l.kind.padEnd(13)}${l.address.padEnd(24)}${l.answering ? `answering${l.greeting ? `: ${l.greeting}` : ''}` : `NOT answering: ${l.error ?? ''}`}`,
    );
  out.push(describeProbe(r.dnssec));
  if (r.dane) out.push(`DANE: ${r.dane.on ? 'on' : 'off'} (${r.dane.why})`);
  out.push('certificates');
  if (r.certificates.length === 0) out.push('  none yet (the daemon makes a self-signed one on first start)');
  for (const c of r.certificates) {
    const expiry = c.notAfter
      ? `expires ${c.notAfter.slice(0, 10)} (${c.daysLeft !== undefined && c.daysLeft < 0 ? `EXPIRED ${-c.daysLeft} days ago` : `${c.daysLeft} days left`})`
      : 'no certificate';
    out.push(`  ${c.source.padEnd(13)}${(c.names.join(', ') || '-').padEnd(24)}${expiry}${c.lastError ? `; last error: ${c.lastError}` : ''}`);
  }
  out.push(r.queueDatabase ? `queue (PostgreSQL ${r.queueDatabase.url})` : 'queue');
  if (r.queueDatabase?.error) out.push(`  cannot read the queue database: ${r.queueDatabase.error}`);
  else if (r.queue === null) out.push('  no database yet: the daemon has not run with this data_dir');
  else {
    const states = Object.entries(r.queue.recipients).flatMap(([transport, byState]) =>
      Object.entries(byState).map(([state, n]) => `${transport} ${state} ${n}`),
    );
    out.push(
      `  ${r.queue.messages} message${r.queue.messages === 1 ? '' : 's'}${r.queue.oldestReceivedAt ? `, oldest received ${r.queue.oldestReceivedAt}` : ''}`,
    );
    out.push(`  recipients: ${states.length > 0 ? states.join(', ') : 'none'}`);
  }
  if (r.queueDatabase && !r.queueDatabase.error) {
    out.push(`nodes (${r.queueDatabase.nodes.filter((n) => !n.gone).length} live)`);
    for (const n of r.queueDatabase.nodes)
      out.push(
        `  ${n.name}: ${n.gone ? 'gone' : 'live'}, heartbeat ${Math.round(n.heartbeatAgeMs / 1000)}s ago, ${n.claims} claim${n.claims === 1 ? '' : 's'}`,
      );
  }
  out.push('last delivery errors');
  if (r.lastErrors.length === 0) out.push('  none');
  for (const e of r.lastErrors) out.push(`  ${e.at}  ${e.queueId}  ${e.to}${e.host ? ` via ${e.host}` : ''}  ${e.result}: ${e.error}`);
  out.push(`TLS since ${r.tls.since} (the last day)`);
  const i = r.tls.inbound;
  const o = r.tls.outbound;
  out.push(`  inbound   ${i === null ? 'no data' : `${i.sessions} session${i.sessions === 1 ? '' : 's'}, ${i.tls} with TLS${percent(i.share)}`}`);
  out.push(
    `  outbound  ${o === null ? 'no data' : `${o.connections} connection${o.connections === 1 ? '' : 's'}, ${o.tls} with TLS${percent(o.share)}, ${o.verified} verified${percent(o.verifiedShare)}`}`,
  );
  if (r.local) out.push(`local         ${r.local.delivered} delivered, ${r.local.deferred} deferred, ${r.local.bounced} bounced (recipients, the last day)`);
  out.push(`refused       ${r.refused === null ? 'no data' : `${r.refused.dnsbl} connection${r.refused.dnsbl === 1 ? '' : 's'} by DNSBL in the last day`}`);
  if (r.rspamd) {
    for (const [direction, actions] of Object.entries(r.rspamd))
      out.push(
        `rspamd ${direction.padEnd(9)}${Object.entries(actions)
          .map(([action, n]) => `${action} ${n}`)
          .join(', ')} (the last day)`,
      );
  }
  out.push(`${totalsLine(r.tlsReports.totals, r.tlsReports.days)}${r.tlsReports.totals.reports > 0 ? ', details: sealpost tls-report' : ''}`);
  if (r.tlsReports.records.length === 0) out.push('  no [[domain]] has tlsrpt_rua: no _smtp._tls record to publish, senders do not report');
  for (const rec of r.tlsReports.records) out.push(`  publish ${rec.name}. IN TXT "${rec.value}"`);
  out.push(`TLS reports sent: ${sentLine(r.tlsReportsSent)}`);
  const d = r.doctor;
  out.push(
    `doctor        ${d === undefined ? 'not run yet (it runs at daemon start; or: sealpost doctor)' : `${d.errors} error${d.errors === 1 ? '' : 's'}, ${d.warnings} warning${d.warnings === 1 ? '' : 's'} at start-up ${d.checkedAt}${d.errors + d.warnings > 0 ? ' (details and fixes: sealpost doctor --config FILE)' : ''}`}`,
  );
  return `${out.join('\n')}\n`;
}

/** "2026-12-03: 3 domains (a.test, b.test, c.test), 0 failed", or why there are none. */
function sentLine(s: StatusReport['tlsReportsSent']): string {
  if (!s.enabled) return 'off ([tlsrpt] enabled = false, or no DKIM key)';
  if (!s.last) return 'none yet (once a UTC day, to each domain we delivered to that asks)';
  const { day, sent, failed } = s.last;
  const list = (d: string[]): string => (d.length > 0 ? ` (${d.join(', ')})` : '');
  return `${day}: ${sent.length} domain${sent.length === 1 ? '' : 's'}${list(sent)}, ${failed.length} failed${list(failed)}`;
}

function percent(share: number | null): string {
  return share === null ? '' : ` (${Math.round(share * 100)}%)`;
}
