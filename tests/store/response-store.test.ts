/**
 * The behaviour every ResponseStore backend shares, run against memory, SQLite (a temp file) and a
 * real Redis (a namespace unique to this run, wiped afterwards). Time: memory and SQLite take a fake
 * clock; Redis expires keys itself, so its TTL test waits for a short real TTL.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory-store.js';
import { RedisStore } from '../../src/store/redis-store.js';
import {
  type ResponseStore,
  type StoredResponse,
  StoreEntryTooLargeError,
} from '../../src/store/response-store.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import {
  continuation,
  entryBytes,
  makeEntry,
  outputItems,
  REDIS_URL,
  redisKeys,
  redisTestPrefix,
  sleep,
  userMessage,
  wipeRedisPrefix,
} from './helpers.js';

interface OpenOptions {
  ttlMs?: number;
  maxResponseBytes?: number;
}

interface Backend {
  name: string;
  /** A fresh, empty location (file, namespace) for the next test. */
  reset(): void;
  open(options?: OpenOptions): ResponseStore;
  /** A second instance on the location of the last `open`: another replica, or a restart. */
  reopen?: (options?: OpenOptions) => ResponseStore;
  /** The TTL the expiry test uses. */
  shortTtlMs: number;
  /** Lets time pass to just before `shortTtlMs` (fake clocks only). */
  almostExpire?: () => void;
  /** Lets time pass beyond `shortTtlMs`. */
  expire(): Promise<void>;
  cleanup(): Promise<void>;
}

const LONG_TTL = 60 * 60_000;
const MAX_RESPONSE_BYTES = 1024 * 1024;

/** A clock the memory and SQLite stores read; tests move it. */
function fakeClock() {
  const clock = { t: 1_700_000_000_000, now: () => clock.t };
  return clock;
}

function memoryBackend(): Backend {
  const clock = fakeClock();
  const shortTtlMs = 60_000;
  return {
    name: 'memory',
    reset: () => {},
    open: (o = {}) =>
      new MemoryStore(
        {
          ttlMs: o.ttlMs ?? LONG_TTL,
          maxEntries: 1000,
          maxBytes: 64 * 1024 * 1024,
          maxResponseBytes: o.maxResponseBytes ?? MAX_RESPONSE_BYTES,
        },
        clock.now,
      ),
    shortTtlMs,
    almostExpire: () => {
      clock.t += shortTtlMs - 1;
    },
    expire: async () => {
      clock.t += shortTtlMs + 1;
    },
    cleanup: async () => {},
  };
}

function sqliteBackend(): Backend {
  const clock = fakeClock();
  const shortTtlMs = 60_000;
  const dir = mkdtempSync(join(tmpdir(), 'llm-proxy-store-'));
  let n = 0;
  let path = '';
  const open = (o: OpenOptions = {}) =>
    new SqliteStore(
      { path, ttlMs: o.ttlMs ?? LONG_TTL, maxResponseBytes: o.maxResponseBytes ?? MAX_RESPONSE_BYTES },
      clock.now,
    );
  return {
    name: 'sqlite',
    reset: () => {
      path = join(dir, `store-${++n}.sqlite`);
    },
    open,
    reopen: open,
    shortTtlMs,
    almostExpire: () => {
      clock.t += shortTtlMs - 1;
    },
    expire: async () => {
      clock.t += shortTtlMs + 1;
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

function redisBackend(): Backend {
  const prefix = redisTestPrefix();
  const shortTtlMs = 300;
  const open = (o: OpenOptions = {}) =>
    new RedisStore({
      url: REDIS_URL,
      keyPrefix: prefix,
      ttlMs: o.ttlMs ?? LONG_TTL,
      maxResponseBytes: o.maxResponseBytes ?? MAX_RESPONSE_BYTES,
      commandTimeoutMs: 5_000,
    });
  return {
    name: 'redis',
    // Response and item ids are random, so tests share the run's namespace.
    reset: () => {},
    open,
    reopen: open,
    shortTtlMs,
    expire: () => sleep(2 * shortTtlMs),
    cleanup: async () => {
      await wipeRedisPrefix(prefix);
      expect((await redisKeys(prefix)).size).toBe(0);
    },
  };
}

describe.each([
  ['memory', memoryBackend],
  ['sqlite', sqliteBackend],
  ['redis', redisBackend],
])('%s store', (_name, makeBackend) => {
  const backend = makeBackend();
  const opened: ResponseStore[] = [];
  const open = (o?: OpenOptions) => {
    const store = backend.open(o);
    opened.push(store);
    return store;
  };
  const reopen = (o?: OpenOptions) => {
    if (!backend.reopen) throw new Error(`${backend.name} has no second instance`);
    const store = backend.reopen(o);
    opened.push(store);
    return store;
  };
  let store: ResponseStore;

  beforeEach(() => {
    backend.reset();
    store = open();
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
  });
  afterAll(() => backend.cleanup());

  it('names its backend', () => {
    expect(store.kind).toBe(backend.name);
  });

  it('returns an equal entry after put, as a copy', async () => {
    const entry = makeEntry();
    await store.put(entry);
    const got = await store.get(entry.response.id);
    expect(got).toEqual(entry);
    expect(got).not.toBe(entry);
    // Changing what was returned does not change what is stored.
    (got as StoredResponse).inputItems.length = 0;
    expect(await store.get(entry.response.id)).toEqual(entry);
  });

  it('returns null for an unknown id', async () => {
    expect(await store.get('resp_doesnotexist')).toBeNull();
  });

  it('overwrites an entry with the same response id, items included', async () => {
    const first = makeEntry({ text: 'first' });
    const second = makeEntry({ id: first.response.id, text: 'second' });
    await store.put(first);
    await store.put(second);
    expect(await store.get(first.response.id)).toEqual(second);
    for (const item of [...second.inputItems, ...outputItems(second)]) {
      expect(await store.getItem(item.id)).toEqual(item);
    }
    // The first version's items went with it.
    for (const item of [...first.inputItems, ...outputItems(first)]) {
      expect(await store.getItem(item.id)).toBeNull();
    }
  });

  it('deletes: true once, then false; the entry is gone', async () => {
    const entry = makeEntry();
    await store.put(entry);
    expect(await store.delete(entry.response.id)).toBe(true);
    expect(await store.get(entry.response.id)).toBeNull();
    expect(await store.delete(entry.response.id)).toBe(false);
    expect(await store.delete('resp_doesnotexist')).toBe(false);
  });

  it('finds input and output items by id', async () => {
    const entry = makeEntry();
    await store.put(entry);
    expect(entry.inputItems).toHaveLength(2);
    expect(outputItems(entry)).toHaveLength(3);
    for (const item of [...entry.inputItems, ...outputItems(entry)]) {
      expect(await store.getItem(item.id)).toEqual(item);
    }
    expect(await store.getItem('msg_doesnotexist')).toBeNull();
  });

  it('makes the items of a deleted response unfindable', async () => {
    const entry = makeEntry();
    const other = makeEntry();
    await store.put(entry);
    await store.put(other);
    await store.delete(entry.response.id);
    for (const item of [...entry.inputItems, ...outputItems(entry)]) {
      expect(await store.getItem(item.id)).toBeNull();
    }
    // Only that response's items.
    expect(await store.getItem(outputItems(other)[1]?.id ?? '')).toEqual(outputItems(other)[1]);
  });

  it.each([
    ['the newer', 'continuation'],
    ['the older', 'previous'],
  ] as const)('keeps an item two responses hold findable when %s one is deleted', async (_, deleted) => {
    // A continued conversation stores the previous turn's items again under the new response.
    const previous = makeEntry();
    const next = continuation(previous, userMessage('and tomorrow?'));
    await store.put(previous);
    await store.put(next);
    const shared = [...previous.inputItems, ...outputItems(previous)];
    const gone = deleted === 'previous' ? previous : next;
    const kept = deleted === 'previous' ? next : previous;
    expect(await store.delete(gone.response.id)).toBe(true);
    for (const item of shared) expect(await store.getItem(item.id)).toEqual(item);
    expect(await store.delete(kept.response.id)).toBe(true);
    for (const item of shared) expect(await store.getItem(item.id)).toBeNull();
  });

  it('expires entries and their items after the TTL', async () => {
    const ttlStore = open({ ttlMs: backend.shortTtlMs });
    const entry = makeEntry();
    await ttlStore.put(entry);
    const item = outputItems(entry)[1];
    expect(item).toBeDefined();
    expect(await ttlStore.get(entry.response.id)).toEqual(entry);
    if (backend.almostExpire) {
      backend.almostExpire();
      expect(await ttlStore.get(entry.response.id)).toEqual(entry);
      expect(await ttlStore.getItem(item?.id ?? '')).toEqual(item);
    }
    await backend.expire();
    expect(await ttlStore.get(entry.response.id)).toBeNull();
    expect(await ttlStore.getItem(item?.id ?? '')).toBeNull();
    expect(await ttlStore.getItem(entry.inputItems[0]?.id ?? '')).toBeNull();
    expect(await ttlStore.delete(entry.response.id)).toBe(false);
  });

  it('rejects an entry over max_response_bytes and writes nothing', async () => {
    const limit = 4096;
    const capped = open({ maxResponseBytes: limit });
    const small = makeEntry();
    expect(entryBytes(small)).toBeLessThan(limit);
    await capped.put(small);

    const big = makeEntry({ padding: limit });
    const size = entryBytes(big);
    const err = await capped.put(big).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreEntryTooLargeError);
    expect(err).toMatchObject({ status: 413, bytes: size, limit, code: 'response_too_large_to_store' });
    expect(await capped.get(big.response.id)).toBeNull();
    for (const item of [...big.inputItems, ...outputItems(big)]) {
      expect(await capped.getItem(item.id)).toBeNull();
    }

    // A too-large overwrite leaves the stored version alone.
    const bigOverwrite = makeEntry({ id: small.response.id, padding: limit });
    await expect(capped.put(bigOverwrite)).rejects.toBeInstanceOf(StoreEntryTooLargeError);
    expect(await capped.get(small.response.id)).toEqual(small);
  });

  it('counts the limit in UTF-8 bytes, not characters', async () => {
    const limit = 4096;
    const capped = open({ maxResponseBytes: limit });
    const base = entryBytes(makeEntry({ text: '' }));
    // Fewer characters than the limit, more bytes (each € is 3 bytes).
    const entry = makeEntry({ text: '€'.repeat(Math.ceil((limit - base) / 2)) });
    expect(JSON.stringify(entry).length).toBeLessThanOrEqual(limit);
    expect(entryBytes(entry)).toBeGreaterThan(limit);
    await expect(capped.put(entry)).rejects.toBeInstanceOf(StoreEntryTooLargeError);
  });

  it('pings, and closes more than once', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
    await store.close();
    await expect(store.close()).resolves.toBeUndefined();
  });

  it.runIf(backend.reopen !== undefined)(
    'shares writes with a second instance at once (another replica, or a restart)',
    async () => {
      const other = reopen();
      const entry = makeEntry();
      await store.put(entry);
      expect(await other.get(entry.response.id)).toEqual(entry);
      expect(await other.getItem(entry.inputItems[0]?.id ?? '')).toEqual(entry.inputItems[0]);
      expect(await other.getItem(outputItems(entry)[2]?.id ?? '')).toEqual(outputItems(entry)[2]);

      // A continuation written by the other instance is visible to the first.
      const next = continuation(entry, userMessage('thanks'));
      await other.put(next);
      expect(await store.get(next.response.id)).toEqual(next);

      // A delete on one instance is seen by the other.
      expect(await other.delete(entry.response.id)).toBe(true);
      expect(await store.get(entry.response.id)).toBeNull();
      expect(await store.delete(entry.response.id)).toBe(false);

      // The first instance gone, a new one still finds what was written.
      await store.close();
      const restarted = reopen();
      expect(await restarted.get(next.response.id)).toEqual(next);
    },
  );
});
