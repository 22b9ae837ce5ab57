/**
 * One coarse timer for the deadlines of every in-flight upstream exchange (its total, first-byte
 * and idle timeouts), instead of timers per request: `AbortSignal.timeout` (a timer plus
 * finalization bookkeeping) showed up in profiles at thousands of requests per second, and so did
 * undici's own header and body timers (see upstream-client.ts). A deadline fires within a tick
 * after it passes, never before; timeouts are seconds to minutes long, so a 250 ms tick (shorter
 * for shorter deadlines) is precise enough.
 */

/** One watched deadline; the owner may move it either way while it is watched. */
export interface Watch {
  /** When the callback runs (epoch ms; within a tick after). */
  deadline: number;
  /**
   * Activity since the watchdog's last tick: cheaper than reading the clock per event. The next
   * tick clears it and sets `touchedAt` to its own time, which is never earlier than the activity.
   */
  touched: boolean;
  /** When the watchdog last saw `touched` (epoch ms), or when the owner set it. */
  touchedAt: number;
  /** Stops watching; the callback will not run. Harmless after it ran. */
  cancel(): void;
}

/**
 * Called once the deadline has passed, with the tick's time. To go on watching (the owner's own
 * rule, say an idle timeout since `touchedAt`, has not expired yet), it moves `deadline` past
 * `now`; otherwise the entry is done.
 */
export type OnExpire = (now: number) => void;

/**
 * A class, not an object literal: V8 tracks literals by allocation site and, when most of one
 * site's objects survive a scavenge, allocates the site's later objects straight in the old
 * generation. Entries live as long as their exchange; once some were promoted, the dead ones kept
 * the young objects they pointed to alive through the next scavenge, which counted those as
 * survivors too: a loop that, under streaming load, promoted ~290 KB per scavenge instead of ~60.
 */
class Entry implements Watch {
  prev: Entry | null = null;
  next: Entry | null = null;
  linked = true;
  cancelled = false;
  touched = false;
  touchedAt = 0;

  constructor(
    private readonly owner: DeadlineWatchdog,
    public deadline: number,
    /** Null once cancelled: a dead entry must not keep its exchange alive. */
    public fire: OnExpire | null,
  ) {}

  cancel(): void {
    this.cancelled = true;
    this.fire = null;
    this.owner.unlink(this);
  }
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

  /**
   * Calls `onExpire` once `ms` have passed (and again at each later deadline it sets), unless
   * cancelled first.
   */
  watch(ms: number, onExpire: OnExpire): Watch {
    const entry = new Entry(this, Date.now() + ms, onExpire);
    entry.prev = this.tail;
    if (this.tail === null) this.head = entry;
    else this.tail.next = entry;
    this.tail = entry;
    this.size++;
    if (this.timer === null) {
      this.timer = setInterval(() => this.tick(), Math.min(this.tickMs, Math.max(1, ms)));
      this.timer.unref();
    }
    return entry;
  }

  /** How many deadlines are being watched. */
  get watching(): number {
    return this.size;
  }

  /** @internal Entry.cancel */
  unlink(entry: Entry): void {
    if (!entry.linked) return;
    entry.linked = false;
    if (entry.prev === null) this.head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === null) this.tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = null;
    entry.next = null;
    this.size--;
    if (this.size === 0) this.stop();
  }

  private tick(): void {
    const now = Date.now();
    // Collected first, fired after: a callback may cancel other entries (which then do not fire).
    const expired: Entry[] = [];
    for (let entry = this.head; entry !== null; entry = entry.next) {
      if (entry.touched) {
        entry.touched = false;
        entry.touchedAt = now;
      }
      if (entry.deadline <= now) expired.push(entry);
    }
    for (const entry of expired) {
      const fire = entry.fire;
      if (entry.cancelled || fire === null) continue;
      fire(now);
      if (entry.deadline <= now) entry.cancel();
    }
  }

  private stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
