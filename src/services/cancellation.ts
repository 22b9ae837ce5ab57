/**
 * A cancellation token for one exchange: the client went away, or a deadline passed. It replaces
 * `AbortController`, whose EventTarget machinery (creating the signal, add/removeEventListener)
 * cost about 30 µs of CPU per request, two controllers per request, in the benchmark's profiles.
 *
 * It speaks the EventEmitter subset (`on`/`once`/`removeListener`, `aborted`, `reason`) that
 * undici accepts as a request `signal`; the upstream exchange (upstream-exchange.ts) listens to it
 * the same way.
 */
export type AbortListener = () => void;

export class Cancellation {
  aborted = false;
  reason: unknown = undefined;
  /** Usually zero or one listener (the upstream exchange's): a field, not an array, for that case. */
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
