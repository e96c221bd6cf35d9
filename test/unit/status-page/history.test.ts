import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { migrate } from '../../../src/db/migrate.ts';
import { MIGRATIONS_DIR } from '../../../src/db/open.ts';
import { readWeek, shares } from '../../../src/status-page/history.ts';
import { QUIET_HOURS, seedWeek } from '../../helpers/status-traffic.ts';

const HOUR = 3_600_000;

test('readWeek: per hour, the sessions and attempts written, in the slot of their hour; older rows left out', () => {
  const db = new Database(':memory:');
  migrate(db, MIGRATIONS_DIR);
  const now = Date.UTC(2026, 11, 2, 3, 17);
  const seeded = seedWeek(db, now);
  // A row from before the week is not in it.
  db.prepare("INSERT INTO session_stats (hour, listener, tls, sessions, messages) VALUES (?, 'mx', 1, 99, 99)").run(seeded[0]!.hour - HOUR);
  const week = readWeek(db, now);
  assert.equal(week.hours, 168);
  assert.equal(week.from, Date.UTC(2026, 11, 2, 3) - 167 * HOUR);
  assert.deepEqual(
    week.inbound.sessions,
    seeded.map((h) => h.sessions),
  );
  assert.deepEqual(
    week.inbound.tls,
    seeded.map((h) => h.tls),
  );
  assert.deepEqual(
    week.inbound.received,
    seeded.map((h) => h.received),
  );
  assert.deepEqual(
    week.outbound.delivered,
    seeded.map((h) => h.delivered),
  );
  assert.deepEqual(
    week.outbound.deferred,
    seeded.map((h) => h.deferred),
  );
  assert.deepEqual(
    week.outbound.bounced,
    seeded.map((h) => h.bounced),
  );
  assert.deepEqual(
    week.outbound.connections,
    seeded.map((h) => h.connections),
  );
  assert.deepEqual(
    week.outbound.tls,
    seeded.map((h) => h.outboundTls),
  );
  const inbound = shares(week.inbound.tls, week.inbound.sessions);
  for (const q of QUIET_HOURS) assert.equal(inbound[q], null);
  assert.equal(inbound[1], 1);
  assert.ok((inbound[0] ?? 0) < 1);
});

test('readWeek: an empty or an old database (no statistics tables) reads as a week of zeros', () => {
  const db = new Database(':memory:');
  const week = readWeek(db, Date.UTC(2026, 11, 2), 24);
  assert.deepEqual(week.inbound.sessions, new Array(24).fill(0));
  assert.deepEqual(week.outbound.delivered, new Array(24).fill(0));
});
