// The PostgreSQL queue's schema and its migrations: applied in order, once, by whichever node
// gets there first, under a transaction-scoped advisory lock (the others wait on it, then find
// nothing to do). A database whose schema is newer than this program is refused with a clear
// message, so a node left on an old release never writes rows it does not understand.
import type pg from 'pg';
import { withClient } from './connect.ts';

/** pg_advisory_xact_lock key of the migrations ("SEALPOST" in ASCII, so no other user's lock collides by chance). */
export const MIGRATION_LOCK = 0x5345_414c_504f_5354n;

/** Version n is MIGRATIONS[n - 1]; append only. */
export const MIGRATIONS: readonly string[] = [
  `-- The durable queue, as the SQLite one (migrations/001_queue.sql …), plus each claim's node and lease.
  CREATE TABLE messages (
    id text PRIMARY KEY,
    received_at bigint NOT NULL,
    sender text NOT NULL,
    size bigint NOT NULL,
    body bytea NOT NULL,                     -- the whole message (bytea, not large objects: see README)
    smtputf8 boolean NOT NULL DEFAULT false,
    eight_bit boolean NOT NULL DEFAULT false,
    tls_required text CHECK (tls_required IN ('requiretls', 'no')),
    origin text NOT NULL,
    client_ip text,
    helo text,
    header_message_id text,
    subject text,
    delay_notice_sent boolean NOT NULL DEFAULT false
  );
  CREATE TABLE recipients (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id text NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    rcpt text NOT NULL,
    address text NOT NULL,
    transport text NOT NULL CHECK (transport IN ('local', 'remote')),
    state text NOT NULL CHECK (state IN ('queued', 'active', 'held', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at bigint NOT NULL,         -- unix ms
    last_error text,
    updated_at bigint NOT NULL,
    owner text,                              -- the node whose claim this is (state 'active')
    lease_until bigint,                      -- unix ms; past it, any node may take the claim over
    CHECK ((state = 'active') = (owner IS NOT NULL AND lease_until IS NOT NULL))
  );
  CREATE INDEX recipients_due ON recipients (transport, next_attempt_at) WHERE state = 'queued';
  CREATE INDEX recipients_lease ON recipients (transport, lease_until) WHERE state = 'active';
  CREATE INDEX recipients_owner ON recipients (owner) WHERE state = 'active';
  CREATE INDEX recipients_message ON recipients (message_id);
  -- The nodes that use this queue and their last heartbeat (the lease renewal).
  CREATE TABLE nodes (
    name text PRIMARY KEY,
    started_at bigint NOT NULL,
    heartbeat_at bigint NOT NULL
  );`,
  `-- Files every node needs the same copy of, by their path under data_dir (certs/acme/…, dkim/<domain>/<selector>.pem):
  -- each node keeps its local copy in step with these rows (NOTIFY sealpost_files on change).
  CREATE TABLE shared_files (
    path text PRIMARY KEY,                   -- relative to data_dir, '/'-separated, no '..'
    content bytea NOT NULL,
    mode integer NOT NULL,                   -- file mode bits, e.g. 384 (0600)
    updated_at bigint NOT NULL,              -- unix ms
    updated_by text NOT NULL                 -- the node (or 'migrate') that wrote it
  );`,
  `-- Pending ACME challenges of the node that orders, so the node the CA's validation reaches answers it.
  CREATE TABLE acme_challenges (
    kind text NOT NULL CHECK (kind IN ('http-01', 'tls-alpn-01')),
    name text NOT NULL,                      -- the HTTP-01 token, or the TLS-ALPN-01 identifier
    content text NOT NULL,                   -- the key authorization, or the challenge certificate and key (JSON)
    created_at bigint NOT NULL,              -- unix ms
    PRIMARY KEY (kind, name)
  );`,
  `-- The state every node reads and writes, as the SQLite tables of the same names (migrations/002, 004,
  -- 007, 011-013, 015): submission users, delivery attempts, the MTA-STS policy cache, the TLS reports
  -- received and the ones sent (auth/users-pg.ts, outbound/attempts-pg.ts, tls-policy/sts-cache-pg.ts,
  -- tlsrpt/store-pg.ts, tlsrpt/sent-store-pg.ts are their only writers).
  CREATE TABLE users (
    address text PRIMARY KEY,                -- lowercase local part @ ASCII domain
    password_hash text NOT NULL,             -- "$scrypt$…" (auth/password.ts)
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
  );
  CREATE TABLE attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue_id text NOT NULL,                  -- messages.id (no foreign key: kept after the message is gone)
    at bigint NOT NULL,                      -- unix ms when the attempt started
    domain text NOT NULL,
    rcpts text NOT NULL,                     -- JSON array
    mx text NOT NULL,
    ip text NOT NULL,
    port integer NOT NULL,
    policy text NOT NULL,
    policy_source text NOT NULL,
    tls_version text,
    tls_cipher text,
    tls_verified boolean,
    tls_error text,
    downgrade text,
    result text NOT NULL CHECK (result IN ('delivered', 'transient', 'permanent', 'mixed')),
    reply_code integer,
    reply_enhanced text,
    reply_text text,
    error text,
    ms bigint NOT NULL,
    transport text,
    source text,
    dane text,                               -- JSON
    sts_policy text,                         -- JSON
    sts_problem text                         -- JSON
  );
  CREATE INDEX attempts_queue ON attempts (queue_id, at);
  CREATE INDEX attempts_at ON attempts (at, id);
  CREATE TABLE sts_policies (
    domain text PRIMARY KEY,
    policy_id text NOT NULL,
    mode text NOT NULL CHECK (mode IN ('enforce', 'testing', 'none')),
    mx text NOT NULL,                        -- JSON array of mx patterns
    max_age bigint NOT NULL,                 -- seconds
    fetched_at bigint NOT NULL,
    expires_at bigint NOT NULL
  );
  CREATE TABLE tls_reports (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization text NOT NULL,
    report_id text NOT NULL,
    contact text NOT NULL,
    start_at bigint NOT NULL,
    end_at bigint NOT NULL,
    received_at bigint NOT NULL,
    queue_id text NOT NULL,
    UNIQUE (organization, report_id)
  );
  CREATE INDEX tls_reports_start ON tls_reports (start_at);
  CREATE TABLE tls_report_policies (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report bigint NOT NULL REFERENCES tls_reports (id) ON DELETE CASCADE,
    policy_type text NOT NULL,
    policy_domain text NOT NULL,
    mx_hosts text NOT NULL,                  -- JSON array
    successes bigint NOT NULL,
    failures bigint NOT NULL
  );
  CREATE INDEX tls_report_policies_report ON tls_report_policies (report);
  CREATE TABLE tls_report_failures (
    id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,  -- the order they came in (SQLite's rowid)
    policy bigint NOT NULL REFERENCES tls_report_policies (id) ON DELETE CASCADE,
    result_type text NOT NULL,
    sending_mta_ip text NOT NULL,
    receiving_mx text NOT NULL,
    receiving_ip text NOT NULL,
    sessions bigint NOT NULL,
    reason_code text NOT NULL
  );
  CREATE INDEX tls_report_failures_policy ON tls_report_failures (policy);
  -- At most one row per domain and UTC day: the primary key is what lets one node only send a day's report.
  CREATE TABLE tlsrpt_sent (
    domain text NOT NULL,
    day text NOT NULL,                       -- YYYY-MM-DD
    report_id text NOT NULL,
    state text NOT NULL CHECK (state IN ('sent', 'failed')),
    at bigint NOT NULL,
    sessions bigint NOT NULL,
    failures bigint NOT NULL,
    destinations text NOT NULL,              -- JSON array
    PRIMARY KEY (domain, day)
  );
  CREATE TABLE tlsrpt_messages (
    queue_id text PRIMARY KEY,
    at bigint NOT NULL
  );`,
  `-- [outbound] concurrency_per_destination across nodes (pg/slots.ts): slot n (0 <= n < the limit) of a
  -- destination is one node's at a time (the primary key), until it is released or its lease runs out.
  CREATE TABLE destination_slots (
    destination text NOT NULL,
    slot integer NOT NULL,
    owner text NOT NULL,                     -- the node delivering to the destination on this slot
    lease_until bigint NOT NULL,             -- unix ms; renewed by the owner's heartbeat, past it the slot is free
    PRIMARY KEY (destination, slot)
  );
  CREATE INDEX destination_slots_owner ON destination_slots (owner);`,
];

export class SchemaTooNew extends Error {}

/**
 * Brings the schema up to this program's version; returns the versions applied. Throws SchemaTooNew
 * when the database was migrated by a newer Sealpost.
 */
export async function migrate(pool: pg.Pool, migrations: readonly string[] = MIGRATIONS): Promise<number[]> {
  return withClient(pool, async (client) => {
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK.toString()]);
      await client.query('CREATE TABLE IF NOT EXISTS sealpost_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
      const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM sealpost_schema');
      const current = rows[0]?.v ?? 0;
      if (current > migrations.length) {
        throw new SchemaTooNew(
          `the PostgreSQL queue's schema is at version ${current}, newer than this Sealpost knows (${migrations.length}): another node runs a newer release; upgrade this node before starting it`,
        );
      }
      const applied: number[] = [];
      for (let v = current + 1; v <= migrations.length; v++) {
        await client.query(migrations[v - 1] as string);
        await client.query('INSERT INTO sealpost_schema (version) VALUES ($1)', [v]);
        applied.push(v);
      }
      await client.query('COMMIT');
      return applied;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}

/** The schema version of the database without changing it: 0 before any migration. */
export async function schemaVersion(pool: pg.Pool): Promise<number> {
  const exists = await pool.query<{ t: string | null }>(`SELECT to_regclass('sealpost_schema')::text AS t`);
  if (!exists.rows[0]?.t) return 0;
  const { rows } = await pool.query<{ v: number | null }>('SELECT max(version) AS v FROM sealpost_schema');
  return rows[0]?.v ?? 0;
}
