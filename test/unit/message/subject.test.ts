import assert from 'node:assert/strict';
import { test } from 'node:test';
import { subjectValue, withSubject } from '../../../src/message/subject.ts';

test('withSubject replaces only the Subject field, folding included, or adds one', () => {
  const table: [string, string, string, string][] = [
    ['plain', 'From: a\r\nSubject: hi\r\nTo: b\r\n\r\nbody', '*** SPAM *** hi', 'From: a\r\nSubject: *** SPAM *** hi\r\nTo: b\r\n\r\nbody'],
    ['folded', 'Subject: a long\r\n\tsubject\r\nTo: b\r\n\r\nSubject: in the body', 'x', 'Subject: x\r\nTo: b\r\n\r\nSubject: in the body'],
    ['any case, space before colon', 'sUbJeCt : old\r\n\r\n', 'new', 'Subject: new\r\n\r\n'],
    ['last field', 'From: a\r\nSubject: old\r\n\r\nbody', 'new', 'From: a\r\nSubject: new\r\n\r\nbody'],
    ['the first of two', 'Subject: one\r\nSubject: two\r\n\r\n', 'new', 'Subject: new\r\nSubject: two\r\n\r\n'],
    ['none: added at the end of the header', 'From: a\r\nTo: b\r\n\r\nSubject: body', 'new', 'From: a\r\nTo: b\r\nSubject: new\r\n\r\nSubject: body'],
    ['none, header only', 'From: a\r\n', 'new', 'From: a\r\nSubject: new\r\n'],
    ['none, no final line break', 'From: a', 'new', 'From: a\r\nSubject: new\r\n'],
    ['X-Subject is another field', 'X-Subject: keep\r\n\r\n', 'new', 'X-Subject: keep\r\nSubject: new\r\n\r\n'],
  ];
  for (const [what, message, subject, expected] of table) {
    assert.equal(withSubject(Buffer.from(message, 'latin1'), subject).toString('latin1'), expected, what);
  }
});

test('subjectValue folds long text within 78 characters and encodes non-ASCII as RFC 2047 words', () => {
  const long = `*** SPAM *** ${'word '.repeat(30).trim()}`;
  const folded = `Subject:${subjectValue(long)}`;
  for (const line of folded.split('\r\n')) assert.ok(line.length <= 78, line);
  assert.equal(folded.replace(/\r\n /g, ' '), `Subject: ${long}`);
  assert.equal(subjectValue('a\r\nb\tc'), ' a b c');
  const utf8 = `*** SPAM *** Grüße ${'€'.repeat(40)}`;
  const value = subjectValue(utf8);
  const words = value.trim().split(/\s+/);
  for (const w of words) assert.match(w, /^=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=$/);
  for (const line of `Subject:${value}`.split('\r\n')) assert.ok(line.length <= 78, line);
  // Decoded word by word (each holds whole characters), the text comes back.
  const decoded = words.map((w) => Buffer.from(w.slice(10, -2), 'base64').toString('utf8')).join('');
  assert.equal(decoded, utf8);
});
