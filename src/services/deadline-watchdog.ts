/**
 * One coarse timer for the total deadline of every in-flight upstream exchange, instead of an
 * `AbortSignal.timeout` (a timer plus finalization bookkeeping) per request: at thousands of
 * requests per second that per-request cost showed up in profiles. A deadline fires within one
 * tick after it passes; total timeouts are minutes long, so a 250 ms tick is precise enough.
 */
/**
 * A class, not an object literal: V8 tracks literals by allocation site and, when most of one
 * site's objects survive a scavenge, allocates the site's later objects straight in the old
 * generation. Entries live as long as their exchange; once some were promoted, the dead ones kept
 * the young objects they pointed to alive through the next scavenge, which counted those as
 * survivors too: a loop that, under streaming load, promoted ~290 KB per scavenge instead of ~60.
 */
class Entry {
  prev: Entry | null = null;
  next: Entry | null = null;
  linked = true;
  cancelled = false;

  constructor(
    readonly deadline: number,
    /** Null once cancelled: a dead entry must not keep its exchange alive. */
    public fire: (() => void) | null,
  ) {}
}

export class DeadlineWatchdog {
  // A linked list, not a Set: a long-lived Set with an add and a delete per request rebuilds its
  // hash table every few dozen requests, and each table lives long enough to be promoted to the
  // old generation (a heap sampling of the proxy under load put most of its promoted garbage here).
  private head: Entry | null = null;
  private tail: Entry | null = null;
  private size = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly tickMs = 250) {}

  /** Calls `onExpire` once `ms` have passed, unless the returned cancel function runs first. */
  watch(ms: number, onExpire: () => void): () => void {
    const entry = new Entry(Date.now() + ms, onExpire);
    entry.prev = this.tail;
    if (this.tail === null) this.head = entry;
    else this.tail.next = entry;
    this.tail = entry;
    this.size++;
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), Math.min(this.tickMs, Math.max(1, ms)));
      this.timer.unref();
    }
    return () => {
      entry.cancelled = true;
      entry.fire = null;
      this.unlink(entry);
      if (this.size === 0) this.stop();
    };
  }

  /** How many deadlines are being watched. */
  get watching(): number {
    return this.size;
  }

  private unlink(entry: Entry): void {
    if (!entry.linked) return;
    entry.linked = false;
    if (entry.prev === null) this.head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === null) this.tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = null;
    entry.next = null;
    this.size--;
  }

  private tick(): void {
    const now = Date.now();
    // Unlinked first, fired after: a callback may cancel other entries (which then do not fire).
    const expired: Entry[] = [];
    for (let entry = this.head; entry !== null; entry = entry.next) {
      if (entry.deadline <= now) expired.push(entry);
    }
    for (const entry of expired) this.unlink(entry);
    for (const entry of expired) if (!entry.cancelled) entry.fire?.();
    if (this.size === 0) this.stop();
  }

  private stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
