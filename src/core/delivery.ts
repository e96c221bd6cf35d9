// The contract between the queue and the couriers (local Maildir, remote SMTP): a job in, one
// Outcome per recipient out. Couriers never touch the queue; a courier that throws is a bug.
import type { MessageBody } from './body.ts';

export interface SmtpReply {
  code: number;
  /** Enhanced status code (RFC 3463), e.g. "5.1.1", when the server sent one. */
  enhanced?: string;
  text: string;
}

/** What one outbound attempt to one host saw; outbound/hop.ts fills it. */
export interface HopInfo {
  mx: string;
  ip: string;
  port: number;
  policy?: string;
  policySource?: string;
  tls?: { version: string; cipher: string; verified: boolean; error?: string };
  downgrade?: string;
  ms: number;
}

/** `mailFrom`: the envelope sender used when it was not the queued one (SRS for a forward, outbound/forward.ts). */
export type Outcome =
  | { kind: 'delivered'; detail?: string; reply?: SmtpReply; hop?: HopInfo; mailFrom?: string }
  | { kind: 'transient' | 'permanent'; reason: string; enhanced?: string; reply?: SmtpReply; hop?: HopInfo; mailFrom?: string };

export interface JobRecipient {
  /** Row id in the recipients table. */
  id: number;
  /** The envelope recipient as given by the client (ORCPT). */
  rcpt: string;
  /** Where it goes: a local mailbox "alice@example.test" or a remote address. */
  address: string;
  attempts: number;
}

/**
 * RFC 8689: what the sender asked of the TLS of the hops ahead. 'requiretls': MAIL FROM carried
 * REQUIRETLS (§4.1): only DANE or MTA-STS-verified TLS to a host that offers REQUIRETLS. 'no': a
 * `TLS-Required: No` header field (§5): recipient-side TLS policies (MTA-STS, DANE) are ignored.
 */
export type TlsRequired = 'requiretls' | 'no';

export interface DeliveryJob {
  queueId: string;
  sender: string;
  receivedAt: number;
  size: number;
  /** A Buffer, or prefix + spool file for a large message: read it with bodyChunks (body.ts). */
  body: MessageBody;
  smtputf8: boolean;
  eightBit: boolean;
  /** RFC 8689 (above); absent: neither. */
  tlsRequired?: TlsRequired;
  recipients: readonly JobRecipient[];
}

export interface Courier {
  /** Delivers the job; the result has one Outcome per recipient id. Never rejects. */
  deliver(job: DeliveryJob): Promise<Map<number, Outcome>>;
}
