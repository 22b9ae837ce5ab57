/** createStore: the backend `[store]` names, with its settings (Redis: see redis-store.test.ts). */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createStore } from '../../src/store/create-store.js';
import { StoreEntryTooLargeError } from '../../src/store/response-store.js';
import { makeEntry } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'llm-proxy-create-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('createStore', () => {
  it('builds a memory store with its bounds', async () => {
    const store = await createStore({
      backend: 'memory',
      ttlMs: 60_000,
      maxEntries: 1,
      maxBytes: 64 * 1024 * 1024,
      maxResponseBytes: 1024 * 1024,
    });
    expect(store.kind).toBe('memory');
    const [a, b] = [makeEntry(), makeEntry()];
    await store.put(a);
    await store.put(b);
    expect(await store.get(a.response.id)).toBeNull(); // max_entries = 1
    expect(await store.get(b.response.id)).toEqual(b);
    await store.close();
  });

  it('builds a SQLite store at the configured path, with its size cap', async () => {
    const path = join(dir, 'sub', 'store.sqlite');
    const store = await createStore({ backend: 'sqlite', path, ttlMs: 60_000, maxResponseBytes: 4096 });
    try {
      expect(store.kind).toBe('sqlite');
      expect(existsSync(path)).toBe(true);
      await expect(store.put(makeEntry({ padding: 4096 }))).rejects.toBeInstanceOf(StoreEntryTooLargeError);
      const entry = makeEntry();
      await store.put(entry);
      expect(await store.get(entry.response.id)).toEqual(entry);
    } finally {
      await store.close();
    }
  });
});
