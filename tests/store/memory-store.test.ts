/** MemoryStore only: the LRU bounds (entry count and bytes) and what counts as a use. */
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { StoredResponse } from '../../src/store/response-store.js';
import { entryBytes, makeEntry, outputItems } from './helpers.js';

const HOUR = 3_600_000;

function memory(maxEntries: number, maxBytes = 64 * 1024 * 1024): MemoryStore {
  return new MemoryStore({ ttlMs: HOUR, maxEntries, maxBytes, maxResponseBytes: 1024 * 1024 });
}

async function present(store: MemoryStore, entries: Record<string, StoredResponse>): Promise<string[]> {
  const out: string[] = [];
  for (const [name, entry] of Object.entries(entries)) {
    if ((await store.getItem(entry.inputItems[0]?.id ?? '')) !== null) out.push(name);
  }
  return out;
}

describe('MemoryStore LRU eviction', () => {
  it('drops the least recently written entry beyond max_entries', async () => {
    const store = memory(3);
    const [a, b, c, d] = [makeEntry(), makeEntry(), makeEntry(), makeEntry()] as const;
    for (const e of [a, b, c, d]) await store.put(e);
    expect(await store.get(a.response.id)).toBeNull();
    expect(await present(store, { a, b, c, d })).toEqual(['b', 'c', 'd']);
    // The evicted entry's items went with it.
    expect(await store.getItem(outputItems(a)[1]?.id ?? '')).toBeNull();
  });

  it('counts a get as a use: the least recently used goes first', async () => {
    const store = memory(3);
    const [a, b, c, d] = [makeEntry(), makeEntry(), makeEntry(), makeEntry()] as const;
    for (const e of [a, b, c]) await store.put(e);
    expect(await store.get(a.response.id)).toEqual(a);
    await store.put(d);
    expect(await present(store, { a, b, c, d })).toEqual(['a', 'c', 'd']);
    expect(await store.get(b.response.id)).toBeNull();
  });

  it('counts rewriting an entry as a use', async () => {
    const store = memory(2);
    const [a, b, c] = [makeEntry(), makeEntry(), makeEntry()] as const;
    await store.put(a);
    await store.put(b);
    await store.put(a);
    await store.put(c);
    expect(await present(store, { a, b, c })).toEqual(['a', 'c']);
  });

  it('drops least recently used entries beyond max_bytes', async () => {
    const [a, b, c] = [
      makeEntry({ padding: 2000 }),
      makeEntry({ padding: 2000 }),
      makeEntry({ padding: 2000 }),
    ];
    const size = Math.max(entryBytes(a), entryBytes(b), entryBytes(c));
    // Room for two of them, not three.
    const store = memory(1000, 2 * size + 100);
    await store.put(a);
    await store.put(b);
    expect(await store.get(a.response.id)).toEqual(a); // a is now more recent than b
    await store.put(c);
    expect(await present(store, { a, b, c })).toEqual(['a', 'c']);
    expect(await store.get(b.response.id)).toBeNull();
  });

  it('evicts as many entries as a big write needs, and frees their bytes', async () => {
    const [s0, s1, s2, s3] = [makeEntry(), makeEntry(), makeEntry(), makeEntry()] as const;
    const big = makeEntry({ padding: 3 * entryBytes(s0) });
    const store = memory(1000, entryBytes(big) + entryBytes(s0) + 50);
    for (const e of [s0, s1, s2, s3]) await store.put(e);
    await store.put(big);
    expect(await store.get(big.response.id)).toEqual(big);
    expect(await present(store, { s0, s1, s2, s3 })).toEqual(['s3']);
    // The bytes of a deleted entry are free again: the four small ones fit once big is gone.
    await store.delete(big.response.id);
    for (const e of [s0, s1, s2]) await store.put(e);
    expect(await present(store, { s0, s1, s2, s3 })).toEqual(['s0', 's1', 's2', 's3']);
  });

  it('frees the room of expired entries', async () => {
    let now = 0;
    const store = new MemoryStore(
      { ttlMs: 1000, maxEntries: 2, maxBytes: 64 * 1024 * 1024, maxResponseBytes: 1024 * 1024 },
      () => now,
    );
    const [a, b, c] = [makeEntry(), makeEntry(), makeEntry()] as const;
    await store.put(a);
    await store.put(b);
    now = 2000; // both expired
    expect(await store.get(a.response.id)).toBeNull();
    expect(await store.delete(b.response.id)).toBe(false);
    await store.put(c);
    await store.put(a);
    expect(await present(store, { a, b, c })).toEqual(['a', 'c']);
  });
});
