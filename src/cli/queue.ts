// `sealpost queue list [--limit N] [--after ID]|show ID|retry ID|--all|hold ID|release ID|delete ID --config FILE [--json]`
// On the SQLite queue of data_dir, or ([store] kind = "postgres") on the shared one from any node:
// there each claim shows its node and lease, and retry and release wake every node (NOTIFY).
import os from 'node:os';
import type { Config } from '../config/types.ts';
import { explainDane } from '../dane/explain.ts';
import type { Db } from '../db/open.ts';
import type { AttemptRecord } from '../outbound/attempts-store.ts';
import { QueueAdmin, type QueuedMessage, type QueuedRecipient, type QueuePage } from '../queue/admin.ts';
import { CONNECTION_HINT, isConnectionFault } from '../queue/pg/faults.ts';
import { Spool, spoolDirOf } from '../queue/spool.ts';
import { QueueStore } from '../queue/store.ts';
import { requestWake } from '../queue/wake.ts';
import { openSharedStores } from '../shared-state/stores.ts';
import type { Args } from './args.ts';
import { openForCli } from './open.ts';

/** The queue as this command reads and changes it: the SQLite one of data_dir or the PostgreSQL one. */
interface QueueAccess {
  list(options: { limit?: number; after?: string }): Promise<QueuePage>;
  show(id: string): Promise<QueuedMessage | undefined>;
  retryNow(id: string | undefined, now: number): Promise<number>;
  hold(id: string): Promise<number>;
  release(id: string, now: number): Promise<number>;
  delete(id: string): Promise<number>;
  close(): Promise<void>;
  /** PostgreSQL: postgres://USER@HOST:PORT/DATABASE, for messages. */
  where?: string;
}

function sqliteAccess(config: Config, db: Db): QueueAccess {
  const admin = new QueueAdmin(db);
  // The levers write through the store, the one writer of the queue tables (spool files included).
  const store = new QueueStore(db, config.queue, { spool: new Spool(spoolDirOf(config.dataDir)) });
  return {
    list: async (options) => admin.list(options),
    show: async (id) => admin.show(id),
    retryNow: async (id, now) => store.retryNow(id, now),
    hold: async (id) => store.hold(id),
    release: async (id, now) => store.release(id, now),
    delete: (id) => store.delete(id),
    close: async () => undefined,
  };
}

async function pgAccess(config: Config, store: Extract<Config['store'], { kind: 'postgres' }>): Promise<QueueAccess> {
  const [{ openPool, targetOf }, { pgQueueList, pgQueueShow }, { PgQueueStore }] = await Promise.all([
    import('../queue/pg/connect.ts'),
    import('../queue/pg/admin.ts'),
    import('../queue/pg/store.ts'),
  ]);
  const pool = openPool(store, 2);
  const levers = PgQueueStore.forOperator({ pool, retry: config.queue, leaseMs: store.leaseMs, by: `cli@${os.hostname()}` });
  return {
    list: (options) => pgQueueList(pool, options),
    show: (id) => pgQueueShow(pool, id),
    retryNow: (id, now) => levers.retryNow(id, now),
    hold: (id) => levers.hold(id),
    release: (id, now) => levers.release(id, now),
    delete: (id) => levers.delete(id),
    close: () => pool.end(),
    where: ((t) => `postgres://${t.user}@${t.host}:${t.port}/${t.database}`)(targetOf(store.url)),
  };
}

export async function run(configFile: string, args: Args, out = process.stdout, err = process.stderr): Promise<number> {
  const [, action = 'list', id] = args.words;
  const json = args.flags.has('json');
  const opened = await openForCli(configFile, err);
  if (!opened) return 1;
  const { config, db } = opened;
  let queue: QueueAccess;
  try {
    queue = config.store.kind === 'postgres' ? await pgAccess(config, config.store) : sqliteAccess(config, db);
  } catch (e) {
    db.close();
    throw e;
  }
  const now = Date.now();
  const needId = (): string | undefined => {
    if (id === undefined) err.write(`sealpost queue ${action}: which message? give its queue id (see: sealpost queue list)\n`);
    return id;
  };
  const changed = async (n: number, what: string): Promise<number> => {
    if (n === 0) {
      err.write(`sealpost queue ${action}: no ${what}${id ? ` in message ${id}` : ' in the queue'} (see: sealpost queue list)\n`);
      return 1;
    }
    out.write(`${n} ${what}${n === 1 ? '' : 's'}: ${action} done\n`);
    await requestWake(config.dataDir);
    return 0;
  };
  try {
    switch (action) {
      case 'list': {
        const limitText = args.values.get('limit');
        const limit = limitText === undefined ? undefined : Number(limitText);
        if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
          err.write(`sealpost queue list: --limit must be a whole number of messages, 1 or more (got "${limitText}")\n`);
          return 2;
        }
        const after = args.values.get('after');
        const page = await queue.list({ ...(limit !== undefined ? { limit } : {}), ...(after !== undefined ? { after } : {}) });
        if (json) out.write(`${JSON.stringify(page, null, 2)}\n`);
        else out.write(listText(page));
        return 0;
      }
      case 'show': {
        if (!needId()) return 2;
        const message = await queue.show(id as string);
        // From data_dir's database, or from the PostgreSQL the nodes share (every node's attempts).
        const shared = await openSharedStores(config, { db });
        const attempts = await shared.attempts.forMessage(id as string).finally(() => shared.close());
        if (!message && attempts.length === 0) {
          err.write(`sealpost queue show: no message ${id} in the queue and no attempts on record\n`);
          return 1;
        }
        if (json) out.write(`${JSON.stringify({ message: message ?? null, attempts }, null, 2)}\n`);
        else out.write(showText(id as string, message, attempts, now));
        return 0;
      }
      case 'retry':
        if (args.flags.has('all')) return await changed(await queue.retryNow(undefined, now), 'recipient');
        if (!needId()) return 2;
        return await changed(await queue.retryNow(id, now), 'queued recipient');
      case 'hold':
        if (!needId()) return 2;
        return await changed(await queue.hold(id as string), 'queued recipient');
      case 'release':
        if (!needId()) return 2;
        return await changed(await queue.release(id as string, now), 'held recipient');
      case 'delete':
        if (!needId()) return 2;
        return await changed(await queue.delete(id as string), 'message');
      default:
        err.write(`sealpost queue: unknown action "${action}"; one of list, show, retry, hold, release, delete\n`);
        return 2;
    }
  } catch (e) {
    if (queue.where === undefined || !isConnectionFault(e)) throw e;
    err.write(`sealpost queue ${action}: the PostgreSQL queue at ${queue.where} does not answer (${(e as Error).message}); ${CONNECTION_HINT}\n`);
    return 1;
  } finally {
    await queue.close().catch(() => undefined);
    db.close();
  }
}

/** One line per message, then one that says how many there are and, when cut, how to go on. */
export function listText(page: QueuePage): string {
  if (page.total === 0) return 'queue is empty\n';
  const lines = page.messages.map(listLine);
  const plural = (n: number) => `${n} message${n === 1 ? '' : 's'}`;
  const cut = page.more || page.after !== null;
  if (!cut) lines.push(`-- ${plural(page.total)}`);
  else {
    const from = page.after !== null ? ` after ${page.after}` : '';
    const next = page.next !== null ? `; next page: --after ${page.next}` : '; no more after these';
    lines.push(`-- ${page.messages.length} of ${plural(page.total)} shown${from} (list cut${next})`);
  }
  return `${lines.join('\n')}\n`;
}

function listLine(m: QueuedMessage): string {
  const states = m.recipients
    .map((r) => `${r.address} [${r.state}${claim(r)}${r.attempts ? `, ${r.attempts} attempt${r.attempts === 1 ? '' : 's'}` : ''}]`)
    .join(', ');
  return `${m.id}  ${new Date(m.receivedAt).toISOString()}  ${m.size}B  <${m.sender}>  → ${states}`;
}

/** ", claimed by NODE until TIME" for an active recipient of the PostgreSQL queue; "" otherwise. */
function claim(r: QueuedRecipient): string {
  return r.owner === undefined ? '' : `, claimed by ${r.owner}${r.leaseUntil !== undefined ? ` until ${new Date(r.leaseUntil).toISOString()}` : ''}`;
}

function showText(id: string, m: QueuedMessage | undefined, attempts: AttemptRecord[], now: number): string {
  const lines: string[] = [];
  if (m) {
    lines.push(
      `message ${m.id}`,
      `  received  ${new Date(m.receivedAt).toISOString()} (${m.origin})`,
      `  from      <${m.sender}>`,
      `  size      ${m.size} bytes`,
    );
    if (m.subject) lines.push(`  subject   ${m.subject}`);
    if (m.messageId) lines.push(`  message-id ${m.messageId}`);
    if (m.tlsRequired === 'requiretls') lines.push('  tls       REQUIRETLS (RFC 8689): only DANE or MTA-STS-verified TLS to a host that offers REQUIRETLS');
    if (m.tlsRequired === 'no') lines.push('  tls       TLS-Required: No (RFC 8689): MTA-STS and DANE failures are ignored for this message');
    lines.push('recipients');
    for (const r of m.recipients) {
      const next = r.state === 'queued' ? `, next attempt ${new Date(r.nextAttemptAt).toISOString()}${r.nextAttemptAt <= now ? ' (due now)' : ''}` : '';
      lines.push(
        `  ${r.address}${r.rcpt !== r.address ? ` (for ${r.rcpt})` : ''}: ${r.state}${claim(r)}, ${r.attempts} attempt${r.attempts === 1 ? '' : 's'}${next}`,
      );
      if (r.lastError) lines.push(`    ${r.state === 'delivered' ? 'delivered to' : 'last error'}: ${r.lastError}`);
    }
  } else {
    lines.push(`message ${id} is no longer in the queue (delivered, bounced or deleted); attempts on record:`);
  }
  lines.push(`attempts (${attempts.length})`);
  for (const a of attempts) {
    const tls = a.tls ? `${a.tls.version} ${a.tls.cipher}, ${a.tls.verified ? 'verified' : `not verified${a.tls.error ? `: ${a.tls.error}` : ''}`}` : 'no TLS';
    const reply = a.reply ? `${a.reply.code}${a.reply.enhanced ? ` ${a.reply.enhanced}` : ''} ${a.reply.text}` : (a.error ?? '');
    lines.push(
      `  ${new Date(a.at).toISOString()}  ${a.transport ? `via smarthost ${a.mx}:${a.port} (${a.transport}) at ${a.ip || '-'}` : `${a.mx || '-'}[${a.ip || '-'}]:${a.port}`}${a.source ? ` from ${a.source}` : ''}  policy ${a.policy} (${a.policySource})  ${tls}${a.downgrade ? `, downgraded: ${a.downgrade}` : ''}`,
    );
    lines.push(`    ${a.result}: ${reply}  (${a.ms} ms)`);
    if (a.dane) lines.push(`    DANE: ${explainDane(a.dane, a.result)}`);
  }
  return `${lines.join('\n')}\n`;
}
