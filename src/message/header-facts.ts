// The Message-ID and Subject of a received message for the queue row and the "received" log
// record, read straight from the header block when it is plain (pure). Anything unusual (encoded
// words, 8-bit text, repeated or empty fields, no header/body separator) returns undefined: the caller then
// asks mailparser, whose answers these match exactly (test/unit/message/header-facts.test.ts).
// mailparser costs ≈ 0.15 ms of CPU per message; this, a few microseconds. Fields are split by
// src/message/header-fields.ts, as for the From: check and the fix-ups.
import { headerFields } from './header-fields.ts';

export interface HeaderFacts {
  messageId?: string;
  subject?: string;
}

const END = Buffer.from('\r\n\r\n');

/** `block`: the header block with the blank line that ends it (body.ts headerBlock). */
export function plainHeaderFacts(block: Buffer): HeaderFacts | undefined {
  if (block.length < END.length || !block.subarray(block.length - END.length).equals(END)) return undefined;
  const text = block.toString('latin1', 0, block.length - END.length);
  // A bare CR or LF is read differently by different parsers: left to mailparser.
  if (/\r(?!\n)|(?<!\r)\n/.test(text)) return undefined;
  let messageId: string | undefined;
  let subject: string | undefined;
  // The fields as every other check reads them (folding, "Subject :" obs-syntax, case).
  for (const field of headerFields(text)) {
    const name = field.name;
    if (name !== 'subject' && name !== 'message-id') continue;
    const raw = field.value;
    if (/[^\x20-\x7e\t\r\n]/.test(raw) || raw.includes('=?')) return undefined;
    const value = raw.replace(/\r\n[ \t]*/g, ' ').trim();
    if (value === '') return undefined;
    if (name === 'subject') {
      if (subject !== undefined) return undefined;
      subject = value;
    } else {
      if (messageId !== undefined) return undefined;
      messageId = `${value.startsWith('<') ? '' : '<'}${value}${value.endsWith('>') ? '' : '>'}`;
    }
  }
  return { ...(messageId !== undefined ? { messageId } : {}), ...(subject !== undefined ? { subject } : {}) };
}
