// The budget for message bytes held in memory while DATA arrives ([limits] memory_mb), shared by
// every listener: a session whose next chunk does not fit writes its body to the spool instead.
export class BodyBudget {
  readonly limit: number;
  private held = 0;

  constructor(limitBytes: number) {
    this.limit = limitBytes;
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
