-- The local address an attempt's connection came from ([outbound] source_ipv4/source_ipv6 or the kernel's choice); NULL = no connection.
ALTER TABLE attempts ADD COLUMN source TEXT;
