-- The transport an attempt used: "relay" or "transport example.com" (outbound/transport.ts); NULL = MX delivery.
ALTER TABLE attempts ADD COLUMN transport TEXT;
