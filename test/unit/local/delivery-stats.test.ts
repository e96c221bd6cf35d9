import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { migrate } from '../../../src/db/migrate.ts';
import { MIGRATIONS_DIR } from '../../../src/db/open.ts';
import { LocalDeliveryStats, localDeliveries } from '../../../src/local/delivery-stats.ts';
import { captureLog } from '../../helpers/log.ts';

const HOUR = 3_600_000;

test('local delivery stats: recipients counted per hour, agent and outcome, and read back for status', () => {
  const db = new Database(':memory:');
  migrate(db, MIGRATIONS_DIR);
  let now = 100 * HOUR + 5;
  const stats = new LocalDeliveryStats(db, { now: () => now, log: captureLog().log });
  stats.record('delivered', 'maildir');
  stats.record('delivered', 'maildir');
  stats.record('deferred', 'lmtp');
  stats.flush();
  now += HOUR;
  stats.record('delivered', 'maildir');
  stats.record('bounced', 'maildir');
  stats.close();
  assert.deepEqual(db.prepare('SELECT hour, agent, outcome, recipients FROM local_delivery_stats ORDER BY hour, agent, outcome').all(), [
    { hour: 100 * HOUR, agent: 'lmtp', outcome: 'deferred', recipients: 1 },
    { hour: 100 * HOUR, agent: 'maildir', outcome: 'delivered', recipients: 2 },
    { hour: 101 * HOUR, agent: 'maildir', outcome: 'bounced', recipients: 1 },
    { hour: 101 * HOUR, agent: 'maildir', outcome: 'delivered', recipients: 1 },
  ]);
  assert.deepEqual(localDeliveries(db, 100 * HOUR + 30), {
    delivered: 3,
    deferred: 1,
    bounced: 1,
    byAgent: { lmtp: { deferred: 1 }, maildir: { bounced: 1, delivered: 3 } },
  });
  assert.deepEqual(localDeliveries(db, 101 * HOUR).byAgent, { maildir: { bounced: 1, delivered: 1 } });
});
