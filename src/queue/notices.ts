// Turns a failed or delayed message into the DSN to queue (RFC 3464, via bounce.ts), routed like
// any other mail: to a local mailbox or out through the remote queue. Never to the null sender.

import { bodyHead, type MessageBody } from '../core/body.ts';
import type { RecipientDecision } from '../routing/recipients.ts';
import { buildDsn, type DsnRecipient, shouldBounce } from './bounce.ts';
import type { NewMessage } from './message.ts';

export interface NoticeDeps {
  hostname: string;
  now: () => number;
  newId: () => string;
  /** Where an address goes (our recipient policy, relay allowed). */
  route: (address: string) => RecipientDecision;
  /** Gives up at receivedAt + this (for Will-Retry-Until). */
  maxLifetimeMs: number;
}

export interface NoticeInput {
  kind: 'failed' | 'delayed';
  queueId: string;
  sender: string;
  receivedAt: number;
  body: MessageBody;
  recipients: readonly DsnRecipient[];
}

/** The DSN as a message to enqueue, or undefined (null sender, or a sender we cannot route). */
export function noticeMessage(input: NoticeInput, deps: NoticeDeps): NewMessage | undefined {
  if (!shouldBounce(input.sender) || input.recipients.length === 0) return undefined;
  const destination = deps.route(input.sender);
  if (destination.kind === 'reject') return undefined;
  const id = deps.newId();
  const now = deps.now();
  const dsn = buildDsn({
    kind: input.kind,
    reportingMta: deps.hostname,
    queueId: input.queueId,
    sender: input.sender,
    arrivalDate: input.receivedAt,
    now,
    // Only the header is copied: a spooled body's prefix holds all of it.
    original: bodyHead(input.body),
    recipients: input.recipients,
    messageId: `${id}@${deps.hostname}`,
    boundary: `${id}/${deps.hostname}`,
    ...(input.kind === 'delayed' ? { willRetryUntil: input.receivedAt + deps.maxLifetimeMs } : {}),
  });
  return {
    id,
    receivedAt: now,
    sender: '',
    body: dsn.body,
    smtputf8: dsn.smtputf8,
    eightBit: true,
    origin: 'bounce',
    headerMessageId: `<${id}@${deps.hostname}>`,
    subject: input.kind === 'failed' ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)',
    recipients: [
      destination.kind === 'local'
        ? { rcpt: input.sender, address: destination.mailbox, transport: 'local' }
        : { rcpt: input.sender, address: destination.address, transport: 'remote' },
    ],
  };
}
