/**
 * One upstream HTTP exchange, driven through undici's dispatch API: the handler that receives the
 * status, headers and body chunks, and the reply body the proxy reads from it.
 *
 * Why not `Pool.request()`: that API wraps every exchange in an AsyncResource, parses the headers
 * into a Readable body stream, and hands chunks out through stream events and a promise per read.
 * Under callgrind the benchmark's pass-through executed about 58k fewer instructions per
 * non-streaming request (366k -> 308k) with a dispatch handler like this one instead. Here chunks go
 * straight to the reader: collected for `text()`, or passed to a callback for a stream, whose
 * returned promise (a slow client) pauses the upstream socket until it settles.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Timeouts } from '../config.js';
import type { Cancellation } from './cancellation.js';
import type { DeadlineWatchdog, Watch } from './deadline-watchdog.js';

/**
 * Called with the body chunks one socket read brought (in order; the array is the reader's to keep);
 * a returned promise pauses the upstream until it settles.
 */
export type ChunkReader = (chunks: Buffer[]) => Promise<void> | undefined;

/** An upstream reply's body, readable once, either whole or chunk by chunk. */
export interface ReplyBody {
  /** The body as UTF-8 text; with `limit`, only its first `limit` bytes, and the rest is not read. */
  text(limit?: number): Promise<string>;
  /** Passes the chunks to `read` as they arrive; resolves at the end of the body (or on `destroy`). */
  consume(read: ChunkReader): Promise<void>;
  /** Stops reading: the upstream connection is closed. */
  destroy(): void;
}

export interface UpstreamReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: ReplyBody;
  /** Maps an error met while reading this reply's body (reset, idle or total timeout). */
  failure(err: unknown): Error;
}

const RESOLVED = Promise.resolve();

const alreadyRead = () => Promise.reject(new Error('the upstream body was already read'));

/** Why a reader stopped the body early: not a failure. */
const STOPPED = Object.freeze(new Error('the proxy stopped reading the upstream body'));

/** The abort reasons of the exchange's own timeouts (the client maps them to its errors). */
export const TOTAL_TIMEOUT = Object.freeze(new Error('the upstream exchange exceeded its total timeout'));
export const FIRST_BYTE_TIMEOUT = Object.freeze(new Error('the upstream sent no status in time'));
export const IDLE_TIMEOUT = Object.freeze(new Error('the upstream body stalled'));

/** The timeouts an exchange keeps, on the client's watchdog. */
export type ExchangeTimeouts = Pick<Timeouts, 'firstByteMs' | 'idleMs' | 'totalMs'>;

/**
 * The dispatch handler and the reply body of one exchange. `started` resolves once a final status
 * arrives (or rejects with the raw transport error); `failure` maps errors for the caller.
 */
export class UpstreamExchange implements Dispatcher.DispatchHandler, ReplyBody, UpstreamReply {
  status = 0;
  headers: IncomingHttpHeaders = {};
  readonly body: ReplyBody = this;
  /** Why the exchange was aborted (the caller's cancellation, the total deadline), if it was. */
  reason: unknown = undefined;
  readonly started: Promise<UpstreamReply>;

  private controller: Dispatcher.DispatchController | null = null;
  private resolveStart!: (reply: UpstreamReply) => void;
  private rejectStart!: (err: unknown) => void;
  private phase: 'waiting' | 'body' | 'ended' | 'failed' = 'waiting';
  /** Chunks received and not yet given to a reader (or, for `text()`, the whole body so far). */
  private chunks: Buffer[] = [];
  private size = 0;
  private limit = Number.POSITIVE_INFINITY;
  private error: unknown = null;
  private reader: ChunkReader | null = null;
  /** A reader's promise is pending: chunks wait in `chunks`, the socket is paused. */
  private busy = false;
  /** A microtask will hand the reader what arrived in this socket read. */
  private scheduled = false;
  private settleBody: ((err: unknown) => void) | null = null;
  private released = false;
  private consumed = false;

  /**
   * The exchange's one watchdog entry: the total deadline, and the first byte's or the idle one,
   * whichever comes first. undici's own header and body timers are off (upstream-client.ts).
   */
  private readonly watch: Watch;
  private readonly totalAt: number;
  /** When the status must have arrived (epoch ms); 0 until the request reaches a connection. */
  private firstByteAt = 0;

  constructor(
    private readonly cancellation: Cancellation,
    public failure: (err: unknown) => Error,
    watchdog: DeadlineWatchdog,
    private readonly timeouts: ExchangeTimeouts,
  ) {
    this.started = new Promise((resolve, reject) => {
      this.resolveStart = resolve;
      this.rejectStart = reject;
    });
    cancellation.on('abort', this.onCancel);
    this.watch = watchdog.watch(timeouts.totalMs, this.onDeadline);
    this.totalAt = this.watch.deadline;
  }

  /** Aborts the exchange: before the status, `started` rejects with `reason`; after, the body does. */
  abort(reason: unknown): void {
    if (this.phase === 'ended' || this.phase === 'failed' || this.reason !== undefined) return;
    this.reason = reason;
    if (this.controller !== null) this.controller.abort(reason as Error);
    // Still queued in the pool: fail now; `onRequestStart` aborts it when it reaches a socket.
    else this.fail(reason);
  }

  private readonly onCancel = (): void => this.abort(this.cancellation.reason);

  /**
   * The watchdog's call once `watch.deadline` passed: aborts with the timeout that expired, or
   * moves the deadline to the next one. Idle time counts from the last body chunk (`touched`, set
   * per chunk, is stamped by the watchdog's tick), and not while the reader keeps the socket paused.
   */
  private readonly onDeadline = (now: number): void => {
    const { totalAt, watch } = this;
    let next: number;
    if (now >= totalAt) next = now;
    else if (this.phase !== 'waiting') {
      next = (this.busy ? now : watch.touchedAt) + this.timeouts.idleMs;
    } else if (this.firstByteAt === 0) {
      next = totalAt; // still queued in the pool: only the total counts
    } else next = this.firstByteAt;
    if (now < next) {
      watch.deadline = Math.min(totalAt, next);
      return;
    }
    this.abort(now >= totalAt ? TOTAL_TIMEOUT : this.phase === 'waiting' ? FIRST_BYTE_TIMEOUT : IDLE_TIMEOUT);
  };

  // --- undici's DispatchHandler -------------------------------------------------------------

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.reason !== undefined) {
      controller.abort(this.reason as Error);
      return;
    }
    // As undici's headers timeout did: the wait for a free connection is not the upstream's.
    this.firstByteAt = Date.now() + this.timeouts.firstByteMs;
    if (this.firstByteAt < this.watch.deadline) this.watch.deadline = this.firstByteAt;
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
  ): void {
    if (status < 200 || this.phase !== 'waiting') return; // 1xx: informational, the real one follows
    this.controller = controller;
    // undici's adapter for this handler API keeps the raw header list, views of the socket read
    // that brought them, which under streaming load is often the whole body: parsed, they are
    // not needed, and held they kept ~11 KB per stream alive until a full collection.
    (controller as { rawHeaders?: unknown }).rawHeaders = null;
    this.status = status;
    this.headers = headers;
    this.phase = 'body';
    const now = Date.now();
    this.watch.touchedAt = now;
    this.watch.deadline = Math.min(this.totalAt, now + this.timeouts.idleMs);
    this.resolveStart(this);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.phase !== 'body' || this.size >= this.limit) return;
    this.watch.touched = true;
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size >= this.limit) this.stop();
    else if (this.busy) controller.pause();
    else if (this.reader !== null && !this.scheduled) {
      // One socket read often holds many HTTP chunks (one per SSE event): the reader gets them
      // together, after the read is parsed, so the relay writes once per read, not once per event.
      // (A resolved promise, not queueMicrotask: that one also makes an AsyncResource per call.)
      this.scheduled = true;
      RESOLVED.then(this.drain);
    }
  }

  onResponseEnd(): void {
    if (this.phase !== 'body') return;
    this.phase = 'ended';
    this.release();
    if (!this.busy) this.finish();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    // An abort by the proxy arrives here with its reason; keep that (a deadline, a client gone).
    this.fail(this.reason === undefined ? err : this.reason);
  }

  // --- ReplyBody -----------------------------------------------------------------------------

  text(limit?: number): Promise<string> {
    if (this.consumed) return alreadyRead();
    this.consumed = true;
    if (limit !== undefined) {
      this.limit = limit;
      if (this.size >= limit && this.phase === 'body') this.stop();
    }
    if (this.phase === 'ended' || (this.phase === 'body' && this.size >= this.limit)) {
      return Promise.resolve(this.collected());
    }
    if (this.phase === 'failed') return Promise.reject(this.error);
    return new Promise((resolve, reject) => {
      this.settleBody = (err) => (err === null ? resolve(this.collected()) : reject(err));
    });
  }

  consume(read: ChunkReader): Promise<void> {
    if (this.consumed) return alreadyRead();
    this.consumed = true;
    this.reader = read;
    return new Promise<void>((resolve, reject) => {
      this.settleBody = (err) => (err === null ? resolve() : reject(err));
      this.drain();
    });
  }

  destroy(): void {
    if (this.phase !== 'body') return;
    this.stop();
  }

  // --- internals -----------------------------------------------------------------------------

  /** Ends the body early, as if it ended here; the socket is closed, not reused. */
  private stop(): void {
    this.phase = 'ended';
    this.reason = STOPPED;
    this.controller?.abort(STOPPED);
    this.release();
    if (!this.busy) this.finish();
  }

  private deliver(chunks: Buffer[]): void {
    let pending: Promise<void> | undefined;
    try {
      pending = (this.reader as ChunkReader)(chunks);
    } catch (err) {
      this.readerFailed(err);
      return;
    }
    if (pending === undefined) return;
    this.busy = true;
    this.controller?.pause();
    pending.then(
      () => {
        this.busy = false;
        // Idle time starts again from here, not from the last chunk before the pause.
        this.watch.touched = true;
        this.drain();
      },
      (err: unknown) => {
        this.busy = false;
        this.readerFailed(err);
      },
    );
  }

  /** Gives the reader everything received since its last call, then resumes the socket or finishes. */
  private readonly drain = (): void => {
    this.scheduled = false;
    if (!this.busy && this.chunks.length > 0 && this.settleBody !== null) {
      // Handed over as they are: no copy into one buffer.
      const chunks = this.chunks;
      this.chunks = [];
      this.size = 0;
      this.deliver(chunks);
    }
    if (this.busy) return;
    if (this.phase === 'body') this.controller?.resume();
    else this.finish();
  };

  /** A reader that throws stops the body; its error rejects `consume`. */
  private readerFailed(err: unknown): void {
    if (this.phase === 'body') {
      this.phase = 'ended';
      this.reason = STOPPED;
      this.controller?.abort(STOPPED);
      this.release();
    }
    this.error = err;
    this.phase = 'failed';
    this.finish();
  }

  private fail(err: unknown): void {
    if (this.phase === 'ended' || this.phase === 'failed') return;
    const before = this.phase === 'waiting';
    this.phase = 'failed';
    this.error = err;
    this.chunks = [];
    this.release();
    if (before) this.rejectStart(err);
    else if (!this.busy) this.finish();
  }

  private finish(): void {
    const settle = this.settleBody;
    if (settle === null) return;
    if (this.phase !== 'failed' && this.chunks.length > 0 && this.reader !== null) return; // drain() delivers them first
    this.settleBody = null;
    // undici may hold on to the handler after the exchange: it must not keep the reader's world alive.
    this.reader = null;
    settle(this.phase === 'failed' ? this.error : null);
  }

  private collected(): string {
    const chunks = this.chunks;
    this.chunks = [];
    const all = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    return (all.length > this.limit ? all.subarray(0, this.limit) : all).toString('utf8');
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.cancellation.removeListener('abort', this.onCancel);
    this.watch.cancel();
  }
}
