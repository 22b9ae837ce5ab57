/**
 * UpstreamExchange, the dispatch handler and reply body of one upstream exchange, driven by a real
 * undici Pool against a real HTTP server on 127.0.0.1: whole bodies, capped bodies, chunk readers
 * that pause the socket, early stops, resets, aborts before and after the status.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool as UndiciPool } from 'undici';
import Pool from 'undici/lib/dispatcher/pool.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Cancellation } from '../../src/services/cancellation.js';
import { DeadlineWatchdog } from '../../src/services/deadline-watchdog.js';
import {
  type ExchangeTimeouts,
  FIRST_BYTE_TIMEOUT,
  IDLE_TIMEOUT,
  TOTAL_TIMEOUT,
  UpstreamExchange,
} from '../../src/services/upstream-exchange.js';
import { collected } from '../helpers/gc.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let handler: Handler;
let pool: UndiciPool;
/** Sockets the server saw close, so a test can tell the connection was dropped. */
let closed: number;

beforeEach(async () => {
  closed = 0;
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(req, res));
  });
  server.on('connection', (socket) => socket.on('close', () => closed++));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  pool = new Pool(`http://127.0.0.1:${port}`, { connections: 1 });
});

afterEach(async () => {
  await pool.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const identity = (err: unknown) => err as Error;

const LONG: ExchangeTimeouts = { firstByteMs: 60_000, idleMs: 60_000, totalMs: 60_000 };

/**
 * Starts an exchange on the pool, with its own watchdog: `counts.disarmed` is 1 once the exchange
 * no longer has a deadline watched (it ended, failed or was stopped).
 */
function start(cancellation = new Cancellation(), timeouts = LONG) {
  const watchdog = new DeadlineWatchdog(10);
  const exchange = new UpstreamExchange(cancellation, identity, watchdog, timeouts);
  const counts = {
    get disarmed() {
      return 1 - watchdog.watching;
    },
  };
  pool.dispatch({ method: 'POST', path: '/v1/chat/completions', body: '{}' }, exchange);
  return { exchange, counts, watchdog };
}

/** Writes `parts` one per tick, then ends. */
const inParts =
  (parts: string[], status = 200): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'text/plain' });
    let i = 0;
    const next = () => {
      if (i < parts.length) {
        res.write(parts[i++]);
        setTimeout(next, 2);
      } else res.end();
    };
    next();
  };

/** Writes 64 KiB chunks for as long as the client reads them, counting what was accepted. */
function endless(written: { bytes: number }): Handler {
  const chunk = Buffer.alloc(64 * 1024, 'x');
  return (_req, res) => {
    res.writeHead(200);
    const pump = () => {
      while (!res.destroyed) {
        written.bytes += chunk.length;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
    };
    pump();
  };
}

describe('UpstreamExchange: the status', () => {
  it('resolves `started` with the final status and headers, after an informational 1xx', async () => {
    handler = (_req, res) => {
      res.writeProcessing();
      res.writeHead(201, { 'x-test': 'yes' });
      res.end('done');
    };
    const { exchange } = start();
    const reply = await exchange.started;
    expect(reply.status).toBe(201);
    expect(reply.headers['x-test']).toBe('yes');
    expect(await reply.body.text()).toBe('done');
  });

  it('rejects `started` with the transport error when the server resets before answering', async () => {
    handler = (req) => req.socket.destroy();
    const { exchange, counts } = start();
    const err = (await exchange.started.catch((e: unknown) => e)) as { code?: string };
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toMatch(/^(ECONNRESET|UND_ERR_SOCKET)$/);
    expect(counts.disarmed).toBe(1);
  });

  it('a cancellation while the request waits in the pool rejects at once, and the request never runs', async () => {
    let served = 0;
    handler = (_req, res) => {
      served++;
      setTimeout(() => res.end('late'), 300);
    };
    const first = start();
    const cancellation = new Cancellation();
    const second = start(cancellation); // queued: the pool has one connection, busy with the first
    const reason = new Error('client gone');
    const t0 = performance.now();
    cancellation.abort(reason);
    expect(await second.exchange.started.catch((e: unknown) => e)).toBe(reason);
    expect(performance.now() - t0).toBeLessThan(100);
    expect(second.counts.disarmed).toBe(1);
    expect(await (await first.exchange.started).body.text()).toBe('late');
    await sleep(50);
    expect(served).toBe(1);
  });

  it('a cancellation while waiting for the status rejects with its reason and closes the connection', async () => {
    handler = () => {}; // never answers
    const cancellation = new Cancellation();
    const { exchange, counts } = start(cancellation);
    await sleep(50);
    const reason = new Error('client gone');
    cancellation.abort(reason);
    expect(await exchange.started.catch((e: unknown) => e)).toBe(reason);
    expect(exchange.reason).toBe(reason);
    expect(counts.disarmed).toBe(1);
    await expect.poll(() => closed).toBe(1);
  });
});

describe('UpstreamExchange: text()', () => {
  it('is the whole body, however it was split, and disarms once', async () => {
    const parts = ['{"a":', '"héllo', ' wörld"', '}'];
    handler = inParts(parts);
    const { exchange, counts } = start();
    const reply = await exchange.started;
    expect(await reply.body.text()).toBe(parts.join(''));
    expect(counts.disarmed).toBe(1);
  });

  it('a body that arrived whole before anyone reads it is disarmed already, and still readable', async () => {
    handler = (_req, res) => res.end('all of it');
    const { exchange, counts } = start();
    const reply = await exchange.started;
    await sleep(20);
    expect(counts.disarmed).toBe(1);
    expect(await reply.body.text()).toBe('all of it');
  });

  it('with a limit, reads only that many bytes of an endless body and drops the connection', async () => {
    const written = { bytes: 0 };
    handler = endless(written);
    const { exchange, counts } = start();
    const text = await (await exchange.started).body.text(100_000);
    expect(text).toBe('x'.repeat(100_000));
    expect(counts.disarmed).toBe(1);
    await expect.poll(() => closed).toBe(1);
  });

  it('a reset in the middle of the body rejects with the transport error', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('partial');
      setTimeout(() => res.socket?.destroy(), 20);
    };
    const { exchange } = start();
    const err = (await (await exchange.started).body.text().catch((e: unknown) => e)) as { code?: string };
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toMatch(/^(ECONNRESET|UND_ERR_SOCKET)$/);
  });

  it('a body is read once', async () => {
    handler = (_req, res) => res.end('once');
    const { exchange } = start();
    const reply = await exchange.started;
    expect(await reply.body.text()).toBe('once');
    await expect(reply.body.text()).rejects.toThrow('already read');
  });
});

describe('UpstreamExchange: consume()', () => {
  it('gives every chunk in order; a pending reader gets nothing more until it settles', async () => {
    const parts = Array.from({ length: 30 }, (_, i) => `part ${i};`);
    handler = inParts(parts);
    const { exchange } = start();
    const reply = await exchange.started;
    let busy = false;
    let text = '';
    let reads = 0;
    await reply.body.consume((chunks) => {
      expect(busy).toBe(false);
      expect(chunks.length).toBeGreaterThan(0);
      for (const chunk of chunks) text += chunk.toString('utf8');
      // Every other read is slow.
      if (reads++ % 2 === 0) return undefined;
      busy = true;
      return sleep(5).then(() => {
        busy = false;
      });
    });
    expect(text).toBe(parts.join(''));
  });

  it('the HTTP chunks of one socket read reach the reader in one call', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      // Corked: five chunked-encoding chunks leave in one write, so they arrive in one read.
      res.socket?.cork();
      for (let i = 0; i < 5; i++) res.write(`data: ${i}\n\n`);
      res.socket?.uncork();
      setTimeout(() => res.end(), 20);
    };
    const { exchange } = start();
    const reply = await exchange.started;
    const calls: string[][] = [];
    await reply.body.consume((chunks) => {
      calls.push(chunks.map((c) => c.toString('utf8')));
      return undefined;
    });
    expect(calls[0]).toEqual(['data: 0\n\n', 'data: 1\n\n', 'data: 2\n\n', 'data: 3\n\n', 'data: 4\n\n']);
  });

  it('a stalled reader pauses the socket: the server cannot write the whole body', async () => {
    const written = { bytes: 0 };
    handler = endless(written);
    const { exchange } = start();
    const reply = await exchange.started;
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => {
      release = resolve;
    });
    let reads = 0;
    const reading = reply.body.consume(() => {
      reads++;
      return reads === 1 ? stalled : undefined;
    });
    await sleep(300);
    const whileStalled = written.bytes;
    await sleep(300);
    // Nothing more was accepted while the reader stalled: only what the socket buffers hold.
    expect(written.bytes).toBe(whileStalled);
    expect(whileStalled).toBeLessThan(64 * 1024 * 1024);
    expect(reads).toBe(1);
    release();
    await expect.poll(() => reads, { timeout: 2_000 }).toBeGreaterThan(10);
    reply.body.destroy();
    await reading;
  });

  it('destroy() from the reader ends consume and drops the connection', async () => {
    const written = { bytes: 0 };
    handler = endless(written);
    const { exchange, counts } = start();
    const reply = await exchange.started;
    let reads = 0;
    await reply.body.consume(() => {
      if (++reads === 3) reply.body.destroy();
      return undefined;
    });
    expect(reads).toBe(3);
    expect(counts.disarmed).toBe(1);
    await expect.poll(() => closed).toBe(1);
  });

  it('a reader that throws rejects consume with its error and drops the connection', async () => {
    const written = { bytes: 0 };
    handler = endless(written);
    const { exchange } = start();
    const reply = await exchange.started;
    const bug = new Error('translator bug');
    await expect(
      reply.body.consume(() => {
        throw bug;
      }),
    ).rejects.toBe(bug);
    await expect.poll(() => closed).toBe(1);
  });

  it('chunks that arrived before the reader attached are given first', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('early ');
      setTimeout(() => res.end('late'), 50);
    };
    const { exchange } = start();
    const reply = await exchange.started;
    await sleep(20);
    let text = '';
    await reply.body.consume((chunks) => {
      for (const chunk of chunks) text += chunk.toString('utf8');
      return undefined;
    });
    expect(text).toBe('early late');
  });

  it('a cancellation in the middle of the body rejects consume with its reason', async () => {
    const written = { bytes: 0 };
    handler = endless(written);
    const cancellation = new Cancellation();
    const { exchange, counts } = start(cancellation);
    const reply = await exchange.started;
    const reason = new Error('client gone');
    let reads = 0;
    const reading = reply.body.consume(() => {
      if (++reads === 2) cancellation.abort(reason);
      return undefined;
    });
    await expect(reading).rejects.toBe(reason);
    expect(counts.disarmed).toBe(1);
  });
});

describe('UpstreamExchange: timeouts (undici has its own turned off; the watchdog keeps these)', () => {
  const ms = (t0: number) => performance.now() - t0;
  /** Writes a chunk every `gapMs` for `count` chunks (then ends), or forever when count is 0. */
  const dripping =
    (gapMs: number, count = 0): Handler =>
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let sent = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer);
        res.write(`data: ${sent}\n\n`);
        if (++sent === count) {
          clearInterval(timer);
          res.end();
        }
      }, gapMs);
    };
  const readAll = (exchange: UpstreamExchange) => {
    const parts: string[] = [];
    return exchange
      .consume((chunks) => {
        parts.push(Buffer.concat(chunks).toString());
        return undefined;
      })
      .then(() => parts.join(''));
  };

  it('no status within first_byte: rejects with the first-byte reason and closes the connection', async () => {
    handler = () => {}; // never answers
    const t0 = performance.now();
    const { exchange, counts } = start(undefined, { ...LONG, firstByteMs: 120 });
    expect(await exchange.started.catch((e: unknown) => e)).toBe(FIRST_BYTE_TIMEOUT);
    expect(ms(t0)).toBeGreaterThanOrEqual(119);
    expect(ms(t0)).toBeLessThan(1_000);
    expect(counts.disarmed).toBe(1);
    await expect.poll(() => closed).toBe(1);
  });

  it('the wait for a free connection does not count towards first_byte, only towards total', async () => {
    let served = 0;
    handler = (_req, res) => {
      // The first request holds the pool's only connection for 300 ms; the second is answered at once.
      if (served++ === 0) setTimeout(() => res.end('first'), 300);
      else res.end('second');
    };
    const first = start();
    const second = start(undefined, { ...LONG, firstByteMs: 150 });
    const [a, b] = await Promise.all([first.exchange.started, second.exchange.started]);
    expect(await a.body.text()).toBe('first');
    expect(await b.body.text()).toBe('second');
    expect(second.watchdog.watching).toBe(0);
  });

  it('a body that stalls for idle: the body rejects with the idle reason', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n'); // then nothing
    };
    const { exchange, counts } = start(undefined, { ...LONG, idleMs: 150 });
    await exchange.started;
    const t0 = performance.now();
    expect(await readAll(exchange).catch((e: unknown) => e)).toBe(IDLE_TIMEOUT);
    expect(ms(t0)).toBeGreaterThanOrEqual(140);
    expect(ms(t0)).toBeLessThan(1_000);
    expect(counts.disarmed).toBe(1);
    await expect.poll(() => closed).toBe(1);
  });

  it('chunks closer together than idle keep a body alive for many times idle', async () => {
    handler = dripping(30, 15); // 450 ms of body, a chunk every 30 ms
    const { exchange, counts } = start(undefined, { ...LONG, idleMs: 120 });
    await exchange.started;
    expect(await readAll(exchange)).toBe(Array.from({ length: 15 }, (_, i) => `data: ${i}\n\n`).join(''));
    expect(counts.disarmed).toBe(1);
  });

  it('a reader that keeps the socket paused for longer than idle is not an idle upstream', async () => {
    handler = dripping(10, 5);
    const { exchange } = start(undefined, { ...LONG, idleMs: 100 });
    await exchange.started;
    const parts: string[] = [];
    await exchange.consume((chunks) => {
      parts.push(Buffer.concat(chunks).toString());
      // The first read keeps the upstream paused for 3x idle (a slow client).
      return parts.length === 1 ? sleep(300) : undefined;
    });
    expect(parts.join('')).toBe(Array.from({ length: 5 }, (_, i) => `data: ${i}\n\n`).join(''));
  });

  it('total: a body that never stalls still ends at the total deadline', async () => {
    handler = dripping(20); // forever
    const t0 = performance.now();
    const { exchange, counts } = start(undefined, { ...LONG, idleMs: 100, totalMs: 300 });
    await exchange.started;
    expect(await readAll(exchange).catch((e: unknown) => e)).toBe(TOTAL_TIMEOUT);
    expect(ms(t0)).toBeGreaterThanOrEqual(299);
    expect(ms(t0)).toBeLessThan(1_500);
    expect(counts.disarmed).toBe(1);
  });
});

describe('UpstreamExchange: memory', () => {
  it("drops undici's raw header list, views of the socket read that can hold the whole body", async () => {
    const seen: { before?: unknown; after?: unknown } = {};
    class Watched extends UpstreamExchange {
      override onResponseStart(controller: never, status: number, headers: never): void {
        seen.before = (controller as { rawHeaders?: unknown }).rawHeaders;
        super.onResponseStart(controller, status, headers);
        seen.after = (controller as { rawHeaders?: unknown }).rawHeaders;
      }
    }
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {}\n\n');
    };
    const exchange = new Watched(new Cancellation(), identity, new DeadlineWatchdog(10), LONG);
    pool.dispatch({ method: 'POST', path: '/v1/chat/completions', body: '{}' }, exchange);
    await exchange.started;
    // undici (7.x) keeps the list on its adapter for this handler API: if that changes, so must this.
    expect(Array.isArray(seen.before) && Buffer.isBuffer(seen.before[0])).toBe(true);
    expect(seen.after).toBeNull();
    expect(exchange.headers['content-type']).toBe('text/event-stream');
    const body: string[] = [];
    await exchange.consume((chunks) => {
      body.push(Buffer.concat(chunks).toString());
      return undefined;
    });
    expect(body.join('')).toBe('data: {}\n\n');
  });

  it('the memory of the read that brought the headers is freed while the exchange lives on', async () => {
    handler = inParts(['first chunk', 'second chunk']);
    const { exchange } = start();
    await exchange.started;
    // The status line, the headers and the first chunk come in one socket read: one ArrayBuffer.
    let ref: WeakRef<ArrayBuffer> | undefined;
    await exchange.consume((chunks) => {
      ref ??= new WeakRef((chunks[0] as Buffer).buffer as ArrayBuffer);
      return undefined;
    });
    expect(await collected(ref as WeakRef<ArrayBuffer>)).toBe(true);
    expect(exchange.status).toBe(200);
  });
});
