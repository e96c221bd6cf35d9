// The users table: who may authenticate for submission, with their scrypt hashes. The only writer
// of `users` in SQLite (users-pg.ts in PostgreSQL, behind the same UserStore contract); reads
// happen per AUTH, so `sealpost user` changes apply to a running daemon (every node) at once.
//
//   normalizeLogin(text)       → "alice@example.org" (the stored form) or undefined
//   new UsersStore(db)         .add / .setPassword / .remove / .list / .passwordHash
import { formatMailbox, parseMailbox } from '../core/address.ts';
import type { Db } from '../db/open.ts';

export interface UserRow {
  address: string;
  createdAt: number;
  updatedAt: number;
}

/**
 * The canonical login: an address with a lowercase local part and an ASCII lowercase domain, the
 * way recipients.ts compares our mailboxes. Undefined for anything else (address literals too).
 */
export function normalizeLogin(text: string): string | undefined {
  const parsed = parseMailbox(text.trim());
  if (!parsed || parsed.domain.startsWith('[')) return undefined;
  return formatMailbox({ local: parsed.local.toLowerCase(), domain: parsed.domain });
}

/** The submission users, wherever they are kept (SQLite here, PostgreSQL in users-pg.ts). */
export interface UserStore {
  /** False when the user exists already. `address` must be normalizeLogin's output. */
  add(address: string, passwordHash: string, now: number): Promise<boolean>;
  /** False when there is no such user. */
  setPassword(address: string, passwordHash: string, now: number): Promise<boolean>;
  /** False when there is no such user. */
  remove(address: string): Promise<boolean>;
  passwordHash(address: string): Promise<string | undefined>;
  /** Every user, by address. */
  list(): Promise<UserRow[]>;
}

export class UsersStore implements UserStore {
  private readonly statements;

  constructor(db: Db) {
    this.statements = {
      insert: db.prepare('INSERT INTO users (address, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (address) DO NOTHING'),
      update: db.prepare('UPDATE users SET password_hash = ?, updated_at = ? WHERE address = ?'),
      remove: db.prepare('DELETE FROM users WHERE address = ?'),
      hash: db.prepare<[string], { password_hash: string }>('SELECT password_hash FROM users WHERE address = ?'),
      list: db.prepare<[], { address: string; created_at: number; updated_at: number }>('SELECT address, created_at, updated_at FROM users ORDER BY address'),
    };
  }

  /** False when the user exists already. `address` must be normalizeLogin's output. */
  async add(address: string, passwordHash: string, now: number): Promise<boolean> {
    return this.statements.insert.run(address, passwordHash, now, now).changes === 1;
  }

  /** False when there is no such user. */
  async setPassword(address: string, passwordHash: string, now: number): Promise<boolean> {
    return this.statements.update.run(passwordHash, now, address).changes === 1;
  }

  /** False when there is no such user. */
  async remove(address: string): Promise<boolean> {
    return this.statements.remove.run(address).changes === 1;
  }

  async passwordHash(address: string): Promise<string | undefined> {
    return this.statements.hash.get(address)?.password_hash;
  }

  async list(): Promise<UserRow[]> {
    return this.statements.list.all().map((r) => ({ address: r.address, createdAt: r.created_at, updatedAt: r.updated_at }));
  }
}
