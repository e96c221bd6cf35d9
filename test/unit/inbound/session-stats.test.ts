import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { migrate } from '../../../src/db/migrate.ts';
import { MIGRATIONS_DIR } from '../../../src/db/open.ts';
import { inboundShare, SessionStats } from '../../../src/inbound/session-stats.ts';
import { captureLog } from '../../helpers/log.ts';

const HOUR = 3_600_000;

test('session stats: DNSBL refusals are counted apart from the sessions, and read back for status', () => {
  const db = new Database(':memory:');
  migrate(db, MIGRATIONS_DIR);
  const now = 100 * HOUR;
  const stats = new SessionStats(db, { now: () => now, log: captureLog().log });
  stats.record({ at: now, listener: 'mx', tls: false, greeted: true, messages: 2 });
  stats.record({ at: now, listener: 'mx', tls: false, greeted: false, messages: 0, refusedBy: 'dnsbl' });
  stats.record({ at: now, listener: 'mx', tls: false, greeted: false, messages: 0, refusedBy: 'dnsbl' });
  stats.record({ at: now, listener: 'mx', tls: false, greeted: false, messages: 0 });
  stats.close();
  const share = inboundShare(db, now - 24 * HOUR);
  assert.equal(share.sessions, 1);
  assert.equal(share.messages, 2);
  assert.equal(share.dnsblRefused, 2);
  assert.deepEqual(share.byListener, { mx: { sessions: 1, tls: 0 } });
});

test('session stats: a database from before migration 009 reads as no DNSBL refusals', () => {
  // Only the migrations up to 008, as an older daemon left them (status never migrates).
  const old = new Database(':memory:');
  for (const f of readdirSync(MIGRATIONS_DIR).sort()) if (Number(f.slice(0, 3)) <= 8) old.exec(readFileSync(path.join(MIGRATIONS_DIR, f), 'utf8'));
  old.exec(`INSERT INTO session_stats (hour, listener, tls, sessions, messages) VALUES (${HOUR}, 'mx', 1, 3, 1)`);
  const share = inboundShare(old, 0);
  assert.equal(share.sessions, 3);
  assert.equal(share.dnsblRefused, 0);
});
