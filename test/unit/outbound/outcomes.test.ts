import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HopInfo, SmtpReply } from '../../../src/core/delivery.ts';
import { classifySend, summarize } from '../../../src/outbound/outcomes.ts';

const hop: HopInfo = { mx: 'mx.test', ip: '192.0.2.1', port: 25, ms: 1 };
const ok: SmtpReply = { code: 250, text: 'ok' };
const r = (code: number, enhanced?: string): SmtpReply => (enhanced ? { code, enhanced, text: 'x' } : { code, text: 'x' });

test('transaction results become per-recipient outcomes, table', () => {
  const rcpts = ['a@t', 'b@t'];
  const cases: { name: string; send: Parameters<typeof classifySend>[0]; expect: string; next: boolean }[] = [
    {
      name: 'all delivered',
      send: {
        kind: 'done',
        rcptReplies: new Map([
          ['a@t', ok],
          ['b@t', ok],
        ]),
        dataReply: ok,
      },
      expect: 'delivered delivered',
      next: false,
    },
    {
      name: 'one unknown user',
      send: {
        kind: 'done',
        rcptReplies: new Map([
          ['a@t', ok],
          ['b@t', r(550, '5.1.1')],
        ]),
        dataReply: ok,
      },
      expect: 'delivered permanent:5.1.1',
      next: false,
    },
    {
      name: 'greylisted rcpt',
      send: {
        kind: 'done',
        rcptReplies: new Map([
          ['a@t', r(450, '4.2.0')],
          ['b@t', ok],
        ]),
        dataReply: ok,
      },
      expect: 'transient:4.2.0 delivered',
      next: false,
    },
    {
      name: 'data refused',
      send: {
        kind: 'done',
        rcptReplies: new Map([
          ['a@t', ok],
          ['b@t', ok],
        ]),
        dataReply: r(554, '5.7.1'),
      },
      expect: 'permanent:5.7.1 permanent:5.7.1',
      next: false,
    },
    {
      name: 'data deferred',
      send: {
        kind: 'done',
        rcptReplies: new Map([
          ['a@t', ok],
          ['b@t', ok],
        ]),
        dataReply: r(451),
      },
      expect: 'transient:4.0.0 transient:4.0.0',
      next: false,
    },
    {
      name: 'mail 5xx',
      send: { kind: 'failed', stage: 'mail', reply: r(553, '5.7.1'), rcptReplies: new Map() },
      expect: 'permanent:5.7.1 permanent:5.7.1',
      next: false,
    },
    {
      name: 'mail 4xx',
      send: { kind: 'failed', stage: 'mail', reply: r(421, '4.3.0'), rcptReplies: new Map() },
      expect: 'transient:4.3.0 transient:4.3.0',
      next: true,
    },
    {
      name: 'lost in rcpt',
      send: { kind: 'failed', stage: 'rcpt', error: 'closed', rcptReplies: new Map([['a@t', r(550, '5.1.1')]]) },
      expect: 'permanent:5.1.1 transient:4.4.2',
      next: true,
    },
    {
      name: 'lost after data',
      send: {
        kind: 'failed',
        stage: 'data',
        error: 'closed',
        rcptReplies: new Map([
          ['a@t', ok],
          ['b@t', ok],
        ]),
      },
      expect: 'transient:4.4.2 transient:4.4.2',
      next: false,
    },
    {
      name: 'smtputf8 missing',
      send: { kind: 'refused', reason: 'needs SMTPUTF8', enhanced: '5.6.7' },
      expect: 'permanent:5.6.7 permanent:5.6.7',
      next: false,
    },
  ];
  for (const c of cases) {
    const out = classifySend(c.send, rcpts, hop, 'mx.test[192.0.2.1]:25');
    const got = rcpts.map((rc) => {
      const o = out.outcomes.get(rc);
      return o?.kind === 'delivered' ? 'delivered' : `${o?.kind}:${o?.enhanced}`;
    });
    assert.equal(got.join(' '), c.expect, c.name);
    assert.equal(out.tryNextHost, c.next, c.name);
  }
});

test('reasons quote the host and the command', () => {
  const out = classifySend(
    { kind: 'done', rcptReplies: new Map([['a@t', { code: 550, enhanced: '5.1.1', text: 'no such user' }]]) },
    ['a@t'],
    hop,
    'mx.test[192.0.2.1]:25',
  );
  const o = out.outcomes.get('a@t');
  assert.ok(o && o.kind === 'permanent');
  assert.equal(o.reason, 'host mx.test[192.0.2.1]:25 said: 550 5.1.1 no such user (in reply to RCPT TO)');
  assert.deepEqual(o.hop, hop);
});

test('summaries', () => {
  assert.equal(summarize([{ kind: 'delivered' }, { kind: 'delivered' }]), 'delivered');
  assert.equal(summarize([{ kind: 'delivered' }, { kind: 'transient', reason: '' }]), 'mixed');
  assert.equal(summarize([{ kind: 'permanent', reason: '' }]), 'permanent');
});
