// Open client sessions kept for further messages to the same server (Postfix's connection
// cache), for SMTP (outbound/: keyed by MX name, address, port and TLS level) and LMTP (local/:
// keyed by server): closed after an idle time or a number of messages. Each reuse starts with
// RSET to prove the connection still works. Owns the sessions it holds.

/** What the pool needs of a session (SmtpSession, LmtpSession). */
export interface PooledSession {
  /** False once the connection broke or was refused something it cannot recover from. */
  readonly usable: boolean;
  /** Messages sent over it so far. */
  readonly messages: number;
  /** RSET: whether the connection still answers. */
  reset(): Promise<boolean>;
  close(): void;
  quit(): Promise<void>;
}

export interface PoolOptions {
  /** Close an idle session after this long, ms. */
  idleMs: number;
  /** Messages per session before it is closed. */
  maxMessages: number;
  /** Idle sessions kept per key. */
  maxIdlePerKey: number;
}

interface Idle<S> {
  session: S;
  timer: NodeJS.Timeout;
}

export class SessionPool<S extends PooledSession> {
  private readonly options: PoolOptions;
  private readonly idle = new Map<string, Idle<S>[]>();
  private closed = false;

  constructor(options: PoolOptions) {
    this.options = options;
  }

  /** An idle session for `key` that answered RSET, or undefined. */
  async take(key: string): Promise<S | undefined> {
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const entry = list.pop() as Idle<S>;
      if (list.length === 0) this.idle.delete(key);
      clearTimeout(entry.timer);
      if (await entry.session.reset()) return entry.session;
      entry.session.close();
    }
    return undefined;
  }

  /** Hands a session back after a transaction; keeps it if it may be reused, else says QUIT. */
  give(key: string, session: S): void {
    const list = this.idle.get(key) ?? [];
    const keep = this.options.idleMs > 0 && session.messages < this.options.maxMessages && list.length < this.options.maxIdlePerKey;
    if (this.closed || !session.usable || !keep) {
      void session.quit();
      return;
    }
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

  /** Idle sessions, for tests and status. */
  size(): number {
    let n = 0;
    for (const list of this.idle.values()) n += list.length;
    return n;
  }

  /** QUIT every idle session; later give() calls close at once. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    for (const e of all) clearTimeout(e.timer);
    await Promise.all(all.map((e) => e.session.quit()));
  }
}
