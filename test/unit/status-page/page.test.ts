import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Week } from '../../../src/status-page/history.ts';
import { groupErrors, renderPage, type StatusFacts } from '../../../src/status-page/page.ts';

const from = Date.UTC(2026, 11, 1);
const week = (hours: number): Week => {
  const z = () => new Array<number>(hours).fill(0);
  return {
    from,
    hours,
    inbound: { sessions: z(), tls: z(), received: z() },
    outbound: { connections: z(), tls: z(), delivered: z(), deferred: z(), bounced: z(), mixed: z() },
  };
};

const facts: StatusFacts = {
  hostname: 'mx.example.org',
  configFile: '/etc/sealpost/sealpost.toml',
  checkedAt: '2026-12-02T03:00:00.000Z',
  listeners: [{ kind: 'smtp', address: '127.0.0.1:25', answering: true }],
  certificates: [
    { source: 'acme', names: ['mx.example.org'], notAfter: '2027-02-01T00:00:00.000Z', daysLeft: 61, renewal: 'renews 2027-01-02' },
    { source: 'operator', names: ['<b>x</b>'], notAfter: '2026-12-10T00:00:00.000Z', daysLeft: 7, renewal: 'not renewed by Sealpost' },
    { source: 'self-signed', names: ['old.example.org'], notAfter: '2026-11-01T00:00:00.000Z', daysLeft: -31, renewal: 'renewed at start' },
  ],
  queue: { messages: 3, oldestReceivedAt: '2026-12-02T01:00:00.000Z', recipients: { remote: { queued: 4, held: 1 }, local: { queued: 1 } } },
  lastErrors: [
    {
      at: '2026-12-02T02:00:00.000Z',
      queueId: 'Q1',
      to: 'outlook.test',
      host: 'mx.outlook.test[127.0.0.9]:25',
      result: 'transient',
      error: '450 4.2.0 mailbox busy',
    },
    {
      at: '2026-12-02T02:30:00.000Z',
      queueId: 'Q2',
      to: 'gmail.test',
      host: 'mx.gmail.test[127.0.0.8]:25',
      result: 'permanent',
      error: 'mx.gmail.test[127.0.0.8]:25: 550 5.1.1 no such user <script>',
    },
    { at: '2026-12-02T01:00:00.000Z', queueId: 'Q3', to: 'outlook.test', result: 'transient', error: 'older' },
    { at: '2026-12-02T00:00:00.000Z', queueId: 'Q4', to: 'outlook.test', result: 'permanent', error: 'oldest' },
  ],
  refused: { dnsbl: 2 },
  dnssec: { validating: false, why: 'no' },
};

test('groupErrors: one group per destination, the newest error first and as the reason, every result named once', () => {
  const groups = groupErrors(facts.lastErrors);
  assert.deepEqual(
    groups.map((g) => [g.to, g.count, g.results, g.newest.queueId]),
    [
      ['gmail.test', 1, ['permanent'], 'Q2'],
      ['outlook.test', 3, ['transient', 'permanent'], 'Q1'],
    ],
  );
  assert.deepEqual(groupErrors([]), []);
});

test('renderPage: a complete document with the charts, the queue, certificates by days left, grouped errors; all text escaped', () => {
  const w = week(3);
  w.inbound.sessions = [4, 0, 2];
  w.inbound.tls = [3, 0, 2];
  w.outbound.delivered = [1, 0, 5];
  const html = renderPage({
    facts,
    week: w,
    doctor: {
      checkedAt: '2026-12-02T00:00:00.000Z',
      counts: { ok: 5, warning: 1, error: 0 },
      findings: [{ id: 'ptr.missing', level: 'warning', subject: '203.0.113.7', found: 'no PTR', why: 'w', fix: 'set the PTR & wait' }],
    },
  });
  assert.ok(html.startsWith('<!doctype html>'));
  assert.ok(!html.includes('<script'), 'no script at all, and none from the data');
  assert.match(html, /<svg class="chart" id="chart-tls"/);
  assert.match(html, /<svg class="chart" id="chart-messages"/);
  assert.match(html, /<svg class="chart" id="chart-queue"/);
  assert.equal((html.match(/<circle class="point s-inbound"/g) ?? []).length, 2);
  assert.equal((html.match(/<rect class="bar s-delivered"/g) ?? []).length, 2);
  assert.match(html, /inbound: 5 of 6 with TLS \(83%\)/);
  assert.match(html, /3 messages in the queue, the oldest received 2026-12-02T01:00:00\.000Z/);
  assert.match(html, /data-days="61">61 days left/);
  assert.match(html, /class="days warn" data-days="7">7 days left/);
  assert.match(html, /class="days bad" data-days="-31">expired 31 days ago/);
  assert.match(html, /&lt;b&gt;x&lt;\/b&gt;/);
  assert.match(html, /data-destination="outlook.test" data-count="3"><td>outlook.test<\/td><td>3<\/td><td>deferred, bounced<\/td>/);
  assert.match(html, /450 4\.2\.0 mailbox busy <span class="host">\(mx\.outlook\.test\[127\.0\.0\.9\]:25\)<\/span>/);
  // The host is named once: the reason names it already.
  assert.match(html, /<td class="reason">mx\.gmail\.test\[127\.0\.0\.8\]:25: 550 5\.1\.1 no such user &lt;script&gt;<br>/);
  assert.match(html, /sealpost queue show Q1/);
  assert.match(html, /0 errors, 1 warning, 5 ok/);
  assert.match(html, /fix: set the PTR &amp; wait/);
  assert.match(html, /2 connections refused by DNSBL/);
});

test('renderPage: no database yet, no certificates, no errors, doctor not run', () => {
  const html = renderPage({ facts: { ...facts, queue: null, certificates: [], lastErrors: [], refused: null }, week: week(168), doctor: undefined });
  assert.match(html, /No database yet/);
  assert.match(html, /None yet \(the daemon makes a self-signed one/);
  assert.match(html, /Last delivery errors<\/h2><p>None\.<\/p>/);
  assert.match(html, /Not run yet.*sealpost doctor --config \/etc\/sealpost\/sealpost\.toml/);
  assert.equal((html.match(/class="point /g) ?? []).length, 0);
});
