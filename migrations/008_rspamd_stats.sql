-- rspamd scans counted per hour, direction and action, for `sealpost status` (the last day's
-- actions and errors). rspamd/stats.ts is the only writer. Rows older than 30 days go.
CREATE TABLE rspamd_stats (
  hour INTEGER NOT NULL,                -- unix ms at the start of the hour (UTC)
  direction TEXT NOT NULL,              -- inbound (port 25) | outbound (our users, relay.networks)
  action TEXT NOT NULL,                 -- rspamd's action ("reject", "add header", "no action", …) or "error"
  scans INTEGER NOT NULL,
  PRIMARY KEY (hour, direction, action)
) STRICT;
