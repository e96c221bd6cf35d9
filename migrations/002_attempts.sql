-- Outbound delivery records: one row per attempt per host (outbound/attempts-store.ts is the only
-- writer), and the MTA-STS policy cache (tls-policy/sts-cache.ts is the only writer).
-- Attempts outlive their message on purpose (history for `queue show` and audits); pruned by age.
CREATE TABLE attempts (
  id INTEGER PRIMARY KEY,
  queue_id TEXT NOT NULL,               -- messages.id (no foreign key: kept after the message is gone)
  at INTEGER NOT NULL,                  -- unix ms when the attempt started
  domain TEXT NOT NULL,                 -- destination domain
  rcpts TEXT NOT NULL,                  -- JSON array of the recipient addresses tried on this host
  mx TEXT NOT NULL,                     -- MX host name ('' when no host was reached, e.g. DNS failure)
  ip TEXT NOT NULL,
  port INTEGER NOT NULL,
  policy TEXT NOT NULL,                 -- none | may | encrypt | verify
  policy_source TEXT NOT NULL,          -- table | mta-sts | default
  tls_version TEXT,                     -- e.g. TLSv1.3; NULL when plaintext
  tls_cipher TEXT,
  tls_verified INTEGER,                 -- 1 chain and name verified, 0 not, NULL no TLS
  tls_error TEXT,                       -- verification or handshake error, verbatim
  downgrade TEXT,                       -- why this attempt ran in plaintext despite STARTTLS
  result TEXT NOT NULL CHECK (result IN ('delivered', 'transient', 'permanent', 'mixed')),
  reply_code INTEGER,
  reply_enhanced TEXT,
  reply_text TEXT,
  error TEXT,                           -- our reason when there is no (or besides the) reply
  ms INTEGER NOT NULL                   -- duration of the attempt
) STRICT;

CREATE INDEX attempts_queue ON attempts (queue_id, at);
CREATE INDEX attempts_at ON attempts (at);

CREATE TABLE sts_policies (
  domain TEXT PRIMARY KEY,              -- policy domain, ASCII lowercase
  policy_id TEXT NOT NULL,              -- id from the _mta-sts TXT record
  mode TEXT NOT NULL CHECK (mode IN ('enforce', 'testing', 'none')),
  mx TEXT NOT NULL,                     -- JSON array of mx patterns
  max_age INTEGER NOT NULL,             -- seconds
  fetched_at INTEGER NOT NULL,          -- unix ms
  expires_at INTEGER NOT NULL           -- unix ms: fetched_at + max_age
) STRICT;
