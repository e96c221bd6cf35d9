// LMTP connections kept for the next message to the same server (Postfix's connection cache):
// after a message, its connection waits `idleMs` for another one (RSET first, LHLO not again),
// then QUITs; at most `concurrency` connections at once per server ([local] lmtp_concurrency),
// later messages wait for a free one. Owns sockets; the outcomes are lmtp.ts's.

import type { DeliveryJob, JobRecipient, Outcome } from '../core/delivery.ts';
import { Limiter } from '../core/limiter.ts';
import { type LmtpOptions, LmtpSession, type LmtpTarget } from './lmtp.ts';

export interface LmtpPoolOptions {
  /** How long a connection waits for the next message, ms. */
  idleMs: number;
  /** Connections at once to one LMTP server (busy and idle together). */
  concurrency: number;
  /** Messages per connection before it is closed (a long-lived LMTP process holds memory). */
  maxMessages: number;
}

interface Idle {
  session: LmtpSession;
  timer: NodeJS.Timeout;
}

export class LmtpPool {
  private readonly options: LmtpPoolOptions;
  private readonly limiter: Limiter;
  private readonly idle = new Map<string, Idle[]>();
  private closed = false;

  constructor(options: LmtpPoolOptions) {
    this.options = options;
    // No total cap here: the local queue worker's concurrency is the total.
    this.limiter = new Limiter(Number.MAX_SAFE_INTEGER, options.concurrency);
  }

  /** One message to `recipients` at the server `opts.server` names, on an idle connection or a new one. Never rejects. */
  async deliver(target: LmtpTarget, job: DeliveryJob, recipients: readonly JobRecipient[], opts: LmtpOptions): Promise<Map<number, Outcome>> {
    const key = opts.server;
    const release = await this.limiter.acquire(key);
    try {
      let session = await this.take(key);
      if (!session) {
        const opened = await LmtpSession.open(target, opts);
        if (!opened.ok) return new Map(recipients.map((r) => [r.id, opened.outcome]));
        session = opened.session;
      }
      const outcomes = await session.transaction(job, recipients);
      this.give(key, session);
      return outcomes;
    } finally {
      release();
    }
  }

  /** Idle connections, for tests. */
  size(): number {
    let n = 0;
    for (const list of this.idle.values()) n += list.length;
    return n;
  }

  /** QUIT every idle connection; connections handed back later are closed at once. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    for (const e of all) clearTimeout(e.timer);
    await Promise.all(all.map((e) => e.session.quit()));
  }

  /** An idle connection to `key` that answered RSET, or undefined. */
  private async take(key: string): Promise<LmtpSession | undefined> {
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const entry = list.pop() as Idle;
      if (list.length === 0) this.idle.delete(key);
      clearTimeout(entry.timer);
      if (await entry.session.reset()) return entry.session;
      entry.session.close();
    }
    return undefined;
  }

  /** Keeps a connection that may carry another message for idleMs; QUITs any other. */
  private give(key: string, session: LmtpSession): void {
    if (this.closed || !session.usable || session.messages >= this.options.maxMessages || this.options.idleMs <= 0) {
      void session.quit();
      return;
    }
    const list = this.idle.get(key) ?? [];
    const timer = setTimeout(() => {
      const current = this.idle.get(key);
      const i = current?.findIndex((e) => e.session === session) ?? -1;
      if (current && i >= 0) current.splice(i, 1);
      if (current?.length === 0) this.idle.delete(key);
      void session.quit();
    }, this.options.idleMs);
    timer.unref();
    list.push({ session, timer });
    this.idle.set(key, list);
  }
}
