// What happens to a message a user submits (RFC 6409), before it is queued: the From: header must
// name addresses the user owns, missing From/Date/Message-ID are added (RFC 6409 §8), and the
// result is DKIM-signed for its From: domain. The same preparation, minus the ownership check,
// serves clients in relay.networks on port 25. CPU work only (header parsing, signing).
//
//   prepareOutgoing(input, { signer, hostname }) → Promise<Prepared>
import { bodyHead, type MessageBody, prependTo } from '../core/body.ts';
import { rfc5322Date } from '../core/date.ts';
import { type DkimSigner, fromDomain } from '../dkim/signer.ts';
import { headerBlock } from '../message/body.ts';
import { countFields, headerFields } from '../message/header-fields.ts';
import type { Directory } from '../routing/recipients.ts';
import { senderAllowed } from './senders.ts';

export interface OutgoingInput<B extends MessageBody = MessageBody> {
  /** The authenticated user, or undefined for a trusted-network client (no ownership check). */
  user: string | undefined;
  /** MAIL FROM ('' for <>). */
  sender: string;
  /** The message as received (CRLF line ends), without our Received header; large: spooled. */
  body: B;
  queueId: string;
  now: number;
  directory: Directory;
}

/** `body` is of the kind given: a Buffer stays a Buffer, a spooled body stays spooled. */
export type Prepared<B extends MessageBody = MessageBody> =
  | {
      ok: true;
      /** The message with any added header fields. */
      body: B;
      /** DKIM-Signature field(s) to put in front of `body` ('' when unsigned). */
      signature: string;
      dkim: { domain: string; selectors: string[] } | { unsigned: string };
      added: string[];
    }
  | { ok: false; code: number; enhanced: string; text: string };

export interface OutgoingDeps {
  signer: DkimSigner;
  hostname: string;
}

export async function prepareOutgoing<B extends MessageBody>(input: OutgoingInput<B>, deps: OutgoingDeps): Promise<Prepared<B>> {
  const block = headerBlock(bodyHead(input.body));
  // The From: addresses matter for the ownership check and for signing; without either (a trusted
  // client, no keys) the header is not parsed at all: port 25's hot path stays cheap.
  // Field names read as receivers read them (obs-syntax "From :", folding, case): src/message/header-fields.ts.
  const fields = headerFields(block.toString('latin1'));
  const fromFields = countFields(fields, 'from');
  const firstFrom = fields.find((field) => field.name === 'from');
  const from = firstFrom && (input.user !== undefined || deps.signer.domains.length > 0) ? await fromAddresses(firstFrom.value) : [];
  const hasFrom = fromFields > 0;

  const user = input.user;
  // RFC 5322 §3.6: exactly one From: field; with two, a reader could show the one we did not check
  // (mailparser keeps the last, mail readers show the first). 5.7.1 rather than 5.6.0: the refusal
  // is the sender policy (a From: we cannot vouch for), as for a foreign From: below.
  if (user !== undefined && fromFields > 1) {
    return { ok: false, code: 550, enhanced: '5.7.1', text: 'More than one From: header field' };
  }
  if (user !== undefined && hasFrom) {
    const foreign = from.length === 0 ? '(none)' : from.find((a) => !senderAllowed(user, a, input.directory));
    if (foreign !== undefined) {
      // Envelope and header are both checked: DKIM would otherwise vouch for a From: the user does not own.
      return { ok: false, code: 550, enhanced: '5.7.1', text: `From: header address <${foreign}> is not owned by user ${user}` };
    }
  }

  const added: string[] = [];
  // RFC 5322 §3.6 requires From:; like Postfix's cleanup, take the envelope sender.
  if (!hasFrom && input.sender !== '') added.push(`From: <${input.sender}>`);
  // RFC 6409 §8.2 and §8.3: the MSA may add a missing Date and Message-ID.
  if (countFields(fields, 'date') === 0) added.push(`Date: ${rfc5322Date(input.now)}`);
  if (countFields(fields, 'message-id') === 0) added.push(`Message-ID: <${input.queueId}@${deps.hostname}>`);
  // prependTo keeps the kind of body it is given (a Buffer for a Buffer), which its type cannot say.
  const body = added.length === 0 ? input.body : (prependTo(input.body, Buffer.from(`${added.join('\r\n')}\r\n`)) as B);

  const domain = fromDomain(hasFrom ? from : [input.sender]);
  if (domain === undefined) return { ok: true, body, signature: '', dkim: { unsigned: 'no From: domain' }, added };
  const signed = await deps.signer.sign(body, domain);
  if (signed.kind === 'unsigned') return { ok: true, body, signature: '', dkim: { unsigned: signed.reason }, added };
  return { ok: true, body, signature: signed.headers, dkim: { domain: signed.domain, selectors: signed.selectors }, added };
}

/**
 * The addresses of one From: field's value, decoded by mailparser. The field is handed over alone
 * under a plain name, so what is checked is the field we counted, whatever mailparser would make of
 * the whole block (it keeps the last of two From: fields, and skips a first line "From …" as an
 * mbox separator, obs-syntax "From :" included).
 */
async function fromAddresses(value: string): Promise<string[]> {
  const field = Buffer.from(`X-Sealpost: 1\r\nFrom:${value}\r\n\r\n`, 'latin1');
  // mailparser (~7 MiB of heap) is loaded on the first submitted or relayed message.
  const { simpleParser } = await import('mailparser');
  const parsed = await simpleParser(field, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
  return (parsed.from?.value ?? []).map((a) => a.address ?? '').filter((a) => a !== '');
}
