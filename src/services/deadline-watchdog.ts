/**
 * One coarse timer for the total deadline of every in-flight upstream exchange, instead of an
 * `AbortSignal.timeout` (a timer plus finalization bookkeeping) per request: at thousands of
 * requests per second that per-request cost showed up in profiles. A deadline fires within one
 * tick after it passes; total timeouts are minutes long, so a 250 ms tick is precise enough.
 */
export class DeadlineWatchdog {
  private readonly entries = new Set<{ deadline: number; fire: () => void }>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly tickMs = 250) {}

  /** Calls `onExpire` once `ms` have passed, unless the returned cancel function runs first. */
  watch(ms: number, onExpire: () => void): () => void {
    const entry = { deadline: Date.now() + ms, fire: onExpire };
    this.entries.add(entry);
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), Math.min(this.tickMs, Math.max(1, ms)));
      this.timer.unref();
    }
    return () => {
      this.entries.delete(entry);
      if (this.entries.size === 0) this.stop();
    };
  }

  private tick(): void {
    const now = Date.now();
    for (const entry of this.entries) {
      if (entry.deadline <= now) {
        this.entries.delete(entry);
        entry.fire();
      }
    }
    if (this.entries.size === 0) this.stop();
  }

  private stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
