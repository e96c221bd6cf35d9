import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { test } from 'node:test';
import { deliverLmtp, outcomeOfReply } from '../../../src/local/lmtp.ts';

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

test('LMTP session against a scripted server: 251 counts as accepted, a 250 where 354 belongs defers, no reply after the dot defers', {
  timeout: 10_000,
}, async () => {
  const script = (answers: Record<string, string>) =>
    net.createServer((c) => {
      c.write('220 lmtp.test ready\r\n');
      let buffer = '';
      let inData = false;
      c.on('data', (chunk: Buffer) => {
        buffer += chunk.toString('latin1');
        for (let nl = buffer.indexOf('\r\n'); nl !== -1; nl = buffer.indexOf('\r\n')) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 2);
          if (inData) {
            if (line === '.') {
              inData = false;
              const dot = answers['.'];
              if (dot === undefined) c.destroy();
              else c.write(dot);
            }
            continue;
          }
          const verb = line.split(/[ :]/)[0] ?? '';
          const answer = answers[line] ?? answers[verb] ?? '250 ok\r\n';
          if (answer.startsWith('354')) inData = true;
          c.write(answer);
        }
      });
    });
  const job = {
    queueId: 'Q1',
    sender: 's@remote.test',
    receivedAt: 0,
    size: 0,
    body: Buffer.from('Subject: x\r\n\r\n.dot\r\n'),
    smtputf8: false,
    eightBit: false,
    recipients: [
      { id: 1, rcpt: 'a@l.test', address: 'a@l.test', attempts: 0 },
      { id: 2, rcpt: 'b@l.test', address: 'b@l.test', attempts: 0 },
    ],
  };
  const opts = { hostname: 'mx.test', server: 'test', connectTimeoutMs: 2000, commandTimeoutMs: 2000, dataTimeoutMs: 2000 };
  const run = async (answers: Record<string, string>) => {
    const server = script(answers).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as net.AddressInfo;
      return await deliverLmtp({ host: '127.0.0.1', port }, job, job.recipients, opts);
    } finally {
      server.close();
    }
  };
  const forwarded = await run({ 'RCPT TO:<b@l.test>': '251 2.1.5 will forward\r\n', DATA: '354 go\r\n', '.': '250 2.0.0 a ok\r\n452 4.2.2 b full\r\n' });
  assert.equal(forwarded.get(1)?.kind, 'delivered');
  assert.equal(forwarded.get(2)?.kind, 'transient');
  const odd = await run({ DATA: '250 sure\r\n' });
  assert.deepEqual(
    [...odd.values()].map((o) => o.kind === 'transient' && o.reason),
    ['LMTP server test gave an unexpected reply to DATA', 'LMTP server test gave an unexpected reply to DATA'],
  );
  const cut = await run({ DATA: '354 go\r\n' });
  assert.deepEqual(
    [...cut.values()].map((o) => o.kind === 'transient' && o.enhanced),
    ['4.4.2', '4.4.2'],
  );
});
