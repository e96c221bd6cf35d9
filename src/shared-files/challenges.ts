// ACME challenges shared by the nodes ([store] kind = "postgres"): the node that orders publishes
// each HTTP-01 key authorization and TLS-ALPN-01 certificate in the acme_challenges table as well
// as in its own memory, so whichever node the CA's validation reaches answers it (RFC 8555 §8.3,
// RFC 8737 §3). A node looks a challenge it does not hold up in the table.
// Side effects: PostgreSQL statements.
import type pg from 'pg';
import type { ChallengeTable } from '../acme/responder.ts';
import type { AlpnChallenges } from '../tls/alpn-challenges.ts';
import { createAlpnChallenges } from '../tls/alpn-challenges.ts';

type Kind = 'http-01' | 'tls-alpn-01';

async function put(pool: pg.Pool, kind: Kind, name: string, content: string, now: number): Promise<void> {
  await pool.query(
    `INSERT INTO acme_challenges (kind, name, content, created_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (kind, name) DO UPDATE SET content = excluded.content, created_at = excluded.created_at`,
    [kind, name, content, now],
  );
}

async function get(pool: pg.Pool, kind: Kind, name: string): Promise<string | undefined> {
  const { rows } = await pool.query<{ content: string }>('SELECT content FROM acme_challenges WHERE kind = $1 AND name = $2', [kind, name]);
  return rows[0]?.content;
}

async function remove(pool: pg.Pool, kind: Kind, name: string): Promise<void> {
  await pool.query('DELETE FROM acme_challenges WHERE kind = $1 AND name = $2', [kind, name]);
}

/** HTTP-01: `local` answers what this node published; a miss is looked up in the table. */
export function sharedChallengeTable(local: ChallengeTable, pool: pg.Pool, now: () => number): ChallengeTable {
  return {
    get: (token) => local.get(token),
    async set(token, keyAuthorization) {
      local.set(token, keyAuthorization);
      // Awaited by the order before it asks the CA to validate: every node can answer from then on.
      await put(pool, 'http-01', token, keyAuthorization, now());
    },
    async delete(token) {
      local.delete(token);
      await remove(pool, 'http-01', token);
    },
    lookup: (token) => get(pool, 'http-01', token),
  };
}

/** TLS-ALPN-01: as sharedChallengeTable, the challenge certificate and its key by identifier. */
export function sharedAlpnChallenges(local: AlpnChallenges, pool: pg.Pool, now: () => number): AlpnChallenges {
  // Contexts built from the table's rows, one per identifier (a validation makes several connections).
  const fetched = createAlpnChallenges();
  return {
    get: (name) => local.get(name),
    async set(name, material) {
      local.set(name, material);
      await put(pool, 'tls-alpn-01', name.toLowerCase(), JSON.stringify(material), now());
    },
    async delete(name) {
      local.delete(name);
      await remove(pool, 'tls-alpn-01', name.toLowerCase());
    },
    async lookup(name) {
      const content = await get(pool, 'tls-alpn-01', name.toLowerCase());
      if (content === undefined) {
        fetched.delete(name);
        return undefined;
      }
      const material = JSON.parse(content) as { keyPem: string; certPem: string };
      fetched.set(name, material);
      return fetched.get(name);
    },
  };
}
