-- RFC 8689 per message: 'requiretls' (MAIL FROM … REQUIRETLS), 'no' (a TLS-Required: No header field), NULL: neither.
ALTER TABLE messages ADD COLUMN tls_required TEXT CHECK (tls_required IN ('requiretls', 'no'));
