// Pure helpers around Authentication-Results (RFC 8601) for inbound mail: remove fields that claim
// to come from us before adding ours (§5), the verdict when no check could run, and whether a
// DMARC result asks for rejection.
import { bodyHead, type MessageBody, withHead } from '../core/body.ts';
import { headerBlock } from '../message/body.ts';
import { headerFields, withoutFields } from '../message/header-fields.ts';

/** The outcome of the inbound checks of one message (built here, returned by verify.ts). */
export interface Verdict {
  /** Header fields to put in front of `message`, each ending in CRLF. */
  headers: string;
  /** The message without forged Authentication-Results fields (in the header block only). */
  message: MessageBody;
  /** One word per method for the mail log: pass, fail, none, temperror, ... */
  results: { spf: string; dkim: string; dmarc: string };
  /** Set when the message must be refused (dmarc_reject and a failing p=reject domain). */
  reject?: { code: number; enhanced: string; text: string };
  /** Forged fields removed; a timeout or failure of the checks. */
  removed: number;
  error?: string;
  /** A seal was asked for: "sealed", or "not sealed: why". */
  arc?: string;
}

/**
 * `message` without the Authentication-Results fields whose authserv-id is `authservId` (any
 * case). RFC 8601 §5: a border MTA MUST remove such fields from mail arriving from outside, or a
 * sender could forge our verdict. Bytes outside the removed fields are kept as they are.
 */
export function removeOurResults(message: Buffer, authservId: string): { message: Buffer; removed: number } {
  const wanted = authservId.toLowerCase();
  // The fields as every other check reads them (obs-syntax "Authentication-Results :", folding, case).
  const ours = headerFields(headerBlock(message).toString('latin1')).filter(
    (field) => field.name === 'authentication-results' && authservIdOf(field.value) === wanted,
  );
  return { message: withoutFields(message, ours), removed: ours.length };
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
