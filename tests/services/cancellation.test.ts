/**
 * Cancellation, the proxy's lightweight stand-in for AbortController: abort-once semantics, the
 * listener list (order, removal), sleepUnless, and undici really honouring it as a request `signal`.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Cancellation, sleepUnless } from '../../src/services/cancellation.js';

describe('Cancellation.abort', () => {
  it('starts not aborted, with no reason', () => {
    const c = new Cancellation();
    expect(c.aborted).toBe(false);
    expect(c.reason).toBeUndefined();
  });

  it('defaults the reason to a DOMException named AbortError, as AbortController does', () => {
    const c = new Cancellation();
    c.abort();
    expect(c.aborted).toBe(true);
    expect(c.reason).toBeInstanceOf(DOMException);
    expect((c.reason as DOMException).name).toBe('AbortError');
    const controller = new AbortController();
    controller.abort();
    expect((c.reason as DOMException).name).toBe((controller.signal.reason as DOMException).name);
  });

  it('keeps a given reason as it is', () => {
    const c = new Cancellation();
    const reason = new Error('deadline');
    c.abort(reason);
    expect(c.reason).toBe(reason);
  });

  it('aborts once: later calls change neither the reason nor call listeners again', () => {
    const c = new Cancellation();
    const listener = vi.fn();
    c.on('abort', listener);
    const first = new Error('first');
    c.abort(first);
    c.abort(new Error('second'));
    c.abort();
    expect(c.reason).toBe(first);
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it('runs listeners synchronously, in the order they were added, with the reason already set', () => {
    const c = new Cancellation();
    const seen: string[] = [];
    const reason = new Error('why');
    c.on('abort', () => seen.push(`a:${c.aborted}:${c.reason === reason}`));
    c.once('abort', () => seen.push('b'));
    c.on('abort', () => seen.push('c'));
    c.once('abort', () => seen.push('d'));
    c.abort(reason);
    expect(seen).toEqual(['a:true:true', 'b', 'c', 'd']);
  });

  it('does not register a listener once aborted (it would never run)', () => {
    const c = new Cancellation();
    c.abort();
    const listener = vi.fn();
    expect(c.on('abort', listener)).toBe(c);
    expect(c.once('abort', listener)).toBe(c);
    c.abort();
    expect(listener).not.toHaveBeenCalled();
  });

  it('on/once/removeListener/off return the token, for chaining', () => {
    const c = new Cancellation();
    const l = () => {};
    expect(c.on('abort', l)).toBe(c);
    expect(c.once('abort', l)).toBe(c);
    expect(c.removeListener('abort', l)).toBe(c);
    expect(c.off('abort', l)).toBe(c);
  });
});

describe('Cancellation listeners', () => {
  it('removeListener and off unhook a listener', () => {
    const c = new Cancellation();
    const a = vi.fn();
    const b = vi.fn();
    const kept = vi.fn();
    c.on('abort', a).on('abort', b).on('abort', kept);
    c.removeListener('abort', a);
    c.off('abort', b);
    c.abort();
    expect(a).not.toHaveBeenCalled();
    expect(b).not.toHaveBeenCalled();
    expect(kept).toHaveBeenCalledTimes(1);
  });

  it('removing the first listener promotes the next, keeping the order of the rest', () => {
    const c = new Cancellation();
    const seen: string[] = [];
    const first = () => seen.push('first');
    c.on('abort', first);
    c.on('abort', () => seen.push('second'));
    c.on('abort', () => seen.push('third'));
    c.removeListener('abort', first);
    // The promoted listener is removable as the new first one.
    const fourth = () => seen.push('fourth');
    c.on('abort', fourth);
    c.abort();
    expect(seen).toEqual(['second', 'third', 'fourth']);
  });

  it('the promoted first listener can itself be removed', () => {
    const c = new Cancellation();
    const seen: string[] = [];
    const first = () => seen.push('first');
    const second = () => seen.push('second');
    c.on('abort', first)
      .on('abort', second)
      .on('abort', () => seen.push('third'));
    c.removeListener('abort', first);
    c.removeListener('abort', second);
    c.abort();
    expect(seen).toEqual(['third']);
  });

  it('removing a listener from the middle keeps the others in order', () => {
    const c = new Cancellation();
    const seen: string[] = [];
    const middle = () => seen.push('middle');
    c.on('abort', () => seen.push('a'))
      .on('abort', middle)
      .on('abort', () => seen.push('z'));
    c.off('abort', middle);
    c.abort();
    expect(seen).toEqual(['a', 'z']);
  });

  it('removing the only listener leaves none; a new one becomes first', () => {
    const c = new Cancellation();
    const gone = vi.fn();
    const added = vi.fn();
    c.on('abort', gone);
    c.removeListener('abort', gone);
    c.on('abort', added);
    c.abort();
    expect(gone).not.toHaveBeenCalled();
    expect(added).toHaveBeenCalledTimes(1);
  });

  it('removing a listener that was never added changes nothing', () => {
    const c = new Cancellation();
    const a = vi.fn();
    const b = vi.fn();
    c.on('abort', a).on('abort', b);
    c.removeListener('abort', () => {});
    c.abort();
    expect(a).toHaveBeenCalledTimes(1);
    expect(b).toHaveBeenCalledTimes(1);
  });
});

describe('sleepUnless', () => {
  it('resolves after the delay when nothing aborts', async () => {
    const c = new Cancellation();
    const started = Date.now();
    await expect(sleepUnless(30, c)).resolves.toBeUndefined();
    // Timers may fire a millisecond early on some platforms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
    expect(c.aborted).toBe(false);
  });

  it('unhooks its listener once the delay passes', async () => {
    const c = new Cancellation();
    const once = vi.spyOn(c, 'once');
    const removeListener = vi.spyOn(c, 'removeListener');
    await sleepUnless(1, c);
    expect(once).toHaveBeenCalledTimes(1);
    const hooked = once.mock.calls[0]?.[1];
    expect(removeListener).toHaveBeenCalledWith('abort', hooked);
  });

  it('rejects with the reason as soon as the token aborts', async () => {
    vi.useFakeTimers();
    try {
      const c = new Cancellation();
      const reason = new Error('stop');
      const sleeping = sleepUnless(60_000, c);
      c.abort(reason);
      await expect(sleeping).rejects.toBe(reason);
      // The timer was cleared: nothing left to fire.
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('rejects at once when the token is already aborted', async () => {
    vi.useFakeTimers();
    try {
      const c = new Cancellation();
      c.abort();
      await expect(sleepUnless(60_000, c)).rejects.toMatchObject({ name: 'AbortError' });
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('undici takes a Cancellation as a request signal', () => {
  let server: Server;
  let origin: string;
  const sockets = new Set<Socket>();
  const arrived: IncomingMessage[] = [];
  let onArrival: (() => void) | null = null;

  beforeAll(async () => {
    // Never answers: only an abort can end a request.
    server = createServer((req) => {
      arrived.push(req);
      onArrival?.();
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const isAbort = (err: unknown) => {
    const e = err as { name?: string; code?: string };
    return e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED';
  };

  it('aborting the token ends an in-flight request', async () => {
    const pool = new Pool(origin);
    try {
      const cancellation = new Cancellation();
      const reachedServer = new Promise<void>((resolve) => {
        onArrival = resolve;
      });
      const before = arrived.length;
      // biome-ignore lint/suspicious/noExplicitAny: undici types the signal as AbortSignal | EventEmitter
      const pending = pool.request({ method: 'GET', path: '/', signal: cancellation as any });
      const outcome = pending.then(
        () => 'resolved',
        (err: unknown) => err,
      );
      await reachedServer;
      expect(arrived.length).toBe(before + 1);
      cancellation.abort();
      const err = await outcome;
      expect(err).not.toBe('resolved');
      expect(isAbort(err)).toBe(true);
    } finally {
      onArrival = null;
      await pool.destroy();
    }
  }, 10_000);

  it('a token aborted before the request makes it reject at once, without a request sent', async () => {
    const pool = new Pool(origin);
    try {
      const cancellation = new Cancellation();
      const reason = new Error('already gone');
      cancellation.abort(reason);
      const before = arrived.length;
      // biome-ignore lint/suspicious/noExplicitAny: undici types the signal as AbortSignal | EventEmitter
      const err = await pool.request({ method: 'GET', path: '/', signal: cancellation as any }).then(
        () => 'resolved',
        (e: unknown) => e,
      );
      expect(err).toBe(reason);
      expect(arrived.length).toBe(before);
    } finally {
      await pool.destroy();
    }
  }, 10_000);

  it('with the default reason, an aborted-early request rejects with an AbortError', async () => {
    const pool = new Pool(origin);
    try {
      const cancellation = new Cancellation();
      cancellation.abort();
      // biome-ignore lint/suspicious/noExplicitAny: undici types the signal as AbortSignal | EventEmitter
      const err = await pool.request({ method: 'GET', path: '/', signal: cancellation as any }).then(
        () => 'resolved',
        (e: unknown) => e,
      );
      expect(isAbort(err)).toBe(true);
    } finally {
      await pool.destroy();
    }
  }, 10_000);
});
