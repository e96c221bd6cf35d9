// The queue worker for one transport: claims due recipients, hands each message to the courier,
// records outcomes and logs one record per recipient. Fresh messages come straight from the
// store while it has room (JobTaker); it wakes for the rest on enqueue and on the next due time.
// The store is the asynchronous contract (contract.ts: SQLite or PostgreSQL). A store call the disk
// refuses (full: SQLITE_FULL, SQLITE_IOERR_*), or the queue database does not answer (PostgreSQL
// down: its StorageHealth counts those as faults), is tried again after a backoff, never thrown
// out of a timer (see db/storage-fault.ts).
import type { Courier, DeliveryJob, Outcome } from '../core/delivery.ts';
import { StorageHealth } from '../db/storage-fault.ts';
import { type Logger, mailLog } from '../log/log.ts';
import type { QueueStoreContract } from './contract.ts';
import type { JobTaker } from './handoff.ts';
import type { NewMessage, Transport } from './message.ts';
import type { NoticeInput } from './notices.ts';

export interface WorkerDeps {
  store: Pick<QueueStoreContract, 'onEnqueued' | 'handOff' | 'claim' | 'complete' | 'nextDue'>;
  transport: Transport;
  courier: Courier;
  log: Logger;
  now: () => number;
  /** Messages delivered at once. */
  concurrency: number;
  /** Builds DSNs for failed and long-delayed recipients (see notices.ts). */
  notice?: (input: NoticeInput) => NewMessage | undefined;
  delayWarningMs?: number;
  random?: () => number;
  /**
   * The daemon's view of the disk (shared with the listeners), or of the queue database; default:
   * one of the worker's own.
   */
  storage?: StorageHealth;
  /**
   * The delivery agent of an address, in Postfix's words (smtp, relay, lmtp, maildir): the `agent`
   * field of the delivered, deferred and bounced records (the metrics' transport label).
   */
  agent?: (address: string) => string;
  /**
   * Called once per recipient whose outcome is logged (delivered, deferred, bounced), with its
   * agent: the local worker's hourly counts (local/delivery-stats.ts). Must not throw.
   */
  counted?: (outcome: 'delivered' | 'deferred' | 'bounced', agent: string | undefined) => void;
}

/** Longest sleep between looks at the queue, so a clock jump or a missed wake-up heals itself. */
const MAX_IDLE_MS = 60_000;

export class QueueWorker implements JobTaker {
  private readonly deps: WorkerDeps;
  private running = false;
  private inFlight = new Set<Promise<void>>();
  /** Slots held for jobs the store hands over after its next WAL sync. */
  private reserved = 0;
  /** The queue may hold due work not claimed yet (false once a claim came back short). */
  private backlog = true;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void)[] = [];
  private readonly storage: StorageHealth;
  /** Claims (or due-time reads) the disk refused in a row; while set, a timer tries again. */
  private claimFailures = 0;
  private faultTimer: NodeJS.Timeout | undefined;
  /** Slots of the claim under way (at most one at a time), and the claim itself (stop() waits for it). */
  private claiming = 0;
  private claimed: Promise<void> | undefined;
  /** pump() calls so far: a claim that came back short ends the backlog only if none came meanwhile. */
  private pumps = 0;
  /** arm() calls so far: only the newest due-time read sets the timer. */
  private arms = 0;
  /** Backoff waits of outcomes not recorded yet: stop() cuts them short. */
  private readonly waits = new Set<() => void>();

  constructor(deps: WorkerDeps) {
    this.deps = deps;
    this.storage = deps.storage ?? new StorageHealth({ log: deps.log, now: deps.now });
  }

  get transport(): Transport {
    return this.deps.transport;
  }

  start(): void {
    this.running = true;
    this.unsubscribe = [
      this.deps.store.onEnqueued((t) => {
        if (t === this.deps.transport) this.pump();
      }),
      // SQLite hands fresh messages straight to a worker with room (handoff.ts); PostgreSQL does not.
      ...(this.deps.store.handOff ? [this.deps.store.handOff(this.deps.transport, this)] : []),
    ];
    this.pump();
  }

  /** Stops claiming work and waits for deliveries in flight to be recorded. */
  async stop(): Promise<void> {
    this.running = false;
    for (const u of this.unsubscribe) u();
    if (this.timer) clearTimeout(this.timer);
    if (this.faultTimer) clearTimeout(this.faultTimer);
    for (const wake of this.waits) wake();
    while (this.inFlight.size > 0 || this.claimed) await Promise.allSettled([...this.inFlight, this.claimed]);
  }

  /** Looks for due work now: on enqueue, on the timer, after `queue retry`. */
  pump(): void {
    this.backlog = true;
    this.pumps++;
    // Asked to look now (`queue retry`, the fault timer): a wait after a storage fault ends too.
    if (this.faultTimer) clearTimeout(this.faultTimer);
    this.faultTimer = undefined;
    this.fill();
  }

  /** Claims due work for the free slots while there may be some (one claim at a time). */
  private fill(): void {
    // Waiting out a storage fault: the fault timer pumps again. A claim under way fills again when it returns.
    if (!this.running || this.faultTimer || this.claimed) return;
    const { store, transport, now } = this.deps;
    // At most one job per free slot: concurrency bounds the messages in memory too.
    const free = this.free();
    if (!this.backlog || free <= 0) {
      // With work in flight, its completion fills again; the timer is for an idle worker (and
      // for work that a delivery deferred: see run).
      if (this.inFlight.size === 0) this.arm();
      return;
    }
    const pumps = this.pumps;
    this.claiming = free;
    const claimed = store.claim(transport, now(), free).then(
      (jobs) => {
        this.claiming = 0;
        this.claimed = undefined;
        this.claimFailures = 0;
        // A claim that found nothing wrote nothing: it says nothing about the disk (but a database
        // over the network that answered is back: readsHeal).
        if (jobs.length > 0 || this.storage.readsHeal) this.storage.ok();
        // Stopped meanwhile: the recipients stay active and recover() queues them at the next start.
        if (!this.running) return;
        for (const job of jobs) this.track(this.run(job));
        // Fewer than asked for: nothing more is due until something new is queued or comes due.
        if (jobs.length < free && pumps === this.pumps) this.backlog = false;
        this.fill();
      },
      (err: unknown) => {
        this.claiming = 0;
        this.claimed = undefined;
        if (!this.storage.fault(`${transport} claim`, err)) throw err;
        this.retryAfterFault();
      },
    );
    this.claimed = claimed;
  }

  reserve(): boolean {
    if (!this.running || this.free() <= 0) return false;
    this.reserved++;
    return true;
  }

  take(job: DeliveryJob): void {
    this.reserved--;
    // Stopped meanwhile: the recipients stay active and recover() queues them at the next start.
    if (this.running) this.track(this.run(job));
  }

  release(): void {
    this.reserved--;
  }

  private free(): number {
    return this.deps.concurrency - this.inFlight.size - this.reserved - this.claiming;
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => {
      this.inFlight.delete(p);
      this.fill();
    });
  }

  /** The disk refused a claim: look again after a backoff (doubling while it keeps refusing). */
  private retryAfterFault(): void {
    if (this.timer) clearTimeout(this.timer);
    if (!this.running) return;
    this.claimFailures++;
    this.faultTimer = setTimeout(() => {
      this.faultTimer = undefined;
      this.pump();
    }, this.storage.backoffMs(this.claimFailures));
    this.faultTimer.unref();
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.running || this.faultTimer) return;
    const arms = ++this.arms;
    this.deps.store.nextDue(this.deps.transport).then(
      (due) => {
        // A newer arm() (or a fault, or stop) came meanwhile: its timer is the one that counts.
        if (this.storage.readsHeal) this.storage.ok();
        if (arms !== this.arms || !this.running || this.faultTimer) return;
        if (this.timer) clearTimeout(this.timer);
        const wait = due === undefined ? MAX_IDLE_MS : Math.min(MAX_IDLE_MS, Math.max(0, due - this.deps.now()));
        this.timer = setTimeout(() => this.pump(), wait);
        this.timer.unref();
      },
      (err: unknown) => {
        if (!this.storage.fault(`${this.deps.transport} next due`, err)) throw err;
        if (arms === this.arms) this.retryAfterFault();
      },
    );
  }

  /** Waits `ms`, or less when stop() is called. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waits.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.waits.add(wake);
    });
  }

  private async run(job: DeliveryJob): Promise<void> {
    const { courier, store, log, now } = this.deps;
    let outcomes: Map<number, Outcome>;
    try {
      outcomes = await courier.deliver(job);
    } catch (err) {
      log.error({ err, queueId: job.queueId }, 'courier threw (bug); recipients deferred');
      outcomes = new Map(job.recipients.map((r) => [r.id, { kind: 'transient', reason: `internal error: ${(err as Error).message}` }]));
    }
    const random = this.deps.random ?? Math.random;
    const { notice, delayWarningMs } = this.deps;
    const options = { jitter: random(), ...(notice ? { notice } : {}), ...(delayWarningMs ? { delayWarningMs } : {}) };
    let finished: Awaited<ReturnType<QueueStoreContract['complete']>>;
    for (let failures = 1; ; failures++) {
      try {
        finished = await store.complete(job, outcomes, now(), options);
        this.storage.ok();
        break;
      } catch (err) {
        if (!this.storage.fault(`${this.deps.transport} complete`, err)) throw err;
        // Stopping: the recipients stay active and recover() queues them at the next start (the
        // delivery is made again: at least once; Maildir delivery finds its file and stops).
        if (!this.running) {
          const code = (err as { code?: string }).code;
          mailLog(
            log,
            'storage',
            { state: 'failing', where: `${this.deps.transport} complete`, queueId: job.queueId, ...(code ? { code } : {}) },
            'outcome not recorded (disk refuses writes); the delivery is tried again after the restart',
            'warn',
          );
          return;
        }
        // The slot stays held meanwhile: the outcome is kept, not the disk's problem to lose.
        await this.sleep(this.storage.backoffMs(failures));
      }
    }
    // A transient failure past the queue lifetime is final: the store failed it, the log says bounced.
    const failed = new Set(finished?.failed.map((f) => `${f.rcpt}\n${f.address}`));
    // A deferred recipient comes due later: the timer must know, even while this worker stays busy.
    if ([...outcomes.values()].some((o) => o.kind === 'transient')) this.arm();
    for (const r of job.recipients) {
      const o = outcomes.get(r.id);
      const agent = this.deps.agent?.(r.address);
      const base = {
        queueId: job.queueId,
        transport: this.deps.transport,
        ...(agent ? { agent } : {}),
        rcpt: r.rcpt,
        to: r.address,
        attempt: r.attempts + 1,
        ...(o?.mailFrom !== undefined ? { mailFrom: o.mailFrom } : {}),
      };
      if (o?.kind === 'delivered') {
        mailLog(log, 'delivered', { ...base, detail: o.detail, reply: o.reply, delayMs: now() - job.receivedAt });
        this.deps.counted?.('delivered', agent);
      } else if (o) {
        const final = o.kind === 'permanent' || failed.has(`${r.rcpt}\n${r.address}`);
        this.deps.counted?.(final ? 'bounced' : 'deferred', agent);
        mailLog(log, final ? 'bounced' : 'deferred', {
          ...base,
          reason: o.reason,
          enhanced: o.enhanced,
          reply: o.reply,
          ...(final && o.kind === 'transient' ? { expired: true } : {}),
        });
      }
    }
  }
}
