// plainHeaderFacts against mailparser: the same Message-ID and Subject whenever it answers, and no
// answer (undefined, so the listener asks mailparser) for what it does not handle.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { simpleParser } from 'mailparser';
import { plainHeaderFacts } from '../../../src/message/header-facts.ts';

const cases: { name: string; headers: string; plain: boolean }[] = [
  { name: 'ordinary', headers: 'From: <a@example.test>\r\nSubject: hello there\r\nMessage-ID: <1.2@example.test>\r\n\r\n', plain: true },
  { name: 'lower-case names', headers: 'subject: x\r\nmessage-id: <x@y>\r\n\r\n', plain: true },
  { name: 'upper-case names', headers: 'SUBJECT: X\r\nMESSAGE-ID: <X@Y>\r\n\r\n', plain: true },
  { name: 'folded subject', headers: 'Subject: a long\r\n subject\r\n\tfolded\r\n\r\n', plain: true },
  { name: 'spaces around values', headers: 'Subject:    padded   \r\nMessage-ID:   <p@q>  \r\n\r\n', plain: true },
  { name: 'no space after the colon', headers: 'Subject:tight\r\nMessage-ID:<t@u>\r\n\r\n', plain: true },
  { name: 'message-id without brackets', headers: 'Message-ID: bare@example.test\r\n\r\n', plain: true },
  { name: 'neither field', headers: 'From: a@b\r\nTo: c@d\r\n\r\n', plain: true },
  { name: 'inner spaces and a tab', headers: 'Subject:\ta  b\t c\r\n\r\n', plain: true },
  { name: 'empty subject', headers: 'Subject:\r\nMessage-ID: <e@f>\r\n\r\n', plain: false },
  {
    name: 'received headers before',
    headers: 'Received: from x (y [127.0.0.1])\r\n\tby z; Mon, 23 Nov 2026 11:00:00 +0000\r\nSubject: s\r\n\r\n',
    plain: true,
  },
  { name: 'encoded word', headers: 'Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\n', plain: false },
  { name: 'raw UTF-8 subject', headers: 'Subject: café\r\n\r\n', plain: false },
  { name: 'two subjects', headers: 'Subject: one\r\nSubject: two\r\n\r\n', plain: false },
  { name: 'two message-ids', headers: 'Message-ID: <1@a>\r\nMessage-ID: <2@a>\r\n\r\n', plain: false },
  { name: 'empty message-id', headers: 'Message-ID:\r\n\r\n', plain: false },
  { name: 'space before the colon (RFC 5322 §4.5.3)', headers: 'Subject : odd\r\nMessage-ID\t: <o@p>\r\n\r\n', plain: true },
  { name: 'subject and obs-syntax subject', headers: 'Subject: one\r\nsubject : two\r\n\r\n', plain: false },
  { name: 'no blank line', headers: 'Subject: only headers\r\n', plain: false },
  { name: 'bare LF inside', headers: 'Subject: a\nb\r\n\r\n', plain: false },
];

for (const c of cases) {
  test(`header facts: ${c.name}`, { timeout: 5000 }, async () => {
    const block = Buffer.from(c.headers, 'utf8');
    const facts = plainHeaderFacts(block);
    if (!c.plain) {
      assert.equal(facts, undefined, 'left to mailparser');
      return;
    }
    assert.ok(facts, 'answered');
    const parsed = await simpleParser(block, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
    assert.equal(facts.messageId, parsed.messageId, 'Message-ID as mailparser has it');
    assert.equal(facts.subject, parsed.subject, 'Subject as mailparser has it');
  });
}
