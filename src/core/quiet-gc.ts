// Memory back after a burst: once the event loop, busy for a while, has been quiet for a second,
// one full V8 garbage collection. V8 collects old space only when it grows, so after a burst (a
// queue fill, large messages) the Buffers that old objects still point to keep their malloc'd
// memory until the next burst; a full collection frees them and the allocator can give the pages
// back, which glibc does only for its heap's top: malloc-trim.ts then gives back the free pages
// inside. The decision is pure (quietDecision, table-tested); the sampler reads
// performance.eventLoopUtilization() once a second. The world (clock, timers, gc, trim) is passed in.
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { mallocTrim } from './malloc-trim.ts';

export interface QuietState {
  /** Loop-active milliseconds since the last collection (or the start). */
  busyMs: number;
}

export interface QuietSample {
  /** Loop-active milliseconds in the last interval. */
  activeMs: number;
  /** The interval's length, milliseconds. */
  intervalMs: number;
}

/** The loop counts as quiet below this share of active time in an interval. */
export const QUIET_UTILIZATION = 0.02;
/** A collection only after at least this much loop work since the last one (an idle daemon never collects). */
export const BURST_BUSY_MS = 500;

/** Collect now (and start counting again), or keep counting. Pure. */
export function quietDecision(state: QuietState, sample: QuietSample): { collect: boolean; state: QuietState } {
  const quiet = sample.intervalMs > 0 && sample.activeMs / sample.intervalMs < QUIET_UTILIZATION;
  if (quiet && state.busyMs >= BURST_BUSY_MS) return { collect: true, state: { busyMs: 0 } };
  return { collect: false, state: { busyMs: state.busyMs + sample.activeMs } };
}

type ExposedGc = (options: { type: 'major' | 'minor'; execution: 'sync'; flavor?: 'last-resort' }) => void;

/** V8's gc(), made callable without --expose-gc on the command line. */
function exposedGc(): ExposedGc {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as ExposedGc;
}

/** V8's young-generation collection (a scavenge: the short-lived objects only, about a millisecond). */
export function v8YoungGc(): () => void {
  const gc = exposedGc();
  return () => gc({ type: 'minor', execution: 'sync' });
}

/** V8's full collection, made callable without --expose-gc on the command line. */
export function v8FullGc(): () => void {
  const gc = exposedGc();
  // 'last-resort': V8's collection that reduces the footprint (repeated until nothing more is
  // freed, the pooled pages released); a plain gc() keeps ~25 MiB of freed pages in its pool.
  return () => gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

export interface QuietGcDeps {
  /** Cumulative loop-active milliseconds (performance.eventLoopUtilization().active). */
  activeMs?: () => number;
  gc?: () => void;
  /** After each collection: the allocator's free pages given back (mallocTrim). */
  trim?: () => void;
  now?: () => number;
  intervalMs?: number;
  /** Told of each collection: how long it took (with the trim). */
  onCollect?: (ms: number) => void;
  /**
   * The start-up was a burst (modules compiled, config read, a certificate made: the young
   * generation grown to its maximum): collect at the first quiet interval too.
   */
  afterStart?: boolean;
}

/** Samples the loop every `intervalMs` (an unref'd timer) and collects after each burst. Returns stop. */
export function startQuietGc(deps: QuietGcDeps = {}): () => void {
  const activeMs = deps.activeMs ?? (() => performance.eventLoopUtilization().active);
  const gc = deps.gc ?? v8FullGc();
  const trim = deps.trim ?? mallocTrim();
  const now = deps.now ?? (() => performance.now());
  let state: QuietState = { busyMs: deps.afterStart ? BURST_BUSY_MS : 0 };
  let lastActive = activeMs();
  let lastAt = now();
  const timer = setInterval(() => {
    const active = activeMs();
    const at = now();
    const decided = quietDecision(state, { activeMs: active - lastActive, intervalMs: at - lastAt });
    state = decided.state;
    if (decided.collect) {
      gc();
      trim();
      deps.onCollect?.(now() - at);
    }
    // The collection's own time is not the next burst.
    lastActive = activeMs();
    lastAt = now();
  }, deps.intervalMs ?? 1000);
  timer.unref();
  return () => clearInterval(timer);
}
