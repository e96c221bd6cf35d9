// Delivery status notifications (pure): RFC 3464 multipart/report (RFC 6522) with a human part,
// message/delivery-status and the original's headers (text/rfc822-headers), for failed or delayed
// recipients. Never for the null sender (RFC 5321 §4.5.5, §6.1: no bounce loops).
import { rfc5322Date } from '../core/date.ts';

export interface DsnRecipient {
  /** The envelope recipient as the client gave it (Original-Recipient). */
  rcpt: string;
  /** Where it was going (Final-Recipient). */
  address: string;
  /** Why it failed or waits; may carry "host X[ip] said: 550 5.1.1 …". */
  reason: string;
  enhanced?: string;
  /** MX host name that answered, if any. */
  remoteMta?: string;
  /** The remote SMTP reply, "550 5.1.1 user unknown". */
  diagnostic?: string;
  lastAttemptAt?: number;
}

export interface DsnInput {
  kind: 'failed' | 'delayed';
  /** Our hostname (Reporting-MTA, From: MAILER-DAEMON@…). */
  reportingMta: string;
  queueId: string;
  /** Envelope sender of the original: the DSN's recipient. */
  sender: string;
  arrivalDate: number;
  now: number;
  /** The original message as queued (only its header is copied). */
  original: Buffer;
  recipients: readonly DsnRecipient[];
  /** Unique parts, injected so the output is reproducible in tests. */
  messageId: string;
  boundary: string;
  /** For "delayed": when we give up (Will-Retry-Until). */
  willRetryUntil?: number;
}

export interface Dsn {
  /** Always the null sender: a DSN must not cause another DSN. */
  sender: '';
  recipient: string;
  body: Buffer;
  /** The DSN carries non-ASCII (an SMTPUTF8 address or header). */
  smtputf8: boolean;
}

/** RFC 5321 §6.1: never bounce to the null sender. */
export function shouldBounce(sender: string): boolean {
  const s = sender.trim();
  return s !== '' && s !== '<>';
}

export function buildDsn(input: DsnInput): Dsn {
  const failed = input.kind === 'failed';
  const lines: string[] = [];
  const header = (name: string, value: string): void => void lines.push(fold(`${name}: ${value}`));
  header('From', `Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`);
  header('To', `<${input.sender}>`);
  header('Subject', failed ? 'Undelivered Mail Returned to Sender' : 'Delayed Mail (still being retried)');
  header('Date', rfc5322Date(input.now));
  header('Message-ID', `<${input.messageId}>`);
  header('Auto-Submitted', 'auto-replied'); // RFC 3834 §5
  header('MIME-Version', '1.0');
  header('Content-Type', `multipart/report; report-type=delivery-status;\r\n boundary="${input.boundary}"`);
  lines.push('', 'This is a MIME-encapsulated message.', '');

  lines.push(`--${input.boundary}`, 'Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '');
  lines.push(...humanPart(input), '');

  lines.push(`--${input.boundary}`, 'Content-Type: message/delivery-status', '');
  // RFC 3464 §2.2: per-message fields.
  lines.push(`Reporting-MTA: dns; ${input.reportingMta}`, `X-Sealpost-Queue-ID: ${input.queueId}`, `Arrival-Date: ${rfc5322Date(input.arrivalDate)}`);
  for (const r of input.recipients) {
    // RFC 3464 §2.3: per-recipient fields, each group preceded by a blank line.
    lines.push('');
    if (r.rcpt && r.rcpt !== r.address) lines.push(`Original-Recipient: rfc822; ${r.rcpt}`);
    lines.push(`Final-Recipient: rfc822; ${r.address}`);
    lines.push(`Action: ${input.kind}`);
    lines.push(`Status: ${statusOf(r, failed)}`);
    const remote = r.remoteMta ?? /([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)\[[0-9A-Fa-f.:]+\]/.exec(r.reason)?.[1];
    if (remote) lines.push(`Remote-MTA: dns; ${remote}`);
    const diagnostic = r.diagnostic ?? /said: (\d{3}\b.*?)(?: \(in reply to [^)]*\))?$/.exec(r.reason)?.[1];
    if (diagnostic) lines.push(fold(`Diagnostic-Code: smtp; ${diagnostic}`));
    if (r.lastAttemptAt !== undefined) lines.push(`Last-Attempt-Date: ${rfc5322Date(r.lastAttemptAt)}`);
    if (!failed && input.willRetryUntil !== undefined) lines.push(`Will-Retry-Until: ${rfc5322Date(input.willRetryUntil)}`);
  }
  lines.push('');

  lines.push(`--${input.boundary}`, 'Content-Type: text/rfc822-headers', '');
  const text = `${lines.join('\r\n')}\r\n`;
  const headers = crlf(originalHeader(input.original));
  const body = Buffer.concat([Buffer.from(text, 'utf8'), headers, Buffer.from(`\r\n--${input.boundary}--\r\n`, 'utf8')]);
  return { sender: '', recipient: input.sender, body, smtputf8: /[^\x00-\x7f]/.test(text) || hasHighBytes(headers) };
}

function humanPart(input: DsnInput): string[] {
  const out = [`This is the mail system at host ${input.reportingMta}.`, ''];
  if (input.kind === 'failed') {
    out.push("I'm sorry to have to inform you that your message could not", 'be delivered to one or more recipients. It is attached below.');
  } else {
    out.push('This is a warning only: your message has not yet been delivered', 'to one or more recipients. The mail system keeps trying.');
    if (input.willRetryUntil !== undefined) out.push(`It gives up at ${rfc5322Date(input.willRetryUntil)}.`);
  }
  out.push('', 'For further assistance, please send mail to postmaster.', '');
  for (const r of input.recipients) out.push(`<${r.address}>: ${r.reason}`);
  return out;
}

function statusOf(r: DsnRecipient, failed: boolean): string {
  const code = r.enhanced ?? /^([245]\.\d{1,3}\.\d{1,3})\b/.exec(r.reason)?.[1] ?? /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(r.diagnostic ?? r.reason)?.[1];
  return code ?? (failed ? '5.0.0' : '4.0.0');
}

/** The header section of a message: up to (not including) the first empty line. */
export function originalHeader(message: Buffer): Buffer {
  for (let i = 0; i < message.length; i++) {
    if (message[i] !== 0x0a) continue;
    if (message[i + 1] === 0x0a) return message.subarray(0, i + 1);
    if (message[i + 1] === 0x0d && message[i + 2] === 0x0a) return message.subarray(0, i + 1);
  }
  return message;
}

function crlf(b: Buffer): Buffer {
  const text = b.toString('latin1').replace(/\r?\n/g, '\r\n');
  return Buffer.from(text.endsWith('\r\n') ? text : `${text}\r\n`, 'latin1');
}

function hasHighBytes(b: Buffer): boolean {
  return b.some((byte) => byte > 0x7f);
}

/** Folds a header line at spaces to lines of at most 78 characters where possible (RFC 5322 §2.2.3). */
function fold(line: string): string {
  if (line.length <= 78 || line.includes('\r\n')) return line;
  const words = line.split(' ');
  const out: string[] = [];
  let current = words.shift() ?? '';
  for (const w of words) {
    if (current.length + 1 + w.length > 78 && current.trim() !== '') {
      out.push(current);
      current = ` ${w}`;
    } else current += ` ${w}`;
  }
  out.push(current);
  return out.join('\r\n');
}
