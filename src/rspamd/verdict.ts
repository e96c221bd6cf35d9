// What rspamd's answer means for a message (pure): its action becomes a refusal at end of DATA
// or a delivery with our header fields (X-Spam first, then the score and the symbols, or the
// fields its milter_headers module asked for), a Junk flag and, for "rewrite subject", the new Subject. rspamd's actions:
// https://rspamd.com/doc/faq.html#what-are-rspamd-actions. An error (rspamd down, slow, not
// rspamd) follows `fail`: 451 (tempfail) or delivery untouched (accept).
import type { RspamdReply, ScanResult } from './client.ts';

export type RspamdFail = 'tempfail' | 'accept';

/** Which way the mail goes: from other servers (port 25), or from our users and relay.networks. */
export type ScanDirection = 'inbound' | 'outbound';

export type RspamdDecision =
  | { kind: 'refuse'; code: number; enhanced: string; text: string }
  /**
   * `headers`: fields to put in front of the message (each ending in CRLF); `junk`: file it in the
   * Junk folder; `subject`: the Subject field's new text ("rewrite subject").
   */
  | { kind: 'deliver'; headers: string; junk: boolean; subject?: string };

/** The label a scan is counted and logged under: rspamd's action, or "error". */
export function scanLabel(result: ScanResult): string {
  return result.ok ? result.reply.action : 'error';
}

export function decide(result: ScanResult, fail: RspamdFail, direction: ScanDirection): RspamdDecision {
  if (!result.ok) {
    // RFC 3463 §3.8: 4.7.0 (security or policy status), the check could not run.
    if (fail === 'tempfail') return { kind: 'refuse', code: 451, enhanced: '4.7.0', text: 'Content check unavailable, try again later' };
    return { kind: 'deliver', headers: '', junk: false };
  }
  const reply = result.reply;
  switch (reply.action) {
    case 'reject':
      // RFC 3463 §3.8: 5.7.1, delivery not authorized, message refused.
      return { kind: 'refuse', code: 550, enhanced: '5.7.1', text: replyText(reply.smtpMessage, 'Spam message rejected') };
    case 'soft reject':
    case 'greylist':
      return { kind: 'refuse', code: 451, enhanced: '4.7.1', text: replyText(reply.smtpMessage, 'Try again later') };
    case 'add header':
    case 'rewrite subject':
      // Outgoing mail is only refused or passed: the receiving side files it.
      if (direction === 'outbound') return { kind: 'deliver', headers: '', junk: false };
      // rspamd sends the new subject with "rewrite subject" only; without one the Subject stays.
      return {
        kind: 'deliver',
        headers: spamHeaders(reply, true),
        junk: true,
        ...(reply.action === 'rewrite subject' && reply.subject !== undefined ? { subject: reply.subject } : {}),
      };
    default:
      // "no action", or an action of the operator's own that asks for nothing of us.
      return direction === 'inbound' ? { kind: 'deliver', headers: spamHeaders(reply, false), junk: false } : { kind: 'deliver', headers: '', junk: false };
  }
}

/** rspamd's text for the client, on one line of printable ASCII (RFC 5321 §4.2: a reply line), else ours. */
function replyText(message: string | undefined, fallback: string): string {
  const text = (message ?? '')
    .replace(/[^\x20-\x7e]+/g, ' ')
    .trim()
    .slice(0, 400);
  return text || fallback;
}

const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]{1,76}$/; // RFC 5322 §3.6.8: printable ASCII but ':'

/**
 * `X-Spam: Yes|No` always first (the local courier files a message by the first X-Spam field:
 * ours, above any the sender wrote), then X-Spam-Score and X-Spamd-Result in rspamd's own format,
 * or, when its milter_headers module is configured, the fields it returned.
 */
export function spamHeaders(reply: RspamdReply, spam: boolean): string {
  const lines = [`X-Spam: ${spam ? 'Yes' : 'No'}\r\n`];
  const milter = reply.addHeaders.filter((h) => FIELD_NAME.test(h.name) && h.name.toLowerCase() !== 'x-spam');
  if (milter.length > 0) {
    for (const h of milter) lines.push(`${h.name}: ${folded(h.value)}\r\n`);
    return lines.join('');
  }
  if (!spam) return lines.join('');
  const score = `${reply.score.toFixed(2)} / ${reply.requiredScore.toFixed(2)}`;
  lines.push(`X-Spam-Score: ${score}\r\n`);
  const symbols = reply.symbols.map((s) => `${printable(s.name)}(${s.score.toFixed(2)})[${s.options.map(printable).join(', ')}]`);
  lines.push(`X-Spamd-Result: default: True [${score}]${symbols.map((s) => `;\r\n\t${s}`).join('')}\r\n`);
  return lines.join('');
}

/** A value rspamd may have folded with bare LF: every line break becomes CRLF + tab, nothing else unprintable. */
function folded(value: string): string {
  return value
    .split(/\r?\n/)
    .map((l) => printable(l).trim())
    .filter((l) => l !== '')
    .join('\r\n\t');
}

function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]+/g, ' ');
}
