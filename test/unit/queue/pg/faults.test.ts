import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeViews } from '../../../../src/queue/pg/admin.ts';
import { isConnectionFault } from '../../../../src/queue/pg/faults.ts';
import { QueueUnavailable } from '../../../../src/queue/unavailable.ts';

const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });

test('connection faults of the PostgreSQL queue: waited out; everything else is a bug that goes up', { timeout: 5000 }, () => {
  const cases: [unknown, boolean, string][] = [
    [coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432'), true, 'server down'],
    [coded('ECONNRESET'), true, 'connection reset'],
    [coded('57P01', 'terminating connection due to administrator command'), true, 'pg_ctl stop -m fast'],
    [coded('57P03', 'the database system is shutting down'), true, 'stopping or starting'],
    [coded('08006'), true, 'connection failure (class 08)'],
    [coded('53300', 'sorry, too many clients already'), true, 'out of connections'],
    [new Error('Connection terminated unexpectedly'), true, 'pg: the socket closed'],
    [new Error('timeout exceeded when trying to connect'), true, 'pg-pool: connect timeout'],
    [new AggregateError([coded('ECONNREFUSED')], ''), true, 'every address refused (IPv4 and IPv6)'],
    [new QueueUnavailable(new Error('down')), true, 'already classified'],
    [coded('23505', 'duplicate key value violates unique constraint'), false, 'a bug: unique violation'],
    [coded('42P01', 'relation "recipients" does not exist'), false, 'a bug or a missing schema'],
    [coded('SQLITE_FULL'), false, 'not PostgreSQL'],
    [new Error('something else'), false, 'plain error'],
    [undefined, false, 'nothing'],
  ];
  for (const [err, expected, why] of cases) assert.equal(isConnectionFault(err), expected, why);
});

test("QueueUnavailable keeps its code (it crosses the session processes' IPC by it) and its cause", { timeout: 5000 }, () => {
  const cause = coded('ECONNREFUSED', 'connect ECONNREFUSED');
  const e = new QueueUnavailable(cause);
  assert.equal(e.code, 'SEALPOST_QUEUE_UNAVAILABLE');
  assert.equal(e.cause, cause);
  assert.match(e.message, /^queue database unavailable: connect ECONNREFUSED$/);
});

test('sealpost nodes: a node silent for more than 3 x lease is gone', { timeout: 5000 }, () => {
  const lease = 60_000;
  const now = 1_000_000_000;
  const node = (name: string, silentMs: number) => ({ name, startedAt: 0, heartbeatAt: now - silentMs, claims: 0, leaseUntil: null });
  const views = nodeViews([node('fresh', 1000), node('late', 3 * lease), node('gone', 3 * lease + 1), node('ahead', -500)], now, lease);
  assert.deepEqual(
    views.map((v) => [v.name, v.gone, v.heartbeatAgeMs]),
    [
      ['fresh', false, 1000],
      ['late', false, 3 * lease],
      ['gone', true, 3 * lease + 1],
      // A clock a little ahead of ours: age 0, not negative.
      ['ahead', false, 0],
    ],
  );
});
