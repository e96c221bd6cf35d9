// The types of an inbound SMTP session (pure): the listener roles, what a listener is given
// (InboundDeps), what we keep per session, and the TLS facts of a session as its log record and
// Received header show them.
import type { TLSSocket } from 'node:tls';
import type { SMTPServer, SMTPServerOptions } from 'smtp-server';
import type { AuthOutcome, AuthRequest } from '../auth/authenticator.ts';
import type { Config } from '../config/types.ts';
import type { StorageHealth } from '../db/storage-fault.ts';
import type { EarlyChecks, Intake } from '../intake/intake.ts';
import type { Logger } from '../log/log.ts';
import type { Directory } from '../routing/recipients.ts';
import type { DnsblCheck } from './dnsbl-check.ts';
import type { BodyBudget } from './memory-budget.ts';
import type { SessionEnd } from './session-stats.ts';

export type ListenerRole = 'mx' | 'submission' | 'submissions';

/** Bodies larger than this go to the spool while they arrive; smaller ones stay in memory. */
export const SPOOL_THRESHOLD = 1024 * 1024;

/** How a listener gets its certificates: constructor options plus a live binding (see src/tls). */
export interface TlsBinding {
  serverOptions: Partial<SMTPServerOptions>;
  /** Keeps the server's default certificate current; returns a function that stops it. */
  attach(server: SMTPServer): () => void;
}

export interface InboundDeps {
  config: Config;
  /** The current domain directory (swapped on reload). */
  directory: () => Directory;
  /** Route, check, stamp and commit a message that has arrived; spool files for large ones (src/intake). */
  intake: Intake;
  /** Bytes of bodies held in memory by all listeners together ([limits] memory_mb). */
  budget: BodyBudget;
  tls: TlsBinding;
  log: Logger;
  now: () => number;
  /** PTR name of an address through our resolver, or undefined. Never rejects. */
  reverse: (ip: string) => Promise<string | undefined>;
  /** Bytes free for the queue; refuse new mail (452 4.3.1) below the configured floor. */
  freeBytes: () => Promise<number>;
  /** The disk as the queue sees it: MAIL FROM gets 452 4.3.1 while it refuses writes (db/storage-fault.ts). */
  storage?: StorageHealth;
  /** Submission roles: AUTH PLAIN/LOGIN with the brute-force guard (src/auth/authenticator.ts). */
  authenticate?: (request: AuthRequest) => Promise<AuthOutcome>;
  /** Submission roles: may this user use this MAIL FROM (src/auth/senders.ts)? */
  senderAllowed?: (user: string, address: string, directory: Directory) => boolean;
  /** Told as each session ends: the TLS share statistics (src/inbound/session-stats.ts). */
  sessionEnded?: (end: SessionEnd) => void;
  /** Port 25: the DNSBL check at connect ([inbound.dnsbl] zones; inbound/dnsbl-check.ts). */
  dnsbl?: DnsblCheck;
}

export interface SessionState {
  startedAt: number;
  reverseName?: string;
  tls?: { version: string; cipher: string; bits?: number; sni?: string; certificate?: string };
  messages: number;
  rejections: number;
  inData: boolean;
  /** Refused at connect (a DNSBL listing): every command but QUIT gets this reply. */
  refusal?: string;
  /** What refused it, for the statistics. */
  refusedBy?: 'dnsbl';
  /** The checks intake started at this transaction's MAIL FROM (SPF), handed back at the end of DATA. */
  early?: EarlyChecks;
}

export type SessionTls = NonNullable<SessionState['tls']>;

/** What a session's TLS looks like once the handshake is done (onSecure). */
export function sessionTls(socket: TLSSocket): SessionTls {
  const cipher = socket.getCipher();
  const served = socket.getX509Certificate?.();
  return {
    version: socket.getProtocol() ?? cipher.version,
    cipher: cipher.standardName ?? cipher.name,
    bits: cipherBits(cipher.name),
    sni: socket.servername || undefined,
    certificate: served?.subjectAltName ?? served?.subject,
  };
}

function cipherBits(name: string): number | undefined {
  if (/AES_256|AES256|CHACHA20/.test(name)) return 256;
  if (/AES_128|AES128/.test(name)) return 128;
  return undefined;
}
