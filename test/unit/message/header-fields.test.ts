// headerFields reads field names as receivers do (folding, obs-syntax white space before the
// colon, case), checked against mailparser's reading of the same blocks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simpleParser } from 'mailparser';
import { countFields, headerFields } from '../../../src/message/header-fields.ts';

const table: { name: string; block: string; names: string[] }[] = [
  { name: 'plain', block: 'From: a@b.test\r\nTo: c@d.test\r\n\r\n', names: ['from', 'to'] },
  { name: 'space before the colon (RFC 5322 §4.5.3)', block: 'From : a@b.test\r\n\r\n', names: ['from'] },
  { name: 'tab before the colon', block: 'From\t: a@b.test\r\n\r\n', names: ['from'] },
  { name: 'upper case', block: 'FROM: a@b.test\r\nmessage-ID: <x@y>\r\n\r\n', names: ['from', 'message-id'] },
  { name: 'folded value', block: 'Subject: a\r\n b\r\n\tc\r\nFrom:\r\n <a@b.test>\r\n\r\n', names: ['subject', 'from'] },
  { name: 'a line without a colon is no field', block: 'From: a@b.test\r\nnonsense\r\nTo: c@d.test\r\n\r\n', names: ['from', 'to'] },
  { name: 'two From fields, one obs', block: 'From : <bob@b.test>\r\nFrom: <alice@b.test>\r\n\r\n', names: ['from', 'from'] },
  { name: 'no blank line', block: 'Date: x\r\nFrom: a@b.test\r\n', names: ['date', 'from'] },
  { name: 'bare LF', block: 'From: a@b.test\nTo: c@d.test\n\n', names: ['from', 'to'] },
];

for (const c of table) {
  test(`header fields: ${c.name}`, { timeout: 5000 }, async () => {
    const fields = headerFields(c.block);
    assert.deepEqual(
      fields.map((f) => f.name),
      c.names,
    );
    for (const field of fields) assert.equal(c.block.slice(field.offset, field.offset + field.raw.length), field.raw, 'offset points at the field');
    // A first line "From …" is an mbox separator to mailparser (it skips it): compare after a first field.
    const parsed = await simpleParser(Buffer.from(`X-First: 1\r\n${c.block}`), { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
    assert.deepEqual([...new Set(['x-first', ...c.names])].sort(), [...parsed.headers.keys()].sort(), 'the names mailparser sees');
  });
}

test('countFields counts by normalized name', { timeout: 5000 }, () => {
  const fields = headerFields('From : <bob@b.test>\r\nfrom\t: x\r\nFROM: <alice@b.test>\r\nSender : s@b.test\r\n\r\n');
  assert.equal(countFields(fields, 'from'), 3);
  assert.equal(countFields(fields, 'sender'), 1);
  assert.equal(countFields(fields, 'date'), 0);
});
