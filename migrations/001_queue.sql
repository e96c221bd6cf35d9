-- The durable queue: one row per message (with its body), one per recipient.
-- queue/store.ts is the only writer of these tables.
CREATE TABLE messages (
  id TEXT PRIMARY KEY,                  -- queue id, shown in logs and Received headers
  received_at INTEGER NOT NULL,         -- unix ms
  sender TEXT NOT NULL,                 -- envelope sender; '' is the null sender <>
  size INTEGER NOT NULL,                -- bytes of body
  body BLOB NOT NULL,                   -- the message as stored: our Received header first, CRLF line ends
  smtputf8 INTEGER NOT NULL DEFAULT 0,  -- the envelope or headers need SMTPUTF8
  eight_bit INTEGER NOT NULL DEFAULT 0, -- the body has 8-bit bytes (BODY=8BITMIME or undeclared)
  origin TEXT NOT NULL,                 -- smtp | submission | local | bounce
  client_ip TEXT,
  helo TEXT,
  header_message_id TEXT,
  subject TEXT
) STRICT;

CREATE TABLE recipients (
  id INTEGER PRIMARY KEY,
  message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  rcpt TEXT NOT NULL,                   -- the envelope recipient as the client gave it (ORCPT)
  address TEXT NOT NULL,                -- where it goes: a local mailbox or a remote address
  transport TEXT NOT NULL CHECK (transport IN ('local', 'remote')),
  state TEXT NOT NULL CHECK (state IN ('queued', 'active', 'held', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,     -- unix ms; the worker claims rows due by this index
  last_error TEXT,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE INDEX recipients_due ON recipients (transport, next_attempt_at) WHERE state = 'queued';
CREATE INDEX recipients_message ON recipients (message_id);
