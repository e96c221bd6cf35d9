// A PostgreSQL session advisory lock held on a connection of its own: the ACME renewer among the
// nodes ([store] kind = "postgres"). held() answers whether this node holds it now, taking it
// when free (pg_try_advisory_lock, never waiting). A holder that dies or loses its connection
// loses the lock with its session; another node takes it at its next look.
// Side effects: one PostgreSQL connection, kept while the lock is held or wanted.
import type pg from 'pg';

/** pg_try_advisory_lock key of the ACME renewer ("SEALACME" in ASCII). */
export const ACME_LOCK = 0x5345_414c_4143_4d45n;

export interface SessionLock {
  /** True when this node holds the lock (taken now if it was free); false when another node does or the database cannot be reached. */
  held(): Promise<boolean>;
  /** Gives the lock up (the connection ends). */
  close(): Promise<void>;
}

export function sessionLock(makeClient: () => pg.Client, key: bigint): SessionLock {
  let client: pg.Client | undefined;
  let holding = false;
  let closed = false;
  const drop = (c: pg.Client): void => {
    if (client !== c) return;
    client = undefined;
    holding = false;
    void c.end().catch(() => undefined);
  };
  return {
    async held() {
      if (closed) return false;
      try {
        if (!client) {
          const c = makeClient();
          c.on('error', () => drop(c));
          c.on('end', () => drop(c));
          client = c;
          await c.connect();
        }
        const c = client;
        if (holding) {
          // The session may have died under us (a server restart): then the lock went with it.
          await c.query('SELECT 1');
          return true;
        }
        const { rows } = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [key.toString()]);
        holding = rows[0]?.ok === true;
        return holding;
      } catch {
        if (client) drop(client);
        return false;
      }
    },
    async close() {
      closed = true;
      const c = client;
      client = undefined;
      holding = false;
      await c?.end().catch(() => undefined);
    },
  };
}
