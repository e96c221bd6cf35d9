// `sealpost send --config FILE [-f SENDER] RCPT...`: queues the message on standard input, like
// sendmail for local programs (cron, scripts). Adds Received, From/Date/Message-ID when missing,
// and a DKIM signature when the From: domain has a key.
// Exit 0 once the message is committed to the queue (data_dir's, or with [store] kind = "postgres"
// the shared one, whose nodes are woken by NOTIFY); the daemon delivers it.
import os from 'node:os';
import { prepareOutgoing } from '../auth/submission.ts';
import type { Config } from '../config/types.ts';
import { rfc5322Date } from '../core/date.ts';
import { loadDkimKeys } from '../dkim/keys.ts';
import { createDkimSigner } from '../dkim/signer.ts';
import { createIntake } from '../intake/intake.ts';
import { checkNewlines, hasEightBit } from '../message/body.ts';
import type { QueueStoreContract } from '../queue/contract.ts';
import { newQueueId } from '../queue/ids.ts';
import { Spool, spoolDirOf } from '../queue/spool.ts';
import { QueueStore } from '../queue/store.ts';
import { requestWake } from '../queue/wake.ts';
import { buildDirectory, decideRecipient } from '../routing/recipients.ts';
import type { Args } from './args.ts';
import { openForCli } from './open.ts';

export async function run(
  configFile: string,
  args: Args,
  input: NodeJS.ReadableStream = process.stdin,
  out = process.stdout,
  err = process.stderr,
): Promise<number> {
  const rcpts = args.words.slice(1);
  if (rcpts.length === 0) {
    err.write('sealpost send: name at least one recipient: sealpost send --config FILE -f SENDER RCPT... < message\n');
    return 2;
  }
  const opened = await openForCli(configFile, err);
  if (!opened) return 1;
  const { config, db } = opened;
  let shared: SharedQueue | undefined;
  try {
    const sender = args.values.get('f') ?? `${os.userInfo().username}@${config.hostname}`;
    const directory = buildDirectory(config.domains);
    for (const rcpt of rcpts) {
      // A local program is trusted like a relay client: it may send anywhere.
      const d = decideRecipient(rcpt, directory, true);
      if (d.kind === 'reject') {
        err.write(`sealpost send: ${rcpt}: ${d.text}; nothing was queued\n`);
        return 1;
      }
    }
    const chunks: Buffer[] = [];
    for await (const chunk of input) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    const raw = Buffer.concat(chunks);
    if (raw.length > config.limits.messageSize) {
      err.write(`sealpost send: the message has ${raw.length} bytes, more than limits.message_size (${config.limits.messageSize}); nothing was queued\n`);
      return 1;
    }
    // Local programs write LF line ends: always normalize to CRLF here.
    const checked = checkNewlines(raw, 'normalize');
    const body = checked.ok ? checked.body : raw;
    const signer = createDkimSigner(await loadDkimKeys(config.dataDir, config.dkim));
    const local = new QueueStore(db, config.queue);
    shared = config.store.kind === 'postgres' ? await sharedQueue(config, config.store) : undefined;
    const queue: Pick<QueueStoreContract, 'enqueue'> = shared ?? local;
    // The same intake as mail from a trusted client: From/Date/Message-ID when missing, DKIM.
    const intake = createIntake({
      store: { enqueue: (message) => queue.enqueue(message), spool: shared ? new Spool(spoolDirOf(config.dataDir)) : local.spool },
      directory: () => directory,
      now: Date.now,
      newId: () => newQueueId(Date.now()),
      prepareOutgoing: (prepare) => prepareOutgoing(prepare, { signer, hostname: config.hostname }),
    });
    const outcome = await intake.accept({
      origin: 'local',
      listener: 'local',
      sender,
      rcpts,
      relayAllowed: true,
      body,
      eightBit: hasEightBit(body),
      smtputf8: false,
      trace: (id, _recipients, now) => `Received: by ${config.hostname} (Sealpost, from userid ${os.userInfo().uid})\r\n\tid ${id}; ${rfc5322Date(now)}\r\n`,
    });
    if (!outcome.ok) {
      err.write(`sealpost send: ${outcome.text}; nothing was queued\n`);
      return 1;
    }
    const id = outcome.id;
    await requestWake(config.dataDir);
    out.write(`queued as ${id}\n`);
    return 0;
  } finally {
    await shared?.close().catch(() => undefined);
    db.close();
  }
}

type SharedQueue = Pick<QueueStoreContract, 'enqueue'> & { close(): Promise<void> };

/** The PostgreSQL queue, for one message: the operator's store (no node registered), its own pool. */
async function sharedQueue(config: Config, store: Extract<Config['store'], { kind: 'postgres' }>): Promise<SharedQueue> {
  const [{ openPool }, { PgQueueStore }] = await Promise.all([import('../queue/pg/connect.ts'), import('../queue/pg/store.ts')]);
  const pool = openPool(store, 1);
  const queue = PgQueueStore.forOperator({ pool, retry: config.queue, leaseMs: store.leaseMs, by: `cli@${os.hostname()}` });
  return { enqueue: (message) => queue.enqueue(message), close: () => pool.end() };
}
