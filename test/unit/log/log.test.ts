// The typed mail-log events: `event` first, the fixed field names operators grep, the level asked for.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mailLog } from '../../../src/log/log.ts';
import { captureLog } from '../../helpers/log.ts';

test('auth, authres and mta-sts are mail-log events with fixed fields and their level', { timeout: 5000 }, () => {
  const { log, records } = captureLog();
  mailLog(log, 'auth', { result: 'ok', method: 'PLAIN', user: 'bob@example.test', clientIp: '127.0.0.4' });
  mailLog(
    log,
    'auth',
    { result: 'failed', method: 'LOGIN', user: 'eve', known: false, clientIp: '127.0.0.5', failures: 2, delayedMs: 500 },
    'auth failed',
    'warn',
  );
  mailLog(log, 'auth', { result: 'refused', method: 'PLAIN', user: 'eve', clientIp: '127.0.0.5', retryInMs: 60_000 }, 'auth refused', 'warn');
  mailLog(log, 'authres', { queueId: 'Q1', error: 'DNS timeout' }, 'sender authentication checks did not finish', 'warn');
  mailLog(log, 'mta-sts', { domain: 'example.net', problem: 'no v=STSv1 record' }, 'MTA-STS policy not usable', 'warn');
  // @ts-expect-error the field is named `problem` (operators grep it); `reason` is not an mta-sts field
  mailLog(log, 'mta-sts', { domain: 'example.net', reason: 'x' });
  // @ts-expect-error an auth record says its result
  mailLog(log, 'auth', { method: 'PLAIN', user: 'bob', clientIp: '127.0.0.4' });
  // @ts-expect-error a hop record has every field of one outbound attempt (outbound/hop.ts hopLogFields)
  mailLog(log, 'hop', { queueId: 'Q1', mx: 'mx.example.net' });
  const picked = records.map(({ level, event, msg, ...rest }) => {
    delete rest['time'];
    delete rest['service'];
    return { level, event, msg, ...rest };
  });
  assert.deepEqual(picked.slice(0, 5), [
    { level: 'info', event: 'auth', msg: 'auth', result: 'ok', method: 'PLAIN', user: 'bob@example.test', clientIp: '127.0.0.4' },
    {
      level: 'warn',
      event: 'auth',
      msg: 'auth failed',
      result: 'failed',
      method: 'LOGIN',
      user: 'eve',
      known: false,
      clientIp: '127.0.0.5',
      failures: 2,
      delayedMs: 500,
    },
    { level: 'warn', event: 'auth', msg: 'auth refused', result: 'refused', method: 'PLAIN', user: 'eve', clientIp: '127.0.0.5', retryInMs: 60_000 },
    { level: 'warn', event: 'authres', msg: 'sender authentication checks did not finish', queueId: 'Q1', error: 'DNS timeout' },
    { level: 'warn', event: 'mta-sts', msg: 'MTA-STS policy not usable', domain: 'example.net', problem: 'no v=STSv1 record' },
  ]);
  assert.equal(Object.keys(records[0] ?? {})[0], 'level');
  assert.equal(Object.keys(records[0] ?? {}).indexOf('event') < Object.keys(records[0] ?? {}).indexOf('result'), true, 'event before the fields');
});
