-- DANE (RFC 7672) of an attempt, as JSON {"tlsa": n, "usable": n, "matched": "3 1 1" | null, "error": text | null}
-- (outbound/hop.ts DaneFacts); NULL when the destination's TLS level did not ask for DANE.
-- policy_source gains the value 'dane': the hop was authenticated (or encrypted) by its TLSA records.
ALTER TABLE attempts ADD COLUMN dane TEXT;
