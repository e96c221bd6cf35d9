// The root logger (pino, JSON lines on stdout) and the typed mail-log events operators grep.
// Field names here are a stable interface: change them only with a migration note.
import { pino, type Logger } from 'pino';
import { BatchedFd } from './batched-fd.ts';

export type { Logger };

/** `destination` 'stdout' (the daemon): records are written in batches (see batched-fd.ts). */
export function createLogger(level: string, destination: NodeJS.WritableStream | 'stdout'): Logger {
  return pino(
    {
      level,
      base: { service: 'sealpost' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination === 'stdout' ? new BatchedFd(1) : destination,
  );
}

/** The events of the mail log; `event` is the first field of every record. */
export type MailEvent =
  | 'session' // one inbound SMTP session ended
  | 'received' // a message was accepted and committed to the queue
  | 'rejected' // a command was refused (RCPT, MAIL, DATA)
  | 'timeout' // an inbound session was closed for a timeout (reason: idle, command, data)
  | 'evicted' // an idle inbound session was closed to make room at the connection limit
  | 'delivered' // a recipient was delivered (Maildir or remote)
  | 'deferred' // a delivery attempt failed transiently; retried later
  | 'bounced' // a recipient failed permanently or expired
  | 'hop' // one outbound attempt to one host
  | 'cert' // a certificate was loaded, issued, renewed or refused
  | 'daemon'; // start, stop, reload

export function mailLog(log: Logger, event: MailEvent, fields: Record<string, unknown>, msg?: string): void {
  log.info({ event, ...fields }, msg ?? event);
}
