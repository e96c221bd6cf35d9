// The session ticket key of every inbound TLS listener (STARTTLS on 25 and 587, TLS on 465): the
// one owner of it, in memory only. A client that comes back with a ticket resumes its session
// (RFC 8446 §2.2, RFC 5077) instead of a full handshake: no certificate, no signature, one round
// trip less. The key rotates every 12 h (RFC 5077 §5.5: keys should be changed regularly; a stolen
// key opens only the sessions of its period); it is derived from a secret and the period's number,
// so processes that are given the same secret (a future multi-process mode) use the same key at
// the same time without talking to each other. Node holds one ticket key per TLS context (48
// bytes: name, HMAC and AES keys), so at a rotation the tickets of the previous period get a full
// handshake (once per client). Side effect: one unref'd timer.
//
//   ticketKeyFor(secret, period)           → 48 bytes (pure: HKDF-SHA256)
//   periodAt(now, rotationMs)              → the period number (pure)
//   startTicketKeys({ now, secret?, rotationMs? }) → { current(), subscribe(fn), stop() }
import { hkdfSync, randomBytes } from 'node:crypto';

export const TICKET_ROTATION_MS = 12 * 3_600_000;
/** How long a session can be resumed, seconds: Postfix's smtpd_tls_session_cache_timeout default. */
export const TICKET_LIFETIME_S = 3600;

export interface TicketKeys {
  /** The key in force: what every listener's TLS context has. */
  current(): Buffer;
  /** Called with the new key at each rotation; returns the unsubscribe. */
  subscribe(fn: (key: Buffer) => void): () => void;
  stop(): void;
}

export function periodAt(now: number, rotationMs: number): number {
  return Math.floor(now / rotationMs);
}

/** The 48 bytes Node's ticketKeys option takes (16 name, 16 HMAC, 16 AES), for one period. */
export function ticketKeyFor(secret: Buffer, period: number): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `sealpost session ticket key ${period}`, 48));
}

export interface TicketKeyDeps {
  now: () => number;
  /** Shared by every process that must accept the same tickets; random (this process only) by default. */
  secret?: Buffer;
  rotationMs?: number;
}

export function startTicketKeys(deps: TicketKeyDeps): TicketKeys {
  const secret = deps.secret ?? randomBytes(32);
  const rotationMs = deps.rotationMs ?? TICKET_ROTATION_MS;
  let period = periodAt(deps.now(), rotationMs);
  let key = ticketKeyFor(secret, period);
  const listeners = new Set<(key: Buffer) => void>();
  let timer: NodeJS.Timeout | undefined;

  const schedule = (): void => {
    // To the next period's start (a timer that fires early re-arms without rotating).
    timer = setTimeout(tick, Math.max(1, (period + 1) * rotationMs - deps.now()));
    timer.unref();
  };
  const tick = (): void => {
    const next = periodAt(deps.now(), rotationMs);
    if (next !== period) {
      period = next;
      key = ticketKeyFor(secret, period);
      for (const fn of listeners) fn(key);
    }
    schedule();
  };
  schedule();

  return {
    current: () => key,
    subscribe(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    stop() {
      clearTimeout(timer);
      listeners.clear();
    },
  };
}
