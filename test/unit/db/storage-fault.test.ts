import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isStorageFault, StorageHealth } from '../../../src/db/storage-fault.ts';
import { captureLog } from '../../helpers/log.ts';

test('which errors are a full or failing disk', () => {
  const cases: [unknown, boolean][] = [
    [{ code: 'SQLITE_FULL' }, true],
    [{ code: 'SQLITE_IOERR_SHMSIZE' }, true],
    [{ code: 'SQLITE_IOERR_WRITE' }, true],
    [{ code: 'SQLITE_IOERR' }, true],
    [{ code: 'ENOSPC' }, true],
    [{ code: 'EDQUOT' }, true],
    [{ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' }, false],
    [{ code: 'SQLITE_BUSY' }, false],
    [new TypeError('x is undefined'), false],
    [undefined, false],
  ];
  for (const [err, expected] of cases) assert.equal(isStorageFault(err), expected, JSON.stringify(err));
});

test('one record when an episode starts and one when it ends; 452 only within refuse_ms of the last fault; backoff doubles to its cap', () => {
  let now = 0;
  const { log, records } = captureLog();
  let recovered = 0;
  const health = new StorageHealth({ log, now: () => now, refuseMs: 5000, minBackoffMs: 1000, maxBackoffMs: 8000, recovered: () => recovered++ });
  assert.equal(health.fault('local complete', new Error('a bug')), false, 'not a storage fault: the caller lets it go up');
  assert.equal(health.failing, false);
  assert.equal(health.fault('local complete', { code: 'SQLITE_FULL', message: 'database or disk is full' }), true);
  now = 1000;
  assert.equal(health.fault('local claim', { code: 'SQLITE_FULL' }), true);
  assert.equal(records.filter((r) => r['event'] === 'storage').length, 1, 'logged once per episode');
  assert.equal(records[0]?.['where'], 'local complete');
  assert.equal(health.refusing(), true);
  now = 6001;
  assert.equal(health.refusing(), false, 'the next MAIL FROM tries again');
  health.ok();
  health.ok();
  const ended = records.filter((r) => r['state'] === 'recovered');
  assert.equal(ended.length, 1);
  assert.equal(ended[0]?.['faults'], 2);
  assert.equal(ended[0]?.['ms'], 6001);
  assert.equal(recovered, 1);
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((n) => health.backoffMs(n)),
    [1000, 2000, 4000, 8000, 8000],
  );
});

test('untilWritten: a write the disk refuses is tried again with backoff until it goes through (recover() at start on a full disk)', {
  timeout: 10_000,
}, async () => {
  const { log, records } = captureLog();
  const health = new StorageHealth({ log, now: Date.now, minBackoffMs: 5, maxBackoffMs: 20 });
  let refusals = 3;
  let written = 0;
  const done = new Promise<void>((resolve) => {
    health.untilWritten('recover', () => {
      if (refusals-- > 0) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
      written++;
      resolve();
    });
  });
  assert.equal(written, 0, 'refused at first: the caller goes on (start-up is not held up)');
  await done;
  assert.equal(written, 1);
  assert.deepEqual(
    records.filter((r) => r['event'] === 'storage').map((r) => r['state']),
    ['failing', 'recovered'],
  );
  assert.throws(
    () =>
      health.untilWritten('recover', () => {
        throw new TypeError('a bug');
      }),
    /a bug/,
  );
});

test('a health of the queue database: its own faults and words, and any answer ends the episode (readsHeal)', { timeout: 5000 }, () => {
  const { log, records } = captureLog();
  const health = new StorageHealth({
    log,
    now: () => 0,
    isFault: (err) => (err as { code?: string }).code === 'ECONNREFUSED',
    failingText: 'the queue database does not answer',
    recoveredText: 'the queue database answers again',
    readsHeal: true,
  });
  assert.equal(health.fault('remote claim', { code: 'SQLITE_FULL' }), false, "a disk fault is not this health's");
  assert.equal(health.fault('remote claim', { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' }), true);
  assert.equal(health.readsHeal, true);
  health.ok();
  assert.deepEqual(
    records.filter((r) => r['event'] === 'storage').map((r) => [r['state'], r['msg']]),
    [
      ['failing', 'the queue database does not answer'],
      ['recovered', 'the queue database answers again'],
    ],
  );
  assert.equal(new StorageHealth({ log, now: () => 0 }).readsHeal, false, 'the disk: a read proves nothing');
});
