// Which errors of the PostgreSQL queue mean "the database does not answer" (down, restarting,
// unreachable, out of connections) rather than a bug: the workers wait those out with a backoff
// and try again (pg.Pool makes new connections), intake answers 451 4.3.0 (queue/unavailable.ts).
import { isQueueUnavailable } from '../unavailable.ts';

/** What to check when PostgreSQL does not answer or refuses us: the end of every such error. */
export const CONNECTION_HINT =
  'check store.url, the password (store.password_file or PGPASSFILE), and that PostgreSQL runs and accepts this host (listen_addresses, pg_hba.conf)';

/** Node's socket errors on connect or on a broken connection. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/** What pg throws on a connection that ended or never came (it has no code then). */
const PG_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended unexpectedly|Client was closed and is not queryable/i;

export function isConnectionFault(err: unknown): boolean {
  if (isQueueUnavailable(err)) return true;
  const e = err as { code?: unknown; message?: unknown } | null | undefined;
  const code = e?.code;
  if (typeof code === 'string') {
    // SQLSTATE class 08 (connection exception), 57P01-57P03 (admin or crash shutdown, cannot
    // connect now: starting or stopping), 53300 (too many connections): PostgreSQL appendix A.
    if (/^08/.test(code) || /^57P0[123]$/.test(code) || code === '53300') return true;
    if (SOCKET_CODES.has(code)) return true;
  }
  if (err instanceof AggregateError) return err.errors.some(isConnectionFault);
  return typeof e?.message === 'string' && PG_MESSAGES.test(e.message);
}
