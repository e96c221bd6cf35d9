// Where the inbound checks of each message run: on the event loop while it has room, on the
// checks thread (client.ts) while it is busy. A check on the thread costs more CPU than the same
// check on the loop: two messages across (the request and the answer, each a structured clone and
// a wake-up of the other thread), and a second heap to collect. Measured with bench/eod.ts (10 KiB,
// 2 vCPUs, against the thread for every message): CPU per message in all −4 % unsigned and −16 %
// DKIM-signed at C=20, −6 % and −13 % at C=1 (end of data → 250 p50 1.70 → 1.54 and 1.86 → 1.71
// ms), for 0.4–0.7 ms more of it on the loop. So the thread is kept for when the loop is the
// limit: when the loop's thread used more than LOOP_BUSY of a CPU over the last reading (loopCpu)
// and the machine had at least SPARE_CPUS of idle CPU for the thread to run on, new messages go to
// the thread until either is no longer so. On a machine whose CPUs are all taken (the bench's load
// generator beside the server, or other servers), the thread runs only by taking CPU from the
// loop, and its extra cost per message is a loss (bench/eod.ts, C=20, 10 KiB, 2 vCPUs, against
// the loop's share alone, CPU per message: unsigned 3.61 → 3.14 ms, DKIM-signed 4.24 → 4.07, two
// signatures 4.47 → 4.75, within this VM's noise); with one CPU to run on (availableParallelism)
// it is never used. The decision is made for SPF at MAIL
// FROM, for the body at DATA (a body fed to the loop is hashed there as it arrives, and its check
// follows it) and for a check without a feed at the end of DATA; a large (spooled) message not
// fed is checked on the thread, which reads its file itself. Both run the same code
// (mailauth/inbound.ts); mailauth is loaded on the loop only at its first check there.
//
//   startChecks(settings, onDnsFailure?) → Offload           (the thread and the loop, chosen per message)
//   loopBusy({ threshold, spare?, now, sample, everyMs? }) → () => boolean
import { availableParallelism, cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { isSpooled } from '../core/body.ts';
import { HeaderGate } from '../mailauth/header-gate.ts';
import type { InboundChecks, VerifySettings } from '../mailauth/inbound.ts';
import { streamWhenReady } from '../mailauth/pending-stream.ts';
import { checksFailed } from '../mailauth/results.ts';
import type { BodyFeed, SPFResult, SpfInput, StreamedDkim, Verdict, VerifyInput } from '../mailauth/verify.ts';
// The thread's own limit, the same on the loop: bytes given to the verifier and not yet hashed at
// most before push() asks to wait.
import { type DnsFailure, FEED_WINDOW, type Offload, startOffloadThread, within } from './client.ts';

/** The share of a CPU the loop's thread used above which new checks go to the thread. */
export const LOOP_BUSY = 0.75;
/** The machine's idle CPU (in CPUs, over the last reading) below which the checks stay on the loop. */
export const SPARE_CPUS = 0.5;

/** The checks of messages checked on the loop. */
export interface LoopChecks {
  /** `feed`: this message's body as it arrived, when it was fed to the loop (feed()). */
  verify(input: VerifyInput, feed?: LoopFeed): Promise<Verdict>;
  spf(input: SpfInput): Promise<SPFResult | undefined>;
  feed(sender: string): LoopFeed;
}

/** The checks thread and the loop's checks (none without `settings.verify`), chosen per message by the loop's load. */
export function startChecks(settings: { verify?: VerifySettings }, onDnsFailure?: (failure: DnsFailure) => void): Offload {
  const thread = startOffloadThread(settings, onDnsFailure);
  if (!settings.verify) return thread;
  const now = () => performance.now();
  const busy = availableParallelism() > 1 ? loopBusy({ threshold: LOOP_BUSY, spare: SPARE_CPUS, now, sample: () => loopCpu(now()) }) : () => false;
  return adaptiveChecks(thread, loopChecks(settings.verify, onDnsFailure), busy);
}

export function adaptiveChecks(thread: Offload, onLoop: LoopChecks, busy: () => boolean): Offload {
  const { verify, spf, feed } = thread;
  if (!verify || !spf || !feed) return thread;
  return {
    verify: (input, fed) => {
      if (fed instanceof LoopFeed) return onLoop.verify(input, fed);
      return fed === undefined && !busy() && !isSpooled(input.message) ? onLoop.verify(input) : verify(input, fed);
    },
    spf: (input) => (busy() ? spf(input) : onLoop.spf(input)),
    feed: (sender) => (busy() ? feed(sender) : onLoop.feed(sender)),
    close: () => thread.close(),
  };
}

/** The checks on this thread, with mailauth loaded at the first. Answers as the thread's do: a failure is a verdict of "none", an SPF check past the budget undefined. */
export function loopChecks(settings: VerifySettings, onDnsFailure?: (failure: DnsFailure) => void): LoopChecks {
  let loaded: Promise<InboundChecks> | undefined;
  const checks = () => (loaded ??= import('../mailauth/inbound.ts').then(({ inboundChecks }) => inboundChecks(settings, onDnsFailure)));
  return {
    async verify(input, feed) {
      try {
        const streamed = feed?.claim();
        return await (await checks()).verify({ ...input, ...(streamed ? { streamed } : {}) });
      } catch (err) {
        return checksFailed(settings.hostname, input.message, (err as Error).message);
      }
    },
    spf: (input) =>
      within(
        checks().then((c) => c.spf(input)),
        settings.timeoutMs,
      ),
    feed: (sender) => new LoopFeed(sender, checks),
  };
}

/**
 * A body fed to the checks on the loop as it arrives: once its header block has ended, the
 * DMARC and DKIM key lookups it names start (warm), and when a signature covers the body it goes
 * on into the DKIM verifier (its hashes done by the end of DATA); an unsigned body is not looked
 * at past its header block.
 */
export class LoopFeed implements BodyFeed {
  private readonly streamed: StreamedDkim;
  private readonly checks: () => Promise<InboundChecks>;
  private readonly gate = new HeaderGate();
  private state: 'header' | 'signed' | 'off' = 'header';
  private inFlight = 0;
  private drains: (() => void)[] = [];

  constructor(sender: string, checks: () => Promise<InboundChecks>) {
    this.checks = checks;
    this.streamed = streamWhenReady(checks().then((c) => c.stream(sender)));
  }

  push(chunk: Buffer): boolean {
    if (this.state === 'off' || chunk.length === 0) return true;
    if (this.state === 'header') {
      const seen = this.gate.push(chunk);
      if (!seen) return this.give(chunk);
      if (seen.kind === 'ended') {
        this.checks().then(
          (c) => c.warm(seen.header),
          () => {},
        );
        if (!seen.signed) {
          this.drop(); // no body hash needed: the check reads the header block alone
          return true;
        }
      }
      this.state = 'signed';
    }
    return this.give(chunk);
  }

  onDrain(callback: () => void): void {
    if (this.inFlight < FEED_WINDOW) callback();
    else this.drains.push(callback);
  }

  drop(): void {
    if (this.state !== 'off') this.streamed.abort();
    this.state = 'off';
    this.gate.clear();
    this.drained();
  }

  /** For the check at the end of DATA (once): the streamed verifier, when the body went into it. */
  claim(): StreamedDkim | undefined {
    const fed = this.state === 'signed' ? this.streamed : undefined;
    if (this.state === 'header') this.streamed.abort();
    this.state = 'off';
    this.gate.clear();
    this.drained();
    return fed;
  }

  private give(chunk: Buffer): boolean {
    this.inFlight += chunk.length;
    this.streamed.push(chunk, () => {
      this.inFlight -= chunk.length;
      if (this.inFlight < FEED_WINDOW) this.drained();
    });
    return this.inFlight < FEED_WINDOW;
  }

  private drained(): void {
    const waiting = this.drains;
    this.drains = [];
    for (const callback of waiting) callback();
  }
}

/** Cumulative busy and idle time of the loop, ms; the machine's idle time over all its CPUs, ms. */
export interface LoopTime {
  active: number;
  idle: number;
  machineIdle?: number;
}

/**
 * The loop's time as its thread's CPU time (busy) and the rest of the wall time (idle), not
 * performance.eventLoopUtilization(): that counts as busy the time the thread waits for a CPU
 * (on a machine whose cores are all taken, most of it) and for a synchronous call, so it reads a
 * loop as the limit when the loop's own work is not, and sends checks to the thread, which costs
 * more CPU in all (bench/eod.ts at C=20, 2 vCPUs, CPU per message against the utilization:
 * 2.68 → 2.62 ms unsigned, 3.87 → 3.65 DKIM-signed, 4.56 → 4.07 with two signatures).
 */
function loopCpu(wallMs: number): LoopTime {
  const used = process.threadCpuUsage();
  const active = (used.user + used.system) / 1000;
  let machineIdle = 0;
  for (const cpu of cpus()) machineIdle += cpu.times.idle;
  return { active, idle: wallMs - active, machineIdle };
}

/**
 * Whether the loop was busier than `threshold` (a share of its time) between the last two
 * readings, with (given `spare` and the machine's idle time) at least `spare` CPUs idle over
 * them; a reading is taken when asked and at least `everyMs` after the one before, so a quiet
 * loop is judged over the whole quiet time. Not busy before the first reading.
 */
export function loopBusy(o: { threshold: number; spare?: number; now: () => number; sample: () => LoopTime; everyMs?: number }): () => boolean {
  const everyMs = o.everyMs ?? 250;
  let last = o.sample();
  let lastAt = o.now();
  let busy = false;
  return () => {
    const now = o.now();
    if (now - lastAt < everyMs) return busy;
    const sample = o.sample();
    const total = sample.active + sample.idle - (last.active + last.idle);
    const idleCpus = sample.machineIdle !== undefined && last.machineIdle !== undefined ? (sample.machineIdle - last.machineIdle) / total : undefined;
    busy = total > 0 && (sample.active - last.active) / total > o.threshold && (o.spare === undefined || idleCpus === undefined || idleCpus >= o.spare);
    last = sample;
    lastAt = now;
    return busy;
  };
}
