// The daily TLS-report run (tlsrpt/service.ts) over a real database: one report per domain that
// asks, by each of its URIs; claimed before sending, so a second run sends nothing; our report
// messages' attempts left out; a domain without a usable record (or a DNS failure) skipped.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { type Db, openDb } from '../../../src/db/open.ts';
import { createDkimSigner } from '../../../src/dkim/signer.ts';
import { createLogger } from '../../../src/log/log.ts';
import { type AttemptRecord, AttemptsStore } from '../../../src/outbound/attempts-store.ts';
import type { NewMessage } from '../../../src/queue/message.ts';
import type { TlsReport } from '../../../src/tlsrpt/report.ts';
import { TlsrptSentStore } from '../../../src/tlsrpt/sent-store.ts';
import { reportDay, type TlsrptDeps } from '../../../src/tlsrpt/service.ts';
import { captureLog } from '../../helpers/log.ts';
import { fakeResolver } from '../dns/fake-resolver.ts';

const migrations = path.resolve(import.meta.dirname, '../../../migrations');
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function freshDb(): Promise<Db> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sealpost-tlsrpt-send-'));
  dirs.push(dir);
  return openDb(dir, migrations);
}

const DAY = Date.UTC(2026, 11, 1);
const verified = { version: 'TLSv1.3', cipher: 'c', verified: true };
const attempt = (queueId: string, domain: string, at = DAY + 3_600_000): AttemptRecord => ({
  queueId,
  at,
  domain,
  rcpts: [`a@${domain}`],
  mx: `mx.${domain}`,
  ip: '192.0.2.1',
  port: 25,
  policy: 'may',
  policySource: 'default',
  tls: verified,
  result: 'delivered',
  reply: { code: 250, text: 'ok' },
  ms: 3,
  source: '198.51.100.7',
});

test('a day: one report per domain that asks, by mail and by POST; never twice; our reports left out', { timeout: 10_000 }, async () => {
  const db = await freshDb();
  const attempts = new AttemptsStore(db);
  const store = new TlsrptSentStore(db);
  for (const a of [
    attempt('Q1', 'mail.test'),
    attempt('Q2', 'mail.test'),
    attempt('Q3', 'web.test'),
    attempt('Q4', 'none.test'),
    attempt('Q5', 'down.test'),
    attempt('R1', 'ours.test'),
    // The day before and the day after: not in this report.
    attempt('Q6', 'mail.test', DAY - 1),
    attempt('Q7', 'mail.test', DAY + 86_400_000),
  ])
    attempts.record(a);
  attempts.flush();
  // A report queued three days before, still being retried today.
  await store.markMessage('R1', DAY - 3 * 86_400_000);
  const queued: NewMessage[] = [];
  const posted: { url: string; body: Buffer }[] = [];
  const { stream, records } = captureLog('info');
  const asked: string[] = [];
  const deps: TlsrptDeps = {
    organization: 'Org',
    contact: 'postmaster@org.test',
    hostname: 'mx.org.test',
    from: 'tlsrpt-noreply@org.test',
    signer: createDkimSigner([]),
    now: () => DAY + 86_400_000 + 1000,
    newId: () => `N${queued.length + 1}`,
    route: (address) => ({ kind: 'remote', address }),
    enqueue: async (m) => void queued.push(m),
    post: async (url, body) => {
      posted.push({ url: url.href, body });
      return { ok: true, status: 200 };
    },
    attempts,
    store,
    resolveTxt: fakeResolver(
      {
        '_smtp._tls.mail.test': { TXT: ['v=TLSRPTv1; rua=mailto:rua@mail.test'] },
        '_smtp._tls.web.test': { TXT: ['v=TLSRPTv1; rua=https://r.web.test/tlsrpt'] },
        '_smtp._tls.down.test': { TXT: { kind: 'servfail', detail: 'SERVFAIL' } },
        '_smtp._tls.ours.test': { TXT: ['v=TLSRPTv1; rua=mailto:rua@ours.test'] },
      },
      asked,
    ).resolveTxt,
    log: createLogger('info', stream),
    retentionMs: 30 * 86_400_000,
  };
  const first = await reportDay(DAY, deps);
  assert.deepEqual(first, { day: '2026-12-01', domains: 4, reports: 2, failed: 0 });
  assert.ok(!asked.includes('_smtp._tls.ours.test TXT'), 'the attempts of our own reports are not looked at');
  assert.equal(queued.length, 1);
  const mail = queued[0] as NewMessage;
  assert.deepEqual(mail.recipients, [{ rcpt: 'rua@mail.test', address: 'rua@mail.test', transport: 'remote' }]);
  assert.equal(mail.sender, '');
  assert.equal(mail.origin, 'tlsrpt');
  assert.equal(mail.tlsRequired, 'no');
  assert.equal(posted.length, 1);
  assert.equal(posted[0]?.url, 'https://r.web.test/tlsrpt');
  const web = JSON.parse(gunzipSync(posted[0]?.body ?? Buffer.alloc(0)).toString()) as TlsReport;
  assert.equal(web['report-id'], '2026-12-01.web.test@mx.org.test');
  assert.deepEqual(web.policies[0]?.summary, { 'total-successful-session-count': 1, 'total-failure-session-count': 0 });
  assert.deepEqual(
    (await store.list()).map((r) => [r.domain, r.day, r.state, r.sessions, r.destinations.map((d) => d.result)]),
    [
      ['mail.test', '2026-12-01', 'sent', 2, ['queued']],
      ['web.test', '2026-12-01', 'sent', 1, ['posted']],
    ],
  );
  assert.deepEqual(
    records.filter((r) => r['event'] === 'tlsrpt' && r['state'] === 'sent').map((r) => r['domain']),
    ['mail.test', 'web.test'],
  );

  // Again (a restart): the two are done; the others are looked up again and still give nothing.
  const second = await reportDay(DAY, deps);
  assert.deepEqual(second, { day: '2026-12-01', domains: 2, reports: 0, failed: 0 });
  assert.equal(queued.length, 1);
  assert.equal(posted.length, 1);
  db.close();
});

test('a destination that refuses: the report is recorded as failed and not tried again', { timeout: 10_000 }, async () => {
  const db = await freshDb();
  const attempts = new AttemptsStore(db);
  attempts.record(attempt('Q1', 'web.test'));
  const store = new TlsrptSentStore(db);
  let posts = 0;
  const deps: TlsrptDeps = {
    organization: 'Org',
    contact: 'c',
    hostname: 'mx.org.test',
    from: 'tlsrpt-noreply@org.test',
    signer: createDkimSigner([]),
    now: () => DAY + 86_400_000,
    newId: () => 'N1',
    route: (address) => ({ kind: 'remote', address }),
    enqueue: async () => undefined,
    post: async () => {
      posts++;
      return { ok: false, error: 'HTTP 500' };
    },
    attempts,
    store,
    resolveTxt: fakeResolver({ '_smtp._tls.web.test': { TXT: ['v=TLSRPTv1; rua=https://r.web.test/'] } }).resolveTxt,
    log: createLogger('info', captureLog('info').stream),
    retentionMs: 30 * 86_400_000,
  };
  assert.deepEqual(await reportDay(DAY, deps), { day: '2026-12-01', domains: 1, reports: 0, failed: 1 });
  assert.deepEqual(
    (await store.list()).map((r) => [r.state, r.destinations]),
    [['failed', [{ uri: 'https://r.web.test/', result: 'failed', error: 'HTTP 500' }]]],
  );
  assert.deepEqual(await reportDay(DAY, deps), { day: '2026-12-01', domains: 0, reports: 0, failed: 0 });
  assert.equal(posts, 1, 'at most once per domain and day');
  db.close();
});
