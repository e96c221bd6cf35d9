import assert from 'node:assert/strict';
import { test } from 'node:test';
import { outcomeOfReply } from '../../../src/local/lmtp.ts';

test('LMTP reply → Outcome (RFC 2033 §4.2, RFC 5321 §4.2.1): 2yz delivered, 4yz deferred, 5yz bounced, naming the server and the step', () => {
  const server = 'unix:/run/dovecot/lmtp';
  const table: [number, string | undefined, string, ReturnType<typeof outcomeOfReply>][] = [
    [
      250,
      '2.0.0',
      '<a@x> id Saved',
      {
        kind: 'delivered',
        detail: 'LMTP server unix:/run/dovecot/lmtp: 250 2.0.0 <a@x> id Saved',
        reply: { code: 250, enhanced: '2.0.0', text: '<a@x> id Saved' },
      },
    ],
    [
      452,
      '4.2.2',
      'Quota exceeded',
      {
        kind: 'transient',
        reason: 'LMTP server unix:/run/dovecot/lmtp refused the message',
        enhanced: '4.2.2',
        reply: { code: 452, enhanced: '4.2.2', text: 'Quota exceeded' },
      },
    ],
    [
      550,
      '5.1.1',
      "User doesn't exist",
      {
        kind: 'permanent',
        reason: 'LMTP server unix:/run/dovecot/lmtp refused the message',
        enhanced: '5.1.1',
        reply: { code: 550, enhanced: '5.1.1', text: "User doesn't exist" },
      },
    ],
    [
      421,
      undefined,
      'shutting down',
      { kind: 'transient', reason: 'LMTP server unix:/run/dovecot/lmtp refused the message', enhanced: '4.0.0', reply: { code: 421, text: 'shutting down' } },
    ],
    [
      554,
      undefined,
      'no',
      { kind: 'permanent', reason: 'LMTP server unix:/run/dovecot/lmtp refused the message', enhanced: '5.0.0', reply: { code: 554, text: 'no' } },
    ],
  ];
  for (const [code, enhanced, text, expected] of table) {
    const reply = enhanced ? { code, enhanced, text } : { code, text };
    assert.deepEqual(outcomeOfReply(server, 'the message', reply), expected, String(code));
  }
});
