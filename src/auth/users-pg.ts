// The users table on PostgreSQL ([store] kind = "postgres"): the UserStore contract of users.ts
// over the shared database, so a user added on one node authenticates on every node. The only
// writer of that table there. Side effects: queries on the pool.
import type pg from 'pg';
import type { UserRow, UserStore } from './users.ts';

export class PgUsersStore implements UserStore {
  private readonly pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  async add(address: string, passwordHash: string, now: number): Promise<boolean> {
    const r = await this.pool.query(
      'INSERT INTO users (address, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $3) ON CONFLICT (address) DO NOTHING',
      [address, passwordHash, now],
    );
    return r.rowCount === 1;
  }

  async setPassword(address: string, passwordHash: string, now: number): Promise<boolean> {
    const r = await this.pool.query('UPDATE users SET password_hash = $1, updated_at = $2 WHERE address = $3', [passwordHash, now, address]);
    return r.rowCount === 1;
  }

  async remove(address: string): Promise<boolean> {
    return (await this.pool.query('DELETE FROM users WHERE address = $1', [address])).rowCount === 1;
  }

  async passwordHash(address: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE address = $1', [address]);
    return rows[0]?.password_hash;
  }

  async list(): Promise<UserRow[]> {
    const { rows } = await this.pool.query<{ address: string; created_at: string; updated_at: string }>(
      'SELECT address, created_at, updated_at FROM users ORDER BY address COLLATE "C"',
    );
    return rows.map((r) => ({ address: r.address, createdAt: Number(r.created_at), updatedAt: Number(r.updated_at) }));
  }
}
