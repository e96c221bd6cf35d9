// Splits a message header block into its fields the way receivers read them (pure), so every
// check that looks at a field (From: ownership, Date:/Message-ID: fix-ups, the header facts, the
// DKIM-Signature choice) sees the same fields mailparser and mailauth see:
// - RFC 5322 §2.2.3: a line break followed by WSP continues the field (folding);
// - RFC 5322 §4.5.3 (obs-optional): white space between the name and the colon is allowed,
//   so "From : x" and "From\t: x" are From: fields;
// - §1.2.2: field names are case-insensitive.
// A line without a colon is no field and is skipped; a bare LF ends a line as CRLF does
// (mailparser and mailauth both split on it).
//
//   headerFields(block) → [{ name: 'from', raw: 'From : <a@b>', value: ' <a@b>', offset }, …]
//   withoutFields(message, fields) → the message with those fields cut out

export interface HeaderField {
  /** The field name, lower case, without the white space before the colon. */
  name: string;
  /** The whole field as it was written, folding included, without its final line break. */
  raw: string;
  /** What follows the colon, folding included. */
  value: string;
  /** Where `raw` starts in the block (a byte offset when the block was read as latin1). */
  offset: number;
}

/** `block`: the header block (body.ts headerBlock), as latin1 text; the blank line may be there or not. */
export function headerFields(block: string): HeaderField[] {
  const end = /\r?\n\r?\n/.exec(block);
  const text = end ? block.slice(0, end.index) : block.replace(/\r?\n$/, '');
  const fields: HeaderField[] = [];
  const breaks = /\r?\n(?![ \t])/g;
  let start = 0;
  while (start < text.length) {
    const found = breaks.exec(text);
    const stop = found ? found.index : text.length;
    const raw = text.slice(start, stop);
    const colon = raw.indexOf(':');
    const name =
      colon > 0
        ? raw
            .slice(0, colon)
            .replace(/[ \t]+$/, '')
            .toLowerCase()
        : '';
    // A name is printable US-ASCII without spaces (RFC 5322 §3.6.8); anything else is no field.
    if (/^[\x21-\x39\x3b-\x7e]+$/.test(name)) fields.push({ name, raw, value: raw.slice(colon + 1), offset: start });
    if (!found) break;
    start = found.index + found[0].length;
  }
  return fields;
}

/** How many fields of this (lower-case) name the block has. */
export function countFields(fields: readonly HeaderField[], name: string): number {
  let n = 0;
  for (const field of fields) if (field.name === name) n++;
  return n;
}

/**
 * `message` without these fields (from headerFields of its header block read as latin1, in
 * order), each with its line break; every other byte as it was.
 */
export function withoutFields(message: Buffer, fields: readonly HeaderField[]): Buffer {
  if (fields.length === 0) return message;
  const parts: Buffer[] = [];
  let at = 0;
  for (const field of fields) {
    parts.push(message.subarray(at, field.offset));
    at = field.offset + field.raw.length;
    if (message[at] === 0x0d) at++;
    if (message[at] === 0x0a) at++;
  }
  parts.push(message.subarray(at));
  return Buffer.concat(parts);
}
