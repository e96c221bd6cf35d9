// Open SMTP sessions kept for further messages to the same host (Postfix's connection cache):
// keyed by MX name, address, port and TLS level; closed after an idle time or a number of
// messages. Each reuse starts with RSET to prove the connection still works. Owns sockets.
import type { SmtpSession } from './smtp-client.ts';

export interface PoolOptions {
  /** Close an idle session after this long, ms. */
  idleMs: number;
  /** Messages per session before it is closed. */
  maxMessages: number;
  /** Idle sessions kept per key. */
  maxIdlePerKey: number;
}

interface Idle {
  session: SmtpSession;
  timer: NodeJS.Timeout;
}

export class SessionPool {
  private readonly options: PoolOptions;
  private readonly idle = new Map<string, Idle[]>();
  private closed = false;

  constructor(options: PoolOptions) {
    this.options = options;
  }

  /** An idle session for `key` that answered RSET, or undefined. */
  async take(key: string): Promise<SmtpSession | undefined> {
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

  /** Hands a session back after a transaction; keeps it if it may be reused, else says QUIT. */
  give(key: string, session: SmtpSession): void {
    const list = this.idle.get(key) ?? [];
    if (this.closed || !session.usable || session.messages >= this.options.maxMessages || list.length >= this.options.maxIdlePerKey) {
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
