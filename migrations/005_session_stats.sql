-- Inbound SMTP sessions counted per hour, listener and TLS, for `sealpost status` (the share of
-- inbound connections that used TLS). inbound/session-stats.ts is the only writer. Sessions that
-- never said EHLO or HELO (port probes, scanners) are not counted. Rows older than 30 days go.
CREATE TABLE session_stats (
  hour INTEGER NOT NULL,                -- unix ms at the start of the hour (UTC)
  listener TEXT NOT NULL,               -- mx | submission | submissions
  tls INTEGER NOT NULL,                 -- 1: the session ran over TLS (STARTTLS, or port 465)
  sessions INTEGER NOT NULL,
  messages INTEGER NOT NULL,            -- messages accepted in those sessions
  PRIMARY KEY (hour, listener, tls)
) STRICT;
