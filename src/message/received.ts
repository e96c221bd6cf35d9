// The Received header we prepend to every accepted message (RFC 5321 §4.4), in the form
// operators know from Postfix, with the TLS details (pure).
import { rfc5322Date } from '../core/date.ts';

export interface ReceivedFacts {
  helo: string;
  reverseName?: string;
  ip: string;
  hostname: string;
  queueId: string;
  /** "ESMTP", "ESMTPS", "ESMTPSA", "SMTP" … (RFC 3848). */
  protocol: string;
  tls?: { version: string; cipher: string; bits?: number };
  /** Named only when the message has a single recipient (RFC 5321 §7.2: don't leak Bcc lists). */
  recipient?: string;
  date: Date;
}

export function receivedHeader(f: ReceivedFacts): string {
  const from = `from ${clean(f.helo) || 'unknown'} (${clean(f.reverseName ?? '') || 'unknown'} [${f.ip}])`;
  const tls = f.tls ? `\r\n\t(using ${f.tls.version} with cipher ${f.tls.cipher}${f.tls.bits ? ` (${f.tls.bits}/${f.tls.bits} bits)` : ''})` : '';
  const rcpt = f.recipient ? `\r\n\tfor <${clean(f.recipient)}>` : '';
  return `Received: ${from}\r\n\tby ${f.hostname} (Sealpost) with ${f.protocol} id ${f.queueId}${tls}${rcpt};\r\n\t${rfc5322Date(f.date.getTime())}\r\n`;
}

/** Client-supplied text in a header: no control characters, no parentheses games, bounded. */
function clean(text: string): string {
  return text.replace(/[\x00-\x1f\x7f()<>\\]/g, '?').slice(0, 255);
}
