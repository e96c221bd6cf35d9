// LMTP connections kept for the next message to the same server (Postfix's connection cache):
// after a message, its connection waits `idleMs` for another one (RSET first, LHLO not again),
// then QUITs; at most `concurrency` connections at once per server ([local] lmtp_concurrency),
// later messages wait for a free one. Owns sockets; the outcomes are lmtp.ts's.

import type { DeliveryJob, JobRecipient, Outcome } from '../core/delivery.ts';
import { Limiter } from '../core/limiter.ts';
import { SessionPool } from '../wire/session-pool.ts';
import { type LmtpOptions, LmtpSession, type LmtpTarget } from './lmtp.ts';

export interface LmtpPoolOptions {
  /** How long a connection waits for the next message, ms. */
  idleMs: number;
  /** Connections at once to one LMTP server (busy and idle together). */
  concurrency: number;
  /** Messages per connection before it is closed (a long-lived LMTP process holds memory). */
  maxMessages: number;
}

export class LmtpPool {
  private readonly limiter: Limiter;
  private readonly sessions: SessionPool<LmtpSession>;

  constructor(options: LmtpPoolOptions) {
    // No total cap here: the local queue worker's concurrency is the total.
    this.limiter = new Limiter(Number.MAX_SAFE_INTEGER, options.concurrency);
    this.sessions = new SessionPool({ idleMs: options.idleMs, maxMessages: options.maxMessages, maxIdlePerKey: options.concurrency });
  }

  /** One message to `recipients` at the server `opts.server` names, on an idle connection or a new one. Never rejects. */
  async deliver(target: LmtpTarget, job: DeliveryJob, recipients: readonly JobRecipient[], opts: LmtpOptions): Promise<Map<number, Outcome>> {
    const key = opts.server;
    const release = await this.limiter.acquire(key);
    try {
      let session = await this.sessions.take(key);
      if (!session) {
        const opened = await LmtpSession.open(target, opts);
        if (!opened.ok) return new Map(recipients.map((r) => [r.id, opened.outcome]));
        session = opened.session;
      }
      const outcomes = await session.transaction(job, recipients);
      this.sessions.give(key, session);
      return outcomes;
    } finally {
      release();
    }
  }

  /** Idle connections, for tests. */
  size(): number {
    return this.sessions.size();
  }

  /** QUIT every idle connection; connections handed back later are closed at once. */
  close(): Promise<void> {
    return this.sessions.close();
  }
}
