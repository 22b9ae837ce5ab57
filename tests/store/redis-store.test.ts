/**
 * RedisStore only: its key layout and TTLs on a real Redis (a namespace unique to this run, wiped
 * afterwards), and failing fast, as StoreUnavailableError, when Redis cannot be reached.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createStore } from '../../src/store/create-store.js';
import { RedisStore } from '../../src/store/redis-store.js';
import { type ResponseStore, StoreUnavailableError } from '../../src/store/response-store.js';
import {
  makeEntry,
  outputItems,
  REDIS_URL,
  redisKeys,
  redisTestPrefix,
  sleep,
  wipeRedisPrefix,
} from './helpers.js';

const prefix = redisTestPrefix();
const TTL = 3_600_000;
const CLOSED = 'redis://127.0.0.1:1';

const opened: ResponseStore[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});
afterAll(async () => {
  await wipeRedisPrefix(prefix);
  expect((await redisKeys(prefix)).size).toBe(0);
});

function redis(url = REDIS_URL, commandTimeoutMs?: number): RedisStore {
  const store = new RedisStore({
    url,
    keyPrefix: prefix,
    ttlMs: TTL,
    maxResponseBytes: 1024 * 1024,
    ...(commandTimeoutMs === undefined ? {} : { commandTimeoutMs }),
  });
  opened.push(store);
  return store;
}

async function rejectsUnavailable(p: Promise<unknown>): Promise<StoreUnavailableError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreUnavailableError);
  return err as StoreUnavailableError;
}

describe('RedisStore on a real Redis', () => {
  it('writes resp:<id> and item:<id> under the prefix, every key with the TTL', async () => {
    const store = redis();
    const entry = makeEntry();
    await store.put(entry);
    const keys = await redisKeys(prefix);
    const respKey = `${prefix}resp:${entry.response.id}`;
    expect(keys.has(respKey)).toBe(true);
    for (const item of [...entry.inputItems, ...outputItems(entry)]) {
      expect(keys.has(`${prefix}item:${item.id}`)).toBe(true);
    }
    for (const [key, pttl] of keys) {
      expect(pttl, key).toBeGreaterThan(TTL - 60_000);
      expect(pttl, key).toBeLessThanOrEqual(TTL);
    }
  });

  it('leaves no item keys behind after a delete', async () => {
    const store = redis();
    const entry = makeEntry();
    await store.put(entry);
    await store.delete(entry.response.id);
    const ids = [
      entry.response.id,
      ...entry.inputItems.map((i) => i.id),
      ...outputItems(entry).map((i) => i.id),
    ];
    const keys = [...(await redisKeys(prefix)).keys()];
    for (const id of ids) expect(keys.filter((k) => k.endsWith(`:${id}`))).toEqual([]);
  });

  it('is what createStore builds for backend = "redis"', async () => {
    const store = await createStore({
      backend: 'redis',
      url: REDIS_URL,
      keyPrefix: prefix,
      ttlMs: TTL,
      maxResponseBytes: 1024 * 1024,
    });
    opened.push(store);
    expect(store.kind).toBe('redis');
    const entry = makeEntry();
    await store.put(entry);
    expect(await redis().get(entry.response.id)).toEqual(entry);
  });

  it('rejects with StoreUnavailableError after close, without reconnecting', async () => {
    const store = redis();
    await store.ping();
    await store.close();
    await rejectsUnavailable(store.get('resp_x'));
    await rejectsUnavailable(store.ping());
    await store.close();
  });
});

describe('RedisStore when Redis cannot be reached', () => {
  it('rejects every operation with StoreUnavailableError, quickly', async () => {
    const store = redis(CLOSED, 300);
    const started = Date.now();
    const err = await rejectsUnavailable(store.ping());
    expect(err).toMatchObject({ status: 503, code: 'store_unavailable' });
    expect(err.message).toMatch(/127\.0\.0\.1:1\b.*ECONNREFUSED/);
    await rejectsUnavailable(store.get('resp_x'));
    await rejectsUnavailable(store.put(makeEntry()));
    await rejectsUnavailable(store.delete('resp_x'));
    await rejectsUnavailable(store.getItem('msg_x'));
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('fails within the default wait (no commandTimeoutMs given)', async () => {
    const store = redis(CLOSED);
    const started = Date.now();
    await rejectsUnavailable(store.get('resp_x'));
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('rejects concurrent operations too, and closes promptly', async () => {
    const store = redis(CLOSED, 300);
    const errs = await Promise.all(Array.from({ length: 20 }, () => rejectsUnavailable(store.get('resp_x'))));
    expect(errs).toHaveLength(20);
    const started = Date.now();
    await store.close();
    await store.close();
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('does not put credentials of the URL in its messages', async () => {
    const store = redis('redis://user:s3cret-pw@127.0.0.1:1', 200);
    const err = await rejectsUnavailable(store.ping());
    expect(err.message).not.toContain('s3cret-pw');
  });
});

/** A TCP relay to the real Redis that can be cut (an outage) and restored on the same port. */
class Relay {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async start(): Promise<void> {
    const target = new URL(REDIS_URL);
    const server = createServer((client) => {
      const upstream = createConnection(Number(target.port || 6379), target.hostname);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('RedisStore through an outage', () => {
  it('fails during the outage and works again once Redis is back', async () => {
    const relay = new Relay();
    await relay.start();
    try {
      const store = redis(`redis://127.0.0.1:${relay.port}`, 300);
      const entry = makeEntry();
      await store.put(entry);

      await relay.cut();
      await rejectsUnavailable(store.get(entry.response.id));
      await rejectsUnavailable(store.put(makeEntry()));

      await relay.start();
      const deadline = Date.now() + 15_000;
      let back = false;
      while (!back && Date.now() < deadline) {
        back = await store.ping().then(
          () => true,
          () => false,
        );
        if (!back) await sleep(100);
      }
      expect(back).toBe(true);
      expect(await store.get(entry.response.id)).toEqual(entry);
    } finally {
      await relay.cut();
    }
  });
});
