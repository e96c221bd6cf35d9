// SMTP AUTH (RFC 4954) for submission: the brute-force guard, then the password check against the
// users table, as an outcome the listener turns into a reply. Logs every failure and refusal
// (never the password). The attempt is reserved with the guard before the password check and
// settled after it. Side effects: a timer while a penalized client waits, scrypt work, logs.
//
//   createAuthenticator({ users, guard, log, now, sleep? }) → (request) → Promise<AuthOutcome>
import { type Logger, mailLog } from '../log/log.ts';
import type { AuthGuard } from './guard.ts';
import { UNMATCHABLE_HASH, verifyPassword } from './password.ts';
import { normalizeLogin, type UserStore } from './users.ts';

export interface AuthRequest {
  method: string;
  /** The authentication identity (PLAIN's authcid, or its authzid when authcid is empty). */
  username: string;
  password: string;
  clientIp: string;
  /** PLAIN's authorization identity (RFC 4616 §2); acting as someone else is not offered. */
  authzid?: string;
}

export type AuthOutcome = { ok: true; user: string } | { ok: false; code: number; enhanced: string; text: string };

export interface AuthenticatorDeps {
  /** The users table (SQLite, or the nodes' shared PostgreSQL): read per AUTH. */
  users: Pick<UserStore, 'passwordHash'>;
  guard: AuthGuard;
  log: Logger;
  now: () => number;
  /** Waits out a penalty; tests pass a fake. */
  sleep?: (ms: number) => Promise<void>;
}

export function createAuthenticator(deps: AuthenticatorDeps): (request: AuthRequest) => Promise<AuthOutcome> {
  const { users, guard, log, now } = deps;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  return async (request) => {
    const login = shown(request.username);
    // Reserved before the password check: parallel attempts count at once (src/auth/guard.ts).
    const gate = guard.begin(request.clientIp, now());
    if (gate.kind === 'refuse') {
      const minutes = Math.max(1, Math.ceil(gate.retryInMs / 60_000));
      mailLog(
        log,
        'auth',
        { result: 'refused', method: request.method, user: login, clientIp: request.clientIp, retryInMs: gate.retryInMs },
        'auth refused: too many failures from this address',
        'warn',
      );
      // RFC 4954 §6 has no code for this; 421 ends the session (RFC 5321 §3.8), like Postfix's anvil limits.
      return {
        ok: false,
        code: 421,
        enhanced: '4.7.0',
        text: `Too many failed authentications from your address; try again in ${minutes} minute${minutes === 1 ? '' : 's'}`,
      };
    }
    if (gate.kind === 'busy') {
      mailLog(
        log,
        'auth',
        { result: 'busy', method: request.method, user: login, clientIp: request.clientIp },
        'auth refused: too many authentications in progress from this address',
        'warn',
      );
      // RFC 4954 §6: 454 4.7.0 Temporary authentication failure. Not 421: the session stays, so a
      // client that opened a few connections at once can AUTH again when the others are done
      // (no password was checked, nothing is counted); one that keeps trying meets limits.errors.
      return { ok: false, code: 454, enhanced: '4.7.0', text: 'Too many authentications in progress from your address; try again shortly' };
    }
    let settled = false;
    try {
      if (gate.delayMs > 0) await sleep(gate.delayMs);

      const address = normalizeLogin(request.username);
      const asOther = request.authzid !== undefined && request.authzid !== '' && normalizeLogin(request.authzid) !== address;
      const stored = address === undefined || asOther ? undefined : await users.passwordHash(address);
      // Unknown users cost a full scrypt as well, so timing does not tell which logins exist.
      const matches = await verifyPassword(request.password, stored ?? UNMATCHABLE_HASH);
      settled = true;
      if (matches && stored !== undefined && address !== undefined) {
        guard.success(request.clientIp);
        mailLog(log, 'auth', { result: 'ok', method: request.method, user: address, clientIp: request.clientIp });
        return { ok: true, user: address };
      }
      const failures = guard.failure(request.clientIp, now());
      mailLog(
        log,
        'auth',
        { result: 'failed', method: request.method, user: login, known: stored !== undefined, clientIp: request.clientIp, failures, delayedMs: gate.delayMs },
        'auth failed',
        'warn',
      );
      // RFC 4954 §6: 535 5.7.8 Authentication credentials invalid.
      return { ok: false, code: 535, enhanced: '5.7.8', text: 'Authentication credentials invalid' };
    } finally {
      // No verdict (the lookup or scrypt threw): the reservation is given back uncounted.
      if (!settled) guard.release(request.clientIp, now());
    }
  };
}

/** The login as a client typed it, bounded, for logs. */
function shown(username: string): string {
  return username.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 100);
}
