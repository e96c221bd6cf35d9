-- Connections refused at connect because DNSBLs list the client ([inbound.dnsbl]), counted in
-- session_stats beside the sessions of the same hour and listener (tls 0: refused before
-- STARTTLS), for `sealpost status`. Such sessions are not counted in `sessions`.
ALTER TABLE session_stats ADD COLUMN dnsbl_refused INTEGER NOT NULL DEFAULT 0;
