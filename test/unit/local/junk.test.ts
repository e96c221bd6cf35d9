import assert from 'node:assert/strict';
import { test } from 'node:test';
import { folderFor, taggedAsSpam } from '../../../src/local/junk.ts';

test('the first X-Spam field of the header block decides', () => {
  const table: [string, boolean][] = [
    ['Received: from x\r\n\tby y\r\nX-Spam: Yes\r\nSubject: s\r\n\r\nbody\r\n', true],
    ['X-Spam: yes\r\n\r\n', true],
    ['x-spam:Yes\r\n\r\n', true],
    ['X-Spam: No\r\nX-Spam: Yes\r\n\r\n', false],
    ['X-Spam-Score: 7\r\nX-Spam: Yes\r\n\r\n', true],
    ['X-Spam-Flag: YES\r\n\r\n', false],
    ['Subject: hi\r\n\r\nX-Spam: Yes\r\n', false],
    ['Subject: X-Spam: Yes\r\n\r\n', false],
    ['Subject: hi\r\n\r\n', false],
  ];
  for (const [head, expected] of table) assert.equal(taggedAsSpam(Buffer.from(head)), expected, JSON.stringify(head));
});

test('tagged mail goes to .Junk only with junk_folder', () => {
  const head = Buffer.from('X-Spam: Yes\r\n\r\n');
  assert.equal(folderFor('/m/example.org/alice', head, true), '/m/example.org/alice/.Junk');
  assert.equal(folderFor('/m/example.org/alice', head, false), '/m/example.org/alice');
  assert.equal(folderFor('/m/example.org/alice', Buffer.from('X-Spam: No\r\n\r\n'), true), '/m/example.org/alice');
});
