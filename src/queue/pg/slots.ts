// Per-destination concurrency across nodes ([outbound] concurrency_per_destination with [store]
// kind = "postgres"), counted in the database: a destination's limit is numbered slots, rows of
// destination_slots (destination, slot) each held by one node (the primary key decides a race)
// with a lease renewed by the node's heartbeat. A slot is released (its row deleted, NOTIFY
// sealpost_slots) when the delivery ends; a node that dies stops renewing, and its slots are free
// once their lease runs out, as its claims are. A released slot goes straight to the next delivery
// of the same node that waits for it, up to HANDOVER_MAX in a row, without the database. Which slot
// to try (a random free one), how long to wait and whether to hand over are pure (freeSlot, slotWaitMs, handOver); the
// I/O around them is one SELECT and one INSERT … ON CONFLICT to take, one DELETE to release.
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

/**
 * A slot below `limit` that no live lease holds (a lease that ran out before `now` is free), or
 * undefined: the free one at `pick` (0 ≤ pick < 1, a random number) of the way through them, so
 * that deliveries taking slots at once try different ones instead of all racing for the lowest.
 */
export function freeSlot(taken: readonly TakenSlot[], limit: number, now: number, pick = 0): number | undefined {
  const held = new Set(taken.filter((t) => t.leaseUntil >= now).map((t) => t.slot));
  const free: number[] = [];
  for (let s = 0; s < limit; s++) if (!held.has(s)) free.push(s);
  return free[Math.min(free.length - 1, Math.floor(pick * free.length))];
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

/**
 * Deliveries in a row one slot may serve on this node before it goes back to the database, where
 * the other nodes' waiters can take it (a node with a backlog for a destination cannot keep its
 * slots for good).
 */
export const HANDOVER_MAX = 20;

/**
 * Whether a released slot goes straight to the next delivery of this node that waits for the
 * destination (no round trip to the database, no wake-up of every waiter) rather than back to the
 * database: only to a waiter whose limit it is under, and only for HANDOVER_MAX deliveries in a row.
 */
export function handOver(slot: number, uses: number, waiterLimit: number | undefined): boolean {
  return waiterLimit !== undefined && slot < waiterLimit && uses < HANDOVER_MAX;
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
  /** Which free slot to try (freeSlot's pick); default Math.random. */
  random?: () => number;
}

const TAKE_SQL = `INSERT INTO destination_slots (destination, slot, owner, lease_until) VALUES ($1, $2, $3, $4)
  ON CONFLICT (destination, slot) DO UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until
  WHERE destination_slots.lease_until < $5
  RETURNING slot`;

export class PgDestinationSlots implements SharedSlots {
  private readonly deps: PgDestinationSlotsDeps;
  private readonly now: () => number;
  private readonly random: () => number;
  /** This node's acquire()s waiting for a destination, first come first served: woken to look again, or handed a slot. */
  private readonly waiting = new Map<string, Set<Waiter>>();
  /** Per destination with an acquire() under way: how many, and releases seen (a release between its SELECT and its wait ends the wait at once). */
  private readonly looking = new Map<string, { n: number; releases: number }>();
  private heartbeat: NodeJS.Timeout | undefined;
  private listener: Listener | undefined;

  private constructor(deps: PgDestinationSlotsDeps) {
    this.deps = deps;
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
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
        const slot = freeSlot(taken, limit, now, this.random());
        if (slot !== undefined) {
          const took = await this.deps.pool.query(TAKE_SQL, [destination, slot, this.deps.node, now + this.deps.leaseMs, now]);
          if (took.rowCount === 1) return this.releaser(destination, slot, 1);
          // Another node took it between the SELECT and the INSERT: look again at once.
          continue;
        }
        if (looking.releases !== seen) continue;
        const handed = await this.waitFor(destination, limit, slotWaitMs(taken, limit, now, this.deps.pollMs ?? 1000));
        if (handed) return handed;
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

  private releaser(destination: string, slot: number, uses: number): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.get(destination)?.values().next().value;
      if (next && handOver(slot, uses, next.limit)) {
        next.done(this.releaser(destination, slot, uses + 1));
        return;
      }
      // One statement: the row goes, and the other nodes hear of it at its commit. If it fails
      // (the database is down) the lease runs out instead.
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

  /** Resolves with a slot handed over by a delivery of this node, or undefined to look again (woken, or `ms` passed). */
  private waitFor(destination: string, limit: number, ms: number): Promise<(() => void) | undefined> {
    return new Promise((resolve) => {
      const set = this.waiting.get(destination) ?? new Set<Waiter>();
      this.waiting.set(destination, set);
      const waiter: Waiter = {
        limit,
        done: (release) => {
          clearTimeout(timer);
          set.delete(waiter);
          if (set.size === 0 && this.waiting.get(destination) === set) this.waiting.delete(destination);
          resolve(release);
        },
      };
      const timer = setTimeout(() => waiter.done(undefined), ms);
      set.add(waiter);
    });
  }

  /** A slot of `destination` was freed: the first waiter looks again (one slot, one waiter; the others keep waiting). */
  private wake(destination: string): void {
    const looking = this.looking.get(destination);
    if (looking) looking.releases++;
    this.waiting.get(destination)?.values().next().value?.done(undefined);
  }
}

interface Waiter {
  limit: number;
  done(release: (() => void) | undefined): void;
}
