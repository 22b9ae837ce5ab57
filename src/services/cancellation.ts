/**
 * A cancellation token for one exchange: the client went away, or a deadline passed. It replaces
 * `AbortController`, whose EventTarget machinery (creating the signal, add/removeEventListener)
 * cost about 30 µs of CPU per request, two controllers per request, in the benchmark's profiles.
 *
 * undici takes it as a request `signal`: its documented type is `AbortSignal | EventEmitter`, and an
 * object without `addEventListener` is driven through `on`/`once`/`removeListener`, `aborted` and
 * `reason`, which is all this implements.
 */
export type AbortListener = () => void;

export class Cancellation {
  aborted = false;
  reason: unknown = undefined;
  /** Usually zero or one listener (undici's, or a child's): a field, not an array, for that case. */
  private first: AbortListener | null = null;
  private more: AbortListener[] | null = null;

  /** Aborts once; later calls do nothing. Listeners run synchronously, in the order added. */
  abort(reason: unknown = abortError()): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const first = this.first;
    const more = this.more;
    this.first = null;
    this.more = null;
    first?.();
    if (more) for (const listener of more) listener();
  }

  /** A token that aborts with this one (with its reason) and can also be aborted on its own. */
  child(): Cancellation & { release(): void } {
    const child = new LinkedCancellation(this);
    if (this.aborted) child.abort(this.reason);
    else this.once('abort', child.onParentAbort);
    return child;
  }

  on(_event: 'abort', listener: AbortListener): this {
    if (this.aborted) return this;
    if (this.first === null) this.first = listener;
    else if (this.more === null) this.more = [listener];
    else this.more.push(listener);
    return this;
  }

  /** Listeners run at most once anyway: abort happens once. */
  once(event: 'abort', listener: AbortListener): this {
    return this.on(event, listener);
  }

  removeListener(_event: 'abort', listener: AbortListener): this {
    if (this.first === listener) {
      this.first = this.more?.shift() ?? null;
    } else if (this.more) {
      const i = this.more.indexOf(listener);
      if (i >= 0) this.more.splice(i, 1);
    }
    return this;
  }

  off(event: 'abort', listener: AbortListener): this {
    return this.removeListener(event, listener);
  }
}

class LinkedCancellation extends Cancellation {
  readonly onParentAbort = (): void => this.abort(this.parent.reason);

  constructor(private readonly parent: Cancellation) {
    super();
  }

  /** Unhooks from the parent once the exchange is over, so a long-lived parent does not pile up listeners. */
  release(): void {
    this.parent.removeListener('abort', this.onParentAbort);
  }
}

/** What `AbortController.abort()` uses as its reason: a DOMException named AbortError. */
function abortError(): Error {
  return new DOMException('This operation was aborted', 'AbortError');
}

/** Resolves after `ms`, or rejects with the token's reason as soon as it aborts. */
export function sleepUnless(ms: number, cancellation: Cancellation): Promise<void> {
  if (cancellation.aborted) return Promise.reject(cancellation.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancellation.reason);
    };
    const timer = setTimeout(() => {
      cancellation.removeListener('abort', onAbort);
      resolve();
    }, ms);
    cancellation.once('abort', onAbort);
  });
}
