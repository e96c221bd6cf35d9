// Per-destination concurrency across nodes ([outbound] concurrency_per_destination with [store]
// kind = "postgres"), counted in the database: a destination's limit is numbered slots, rows of
// destination_slots (destination, slot) each held by one node (the primary key decides a race)
// with a lease renewed by the node's heartbeat. A slot is released (its row deleted, NOTIFY
// sealpost_slots) when the delivery ends; a node that dies stops renewing, and its slots are free
// once their lease runs out, as its claims are. Which slot to try and how long to wait are pure
// (freeSlot, slotWaitMs); the I/O around them is one SELECT and one INSERT … ON CONFLICT.
import type pg from 'pg';
import type { SharedSlots } from '../../core/limiter.ts';
import { type Listener, listen } from './listen.ts';

/** The NOTIFY channel of released slots; the payload is the destination. */
export const SLOTS_CHANNEL = 'sealpost_slots';

/** A held slot of a destination, as its row says. */
export interface TakenSlot {
  slot: number;
  leaseUntil: number;
}

/** The lowest slot below `limit` that no live lease holds (a lease that ran out before `now` is free), or undefined. */
export function freeSlot(taken: readonly TakenSlot[], limit: number, now: number): number | undefined {
  const held = new Set(taken.filter((t) => t.leaseUntil >= now).map((t) => t.slot));
  for (let s = 0; s < limit; s++) if (!held.has(s)) return s;
  return undefined;
}

/**
 * How long to wait before looking again when every slot is held: until the earliest lease among
 * the slots below `limit` runs out (its node may have died), at most `pollMs` (a release whose
 * NOTIFY was lost), at least 1 ms. A release NOTIFY ends the wait sooner.
 */
export function slotWaitMs(taken: readonly TakenSlot[], limit: number, now: number, pollMs: number): number {
  const leases = taken.filter((t) => t.slot < limit).map((t) => t.leaseUntil - now + 1);
  return Math.max(1, Math.min(pollMs, ...leases));
}

export interface PgDestinationSlotsDeps {
  pool: pg.Pool;
  /** This node's name (the claims' owner). */
  node: string;
  /** The lease of a slot without renewal: the store's lease ([store] lease). */
  leaseMs: number;
  now?: () => number;
  /** A client for LISTEN; absent: waiters look again after slotWaitMs only. */
  listenClient?: () => pg.Client;
  /** Renew this node's slots every leaseMs / 3 (default true). */
  heartbeat?: boolean;
  /** The longest wait before looking again (default 1 s). */
  pollMs?: number;
}

const TAKE_SQL = `INSERT INTO destination_slots (destination, slot, owner, lease_until) VALUES ($1, $2, $3, $4)
  ON CONFLICT (destination, slot) DO UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until
  WHERE destination_slots.lease_until < $5
  RETURNING slot`;

export class PgDestinationSlots implements SharedSlots {
  private readonly deps: PgDestinationSlotsDeps;
  private readonly now: () => number;
  private readonly waiting = new Map<string, Set<() => void>>();
  /** Per destination with an acquire() under way: how many, and releases seen (a release between its SELECT and its wait ends the wait at once). */
  private readonly looking = new Map<string, { n: number; releases: number }>();
  private heartbeat: NodeJS.Timeout | undefined;
  private listener: Listener | undefined;

  private constructor(deps: PgDestinationSlotsDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
  }

  /** Frees the slots this node held when it stopped (as recover() does its claims), then LISTEN and the heartbeat. */
  static async open(deps: PgDestinationSlotsDeps): Promise<PgDestinationSlots> {
    const slots = new PgDestinationSlots(deps);
    await deps.pool.query('DELETE FROM destination_slots WHERE owner = $1', [deps.node]);
    if (deps.listenClient) slots.listener = await listen(deps.listenClient, SLOTS_CHANNEL, (destination) => slots.wake(destination));
    if (deps.heartbeat ?? true) {
      slots.heartbeat = setInterval(() => void slots.renew(slots.now()).catch(() => undefined), Math.max(1000, Math.floor(deps.leaseMs / 3)));
      slots.heartbeat.unref();
    }
    return slots;
  }

  async acquire(destination: string, limit: number): Promise<() => void> {
    const looking = this.looking.get(destination) ?? { n: 0, releases: 0 };
    this.looking.set(destination, looking);
    looking.n++;
    try {
      for (;;) {
        const seen = looking.releases;
        const now = this.now();
        const { rows } = await this.deps.pool.query<{ slot: number; lease_until: string }>(
          'SELECT slot, lease_until FROM destination_slots WHERE destination = $1 AND slot < $2',
          [destination, limit],
        );
        const taken = rows.map((r) => ({ slot: r.slot, leaseUntil: Number(r.lease_until) }));
        const slot = freeSlot(taken, limit, now);
        if (slot !== undefined) {
          const took = await this.deps.pool.query(TAKE_SQL, [destination, slot, this.deps.node, now + this.deps.leaseMs, now]);
          if (took.rowCount === 1) return this.releaser(destination, slot);
          // Another node took it between the SELECT and the INSERT: look again at once.
          continue;
        }
        if (looking.releases === seen) await this.waitFor(destination, slotWaitMs(taken, limit, now, this.deps.pollMs ?? 1000));
      }
    } finally {
      if (--looking.n === 0) this.looking.delete(destination);
    }
  }

  /** The heartbeat: every slot of this node is leased for another leaseMs. Returns how many. */
  async renew(now: number): Promise<number> {
    const { rowCount } = await this.deps.pool.query('UPDATE destination_slots SET lease_until = $2 WHERE owner = $1', [
      this.deps.node,
      now + this.deps.leaseMs,
    ]);
    return rowCount ?? 0;
  }

  /** Slots held, per destination, by every node (for tests and `status`). */
  async held(): Promise<{ destination: string; slot: number; owner: string; leaseUntil: number }[]> {
    const { rows } = await this.deps.pool.query<{ destination: string; slot: number; owner: string; lease_until: string }>(
      'SELECT destination, slot, owner, lease_until FROM destination_slots ORDER BY destination, slot',
    );
    return rows.map((r) => ({ destination: r.destination, slot: r.slot, owner: r.owner, leaseUntil: Number(r.lease_until) }));
  }

  /** Stops the heartbeat and LISTEN; held slots stay until released or their lease runs out. The pool is the caller's. */
  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    await this.listener?.close();
    this.listener = undefined;
  }

  private releaser(destination: string, slot: number): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // One statement: the row goes, and the other nodes' waiters hear of it at its commit. If it
      // fails (the database is down) the lease runs out instead.
      void this.deps.pool
        .query(
          `WITH gone AS (DELETE FROM destination_slots WHERE destination = $1 AND slot = $2 AND owner = $3 RETURNING 1)
           SELECT pg_notify($4, $1) FROM gone`,
          [destination, slot, this.deps.node, SLOTS_CHANNEL],
        )
        .catch(() => undefined)
        .finally(() => this.wake(destination));
    };
  }

  private waitFor(destination: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiting.get(destination) ?? new Set();
      this.waiting.set(destination, set);
      const done = (): void => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiting.get(destination) === set) this.waiting.delete(destination);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  private wake(destination: string): void {
    const looking = this.looking.get(destination);
    if (looking) looking.releases++;
    for (const done of [...(this.waiting.get(destination) ?? [])]) done();
  }
}
