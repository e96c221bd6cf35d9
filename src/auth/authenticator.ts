// SMTP AUTH (RFC 4954) for submission: the brute-force guard, then the password check against the
// users table, as an outcome the listener turns into a reply. Logs every failure and refusal
// (never the password). Side effects: a timer while a penalized client waits, scrypt work, logs.
//
//   createAuthenticator({ users, guard, log, now, sleep? }) → (request) → Promise<AuthOutcome>
import { type Logger, mailLog } from '../log/log.ts';
import type { AuthGuard } from './guard.ts';
import { UNMATCHABLE_HASH, verifyPassword } from './password.ts';
import { normalizeLogin } from './users.ts';

export interface AuthRequest {
  method: string;
  /** The authentication identity (PLAIN's authcid, or its authzid when authcid is empty). */
  username: string;
  password: string;
  clientIp: string;
  /** PLAIN's authorization identity (RFC 4616 §2); acting as someone else is not offered. */
  authzid?: string;
}

export type AuthOutcome =
  | { ok: true; user: string }
  | { ok: false; code: number; enhanced: string; text: string };

export interface AuthenticatorDeps {
  users: { passwordHash(address: string): string | undefined };
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
    const gate = guard.check(request.clientIp, now());
    if (gate.kind === 'refuse') {
      const minutes = Math.max(1, Math.ceil(gate.retryInMs / 60_000));
      mailLog(log, 'auth', { result: 'refused', method: request.method, user: login, clientIp: request.clientIp, retryInMs: gate.retryInMs }, 'auth refused: too many failures from this address', 'warn');
      // RFC 4954 §6 has no code for this; 421 ends the session (RFC 5321 §3.8), like Postfix's anvil limits.
      return { ok: false, code: 421, enhanced: '4.7.0', text: `Too many failed authentications from your address; try again in ${minutes} minute${minutes === 1 ? '' : 's'}` };
    }
    if (gate.delayMs > 0) await sleep(gate.delayMs);

    const address = normalizeLogin(request.username);
    const asOther = request.authzid !== undefined && request.authzid !== '' && normalizeLogin(request.authzid) !== address;
    const stored = address === undefined || asOther ? undefined : users.passwordHash(address);
    // Unknown users cost a full scrypt as well, so timing does not tell which logins exist.
    const matches = await verifyPassword(request.password, stored ?? UNMATCHABLE_HASH);
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
  };
}

/** The login as a client typed it, bounded, for logs. */
function shown(username: string): string {
  return username.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 100);
}
