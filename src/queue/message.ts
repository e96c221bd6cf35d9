// What is put into the queue (types only): a new message with its body and recipients, as
// intake, the DSN writer and the store agree on it.
import type { MessageBody } from '../core/body.ts';
import type { TlsRequired } from '../core/delivery.ts';

export type Transport = 'local' | 'remote';
export type Origin = 'smtp' | 'submission' | 'local' | 'bounce' | 'tlsrpt';

export interface NewRecipient {
  rcpt: string;
  address: string;
  transport: Transport;
}

export interface NewMessage {
  id: string;
  receivedAt: number;
  sender: string;
  /** A spooled body's file must be in the store's spool, written and fsync'd (inbound/collect.ts). */
  body: MessageBody;
  smtputf8: boolean;
  eightBit: boolean;
  /** RFC 8689: REQUIRETLS on MAIL FROM, or a `TLS-Required: No` header field (core/delivery.ts). */
  tlsRequired?: TlsRequired;
  origin: Origin;
  clientIp?: string;
  helo?: string;
  headerMessageId?: string;
  subject?: string;
  recipients: readonly NewRecipient[];
}
