// Pure helpers around Authentication-Results (RFC 8601) for inbound mail: remove fields that claim
// to come from us before adding ours (§5), the verdict when no check could run, and whether a
// DMARC result asks for rejection.
import { type MessageBody, bodyHead, withHead } from '../core/body.ts';
import type { Verdict } from './verify.ts';

/**
 * `message` without the Authentication-Results fields whose authserv-id is `authservId` (any
 * case). RFC 8601 §5: a border MTA MUST remove such fields from mail arriving from outside, or a
 * sender could forge our verdict. Bytes outside the removed fields are kept as they are.
 */
export function removeOurResults(message: Buffer, authservId: string): { message: Buffer; removed: number } {
  const end = message.indexOf('\r\n\r\n');
  const headerEnd = end < 0 ? message.length : end + 2;
  const header = message.subarray(0, headerEnd).toString('latin1');
  const fields = header.split(/\r\n(?![ \t])/);
  const wanted = authservId.toLowerCase();
  let removed = 0;
  const kept = fields.filter((field) => {
    const m = /^authentication-results[ \t]*:([\s\S]*)$/i.exec(field);
    if (!m || authservIdOf(m[1] ?? '') !== wanted) return true;
    removed++;
    return false;
  });
  if (removed === 0) return { message, removed };
  return { message: Buffer.concat([Buffer.from(kept.join('\r\n'), 'latin1'), message.subarray(headerEnd)]), removed };
}

/** removeOurResults on the part in memory (a spooled body's prefix holds the whole header block). */
export function cleanResults(message: MessageBody, authservId: string): { message: MessageBody; removed: number } {
  const head = bodyHead(message);
  const cleaned = removeOurResults(head, authservId);
  return cleaned.removed === 0 ? { message, removed: 0 } : { message: withHead(message, cleaned.message), removed: cleaned.removed };
}

/** The authserv-id of a field value: its first token once comments and folding are gone, lowercase. */
export function authservIdOf(value: string): string {
  const text = stripComments(value.replace(/\r\n/g, '')).trim();
  return (/^[^\s;]+/.exec(text)?.[0] ?? '').toLowerCase();
}

function stripComments(text: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && depth > 0) i++;
    else if (c === '(') depth++;
    else if (c === ')' && depth > 0) depth--;
    else if (depth === 0) out += c;
  }
  return out;
}

export interface DmarcFacts {
  result: string;
  /** The policy that applies to this From: domain (p=, or sp=/np= for subdomains). */
  policy: string;
  /** t=y: the domain is testing its policy. */
  testMode: boolean;
  domain: string;
}

/**
 * With dmarc_reject on: refuse mail that fails DMARC when the domain asks for p=reject and is not
 * testing (RFC 7489 §6.7, §10.3: the receiver MAY reject with a 5xy reply); anything else passes.
 */
export function dmarcRejection(facts: DmarcFacts | undefined, enforce: boolean): { code: number; enhanced: string; text: string } | undefined {
  if (!enforce || !facts || facts.result !== 'fail' || facts.policy !== 'reject' || facts.testMode) return undefined;
  return { code: 550, enhanced: '5.7.1', text: `Message rejected: it fails the DMARC policy of ${facts.domain}` };
}

/** The verdict when the checks could not run at all: our own fields still removed, results "none". */
export function checksFailed(hostname: string, message: MessageBody, error: string): Verdict {
  return unverified(hostname, cleanResults(message, hostname), error);
}

/** RFC 8601 §2.2 no-result: "none", so nobody downstream trusts a verdict we did not reach. */
export function unverified(hostname: string, cleaned: { message: MessageBody; removed: number }, error: string): Verdict {
  return {
    headers: `Authentication-Results: ${hostname}; none\r\n`,
    message: cleaned.message,
    results: { spf: 'none', dkim: 'none', dmarc: 'none' },
    removed: cleaned.removed,
    error,
  };
}
