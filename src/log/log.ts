// The root logger (pino, JSON lines on stdout) and the typed mail-log events operators grep.
// Field names here are a stable interface: change them only with a migration note.
import { type Logger, pino } from 'pino';
import type { HopInfo, SmtpReply } from '../core/delivery.ts';
import { BatchedFd } from './batched-fd.ts';

export type { Logger };

/**
 * `destination` 'stdout' (the daemon): records are written in batches (see batched-fd.ts).
 * `shared`: other processes write to the same stdout ([server] processes > 1): each record names
 * its pid, and batches go in writes of whole lines no larger than a pipe writes atomically.
 */
export function createLogger(level: string, destination: NodeJS.WritableStream | 'stdout', options: { shared?: boolean } = {}): Logger {
  return pino(
    {
      level,
      base: options.shared ? { service: 'sealpost', pid: process.pid } : { service: 'sealpost' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination === 'stdout' ? new BatchedFd(1, options.shared ? { atomicLines: true } : {}) : destination,
  );
}

/** Fields of the events that have not been given a fixed shape yet. */
type LooseFields = Record<string, unknown>;

/** One SMTP AUTH attempt on submission (RFC 4954): accepted, failed, refused by the guard, or busy (too many at once). */
export type AuthFields =
  | { result: 'ok'; method: string; user: string; clientIp: string }
  | { result: 'failed'; method: string; user: string; known: boolean; clientIp: string; failures: number; delayedMs: number }
  | { result: 'refused'; method: string; user: string; clientIp: string; retryInMs: number }
  | { result: 'busy'; method: string; user: string; clientIp: string };

/** One outbound attempt to one host (outbound/hop.ts builds it): every field present, null when absent. */
export type HopFields = {
  queueId: string;
  rcpts: string[];
  domain: string;
  mx: string;
  ip: string;
  port: number;
  policy: string;
  policySource: string;
  tls: NonNullable<HopInfo['tls']> | null;
  downgrade: string | null;
  reply: SmtpReply | null;
  result: 'delivered' | 'transient' | 'permanent' | 'mixed';
  error: string | null;
  /** "relay" or "transport example.com" (outbound/transport.ts); null = MX delivery. */
  transport: string | null;
  /** RFC 7672 DANE: TLSA records found and usable, the one matched ("3 1 1"), why not; null = DANE not asked for. */
  // Optional in the type (records made elsewhere may omit it); hop.ts hopLogFields always writes it.
  dane?: { tlsa: number; usable: number; matched: string | null; error: string | null; records?: string[] } | null;
  /** The local address the connection came from (outbound.source_ipv4/source_ipv6 or the kernel's choice); null = no connection. */
  source: string | null;
  /** RFC 8461 §5 testing mode: what enforce would have refused. */
  sts?: string;
  ms: number;
};

/** The disk under data_dir (db/storage-fault.ts): an episode starts ('failing') or ends ('recovered'). */
export type StorageFields = {
  state: 'failing' | 'recovered';
  /** The store call that met it first: "local claim", "enqueue", "open"… */
  where: string;
  code?: string;
  error?: string;
  /** Calls refused in the episode, and how long it lasted (on 'recovered'). */
  faults?: number;
  ms?: number;
  queueId?: string;
};

export type TlsReportFields = {
  queueId: string;
  /** The tlsrpt_rua mailbox it was delivered to. */
  rcpt: string;
  /** stored | duplicate (that organization's report-id is stored already) | malformed (kept as mail only) | none (no report part) | error (could not be stored) */
  state: 'stored' | 'duplicate' | 'malformed' | 'none' | 'error';
  organization?: string;
  reportId?: string;
  domains?: string[];
  sessions?: number;
  failures?: number;
  /** What is wrong with a malformed report (key paths of RFC 8460 §4.4), or why it could not be read. */
  problems?: string[];
};

/** The events of the mail log and the fields of each; `event` is the first field of every record. */
export interface MailEventFields {
  session: LooseFields; // one inbound SMTP session ended
  received: LooseFields; // a message was accepted and committed to the queue
  rejected: LooseFields; // a command was refused (RCPT, MAIL, DATA)
  timeout: LooseFields; // an inbound session was closed for a timeout (reason: idle, command, data)
  evicted: LooseFields; // an idle inbound session was closed to make room at the connection limit
  delivered: LooseFields; // a recipient was delivered (Maildir or remote)
  deferred: LooseFields; // a delivery attempt failed transiently; retried later
  bounced: LooseFields; // a recipient failed permanently or expired
  hop: HopFields; // one outbound attempt to one host
  cert: LooseFields; // a certificate was loaded, issued, renewed or refused
  storage: StorageFields; // the disk under data_dir refused writes (full), or takes them again
  daemon: LooseFields; // start, stop, reload
  auth: AuthFields; // one SMTP AUTH attempt (never the password)
  authres: { queueId: string; error: string }; // the SPF/DKIM/DMARC checks of a message did not finish
  rspamd: { queueId: string; direction: string; error: string; ms: number; fail: string }; // rspamd could not check a message
  'mta-sts': { domain: string; problem: string }; // a domain's MTA-STS policy could not be used
  https: LooseFields; // the HTTPS listener (listen.https): listening, an MTA-STS policy we host was served
  'tls-report': TlsReportFields; // a TLS report (RFC 8460) another domain sent about us: stored, a duplicate, or unreadable
  tlsrpt: LooseFields; // the daily TLS-report run (RFC 8460): one record per report sent or failed, one per run
}

export type MailEvent = keyof MailEventFields;

/** Sees every mail-log record whatever the log level: src/metrics counts from them (one hook, no counters scattered). */
export type MailEventObserver = <E extends MailEvent>(event: E, fields: MailEventFields[E]) => void;

const OBSERVER = Symbol('sealpost.mailEventObserver');
type ObservedLogger = Logger & { [OBSERVER]?: MailEventObserver };

/**
 * Hands every mailLog record of `log` and of its children to `observer`: pino makes a child with
 * Object.create(parent), so children made before or after see the property of the root.
 */
export function observeMailEvents(log: Logger, observer: MailEventObserver): void {
  (log as ObservedLogger)[OBSERVER] = observer;
}

export function mailLog<E extends MailEvent>(log: Logger, event: E, fields: MailEventFields[E], msg?: string, level: 'info' | 'warn' | 'error' = 'info'): void {
  const observer = (log as ObservedLogger)[OBSERVER];
  if (observer) {
    try {
      observer(event, fields);
    } catch (err) {
      // A bug in counting never stops the mail.
      log.error({ err, event }, 'the mail-log observer failed');
    }
  }
  const record: Record<string, unknown> = { event, ...fields };
  log[level](record, msg ?? event);
}
