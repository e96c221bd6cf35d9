// RFC 8689 §5: the TLS-Required header field, read as receivers read fields.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { asksTlsOptional } from '../../../src/message/tls-required.ts';

test('asksTlsOptional: "TLS-Required: No" in any case, folded or not; nothing else', { timeout: 5000 }, () => {
  const table: [string, boolean][] = [
    ['TLS-Required: No\r\nSubject: x\r\n\r\n', true],
    ['Subject: x\r\ntls-required:no\r\n\r\n', true],
    ['TLS-Required :\r\n NO\r\n\r\n', true],
    ['TLS-Required: Yes\r\n\r\n', false],
    ['TLS-Required: No thanks\r\n\r\n', false],
    ['Subject: TLS-Required: No\r\n\r\n', false],
    ['Subject: x\r\n\r\n', false],
  ];
  for (const [block, want] of table) assert.equal(asksTlsOptional(Buffer.from(block)), want, JSON.stringify(block));
});
