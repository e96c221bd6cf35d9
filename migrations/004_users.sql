-- Submission users (AUTH PLAIN/LOGIN on 587/465): the login is the user's mailbox address.
-- auth/users.ts is the only writer; `sealpost user add|passwd|del` go through it.
CREATE TABLE users (
  address TEXT PRIMARY KEY,             -- lowercase local part @ ASCII domain, e.g. alice@example.org
  password_hash TEXT NOT NULL,          -- "$scrypt$ln=15,r=8,p=1$<salt>$<hash>" (auth/password.ts)
  created_at INTEGER NOT NULL,          -- unix ms
  updated_at INTEGER NOT NULL           -- unix ms of the last password change
) STRICT;
