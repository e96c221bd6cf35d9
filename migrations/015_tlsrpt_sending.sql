-- TLSRPT sending (RFC 8460): what each attempt needs for the daily aggregate report besides its
-- source (sending-mta-ip, migration 012), and one row per destination domain and UTC day saying
-- the report was made and where it went, so that a restart never sends a day's report twice
-- (tlsrpt/sent-store.ts is the only writer of tlsrpt_sent).
ALTER TABLE attempts ADD COLUMN sts_policy TEXT;     -- JSON {id, mode, mx, maxAge}: the MTA-STS policy in force for the domain, or NULL
ALTER TABLE attempts ADD COLUMN sts_problem TEXT;    -- JSON {kind, detail}: why the domain's MTA-STS policy was not usable (none cached), or NULL

CREATE TABLE tlsrpt_sent (
  domain TEXT NOT NULL,                 -- the policy domain reported on
  day TEXT NOT NULL,                    -- UTC day covered, YYYY-MM-DD
  report_id TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('sent', 'failed')),
  at INTEGER NOT NULL,                  -- unix ms of the attempt to send
  sessions INTEGER NOT NULL,            -- successful + failed sessions in the report
  failures INTEGER NOT NULL,
  destinations TEXT NOT NULL,           -- JSON array: {uri, result, queueId?, error?}
  PRIMARY KEY (domain, day)
) STRICT;

-- The queue ids of our report messages: their own delivery attempts are never reported on (no loops).
CREATE TABLE tlsrpt_messages (
  queue_id TEXT PRIMARY KEY,
  at INTEGER NOT NULL
) STRICT;
