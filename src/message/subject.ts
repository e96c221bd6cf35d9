// Replaces a message's Subject field (pure), for rspamd's "rewrite subject" action: the first
// Subject field of the header block is cut out and the new one written in its place (no Subject:
// one is added at the end of the header block); every other byte stays as it was.
// - RFC 5322 §3.6.5: Subject is unstructured text, at most one per message;
// - §2.1.1 / §2.2.3: lines of at most 78 characters, folded at white space with CRLF + WSP;
// - RFC 2047 §2, §5(1): a value that is not printable ASCII is written as UTF-8 encoded words of
//   at most 75 characters each, split between characters, never inside one.
//
//   withSubject(Buffer.from('From: a\r\nSubject: hi\r\n\r\nbody'), '*** SPAM *** hi')
//     → 'From: a\r\nSubject: *** SPAM *** hi\r\n\r\nbody'
import { headerBlock } from './body.ts';
import { headerFields } from './header-fields.ts';

/** `head`: the whole message, or the in-memory part of a spooled one (it holds the header block). */
export function withSubject(head: Buffer, subject: string): Buffer {
  const block = headerBlock(head);
  const field = Buffer.from(`Subject:${subjectValue(subject)}`, 'latin1');
  const old = headerFields(block.toString('latin1')).find((f) => f.name === 'subject');
  if (old) return Buffer.concat([head.subarray(0, old.offset), field, head.subarray(old.offset + old.raw.length)]);
  // No Subject: the new field ends the header block (before its blank line, if it has one).
  const end = block.length >= 4 && block.subarray(-4).toString('latin1') === '\r\n\r\n' ? block.length - 2 : block.length;
  const lead = end > 0 && head[end - 1] !== 0x0a ? '\r\n' : '';
  return Buffer.concat([head.subarray(0, end), Buffer.from(lead, 'latin1'), field, Buffer.from('\r\n', 'latin1'), head.subarray(end)]);
}

/** The field's value after the colon (leading space included), folded; control characters become spaces. */
export function subjectValue(subject: string): string {
  const text = subject.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  const words = /^[\x20-\x7e]*$/.test(text) ? text.split(/ +/).filter((w) => w !== '') : encodedWords(text);
  // "Subject:" is 8 characters: each line, with its leading space, stays within 78 (a longer word stays whole).
  let value = '';
  let line = 8;
  for (const word of words) {
    if (line + 1 + word.length > 78 && line > 8 && value !== '') {
      value += '\r\n';
      line = 0;
    }
    value += ` ${word}`;
    line += 1 + word.length;
  }
  return value;
}

/** RFC 2047 "B" encoded words: at most 42 bytes of UTF-8 each (56 of base64, 68 with the markers: "Subject: " and one fit in 78). */
function encodedWords(text: string): string[] {
  const words: string[] = [];
  let chunk = '';
  for (const ch of text) {
    if (Buffer.byteLength(chunk + ch, 'utf8') > 42) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk !== '') words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`);
}
