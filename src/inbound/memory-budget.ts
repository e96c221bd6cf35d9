// The budget for message bytes held in memory while DATA arrives ([limits] memory_mb), shared by
// every listener: a session whose next chunk does not fit writes its body to the spool instead.
// The bytes that only pass through on their way to the spool are paced: one young collection
// after every few MiB of them (passed).
import { v8YoungGc } from '../core/quiet-gc.ts';

/** Body bytes written to the spool between two young collections (BodyBudget.passed). */
export const PASSED_PER_YOUNG_GC = 8 * 1024 * 1024;

export class BodyBudget {
  readonly limit: number;
  private held = 0;
  private passedBytes = 0;
  private youngGc: (() => void) | undefined;

  /** youngGc: V8's young collection unless given (tests count the calls). */
  constructor(limitBytes: number, youngGc?: () => void) {
    this.limit = limitBytes;
    this.youngGc = youngGc;
  }

  /**
   * `bytes` of a body went through memory on their way to the spool: after every
   * PASSED_PER_YOUNG_GC of them, one young collection. Each socket read is a fresh buffer, dead
   * once written, but V8 frees a buffer only when it collects its small JS object, which it does
   * after megabytes of JS allocation or ~64 MiB of buffers: 50 sessions sending 49 MiB at once
   * kept between 10 and 110 MiB of such dead chunks (anonymous memory peaked at 112-134 MiB; with
   * a young collection every 16 MiB at 82, every 8 MiB at 80, every 4 MiB at 70). About a
   * millisecond per 8 MiB received; bodies held in memory (below the spool threshold) never count.
   */
  passed(bytes: number): void {
    this.passedBytes += bytes;
    if (this.passedBytes < PASSED_PER_YOUNG_GC) return;
    this.passedBytes = 0;
    this.youngGc ??= v8YoungGc();
    this.youngGc();
  }

  /** Reserves `bytes`; false (nothing reserved) when they would exceed the budget. */
  take(bytes: number): boolean {
    if (this.held + bytes > this.limit) return false;
    this.held += bytes;
    return true;
  }

  give(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
  }

  get inUse(): number {
    return this.held;
  }
}
