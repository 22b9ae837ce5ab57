/** SqliteStore only: the file it creates, WAL, restarts, sweeping, and the failures it reports. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/store/response-store.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { makeEntry, outputItems } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'llm-proxy-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const opened: SqliteStore[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

let n = 0;
const freshPath = () => join(dir, `db-${++n}`, 'store.sqlite');

function sqlite(path: string, now: () => number = Date.now, ttlMs = 3_600_000): SqliteStore {
  const store = new SqliteStore({ path, ttlMs, maxResponseBytes: 1024 * 1024 }, now);
  opened.push(store);
  return store;
}

/** Reads the file through a connection of its own. */
function inspect<T>(path: string, fn: (db: InstanceType<typeof Database>) => T): T {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function unavailable(fn: () => unknown): StoreUnavailableError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(StoreUnavailableError);
    return err as StoreUnavailableError;
  }
  throw new Error('expected a StoreUnavailableError');
}

describe('SqliteStore', () => {
  it('creates the parent directories of its path on first start', async () => {
    const path = join(dir, 'deep', 'er', 'than', 'before', 'store.sqlite');
    expect(existsSync(join(dir, 'deep'))).toBe(false);
    const store = sqlite(path);
    await store.put(makeEntry());
    expect(existsSync(path)).toBe(true);
  });

  it('uses WAL journaling', async () => {
    const path = freshPath();
    const store = sqlite(path);
    await store.put(makeEntry());
    expect(existsSync(`${path}-wal`)).toBe(true);
    expect(inspect(path, (db) => db.pragma('journal_mode', { simple: true }))).toBe('wal');
  });

  it('keeps entries across a restart', async () => {
    const path = freshPath();
    const first = sqlite(path);
    const entry = makeEntry();
    await first.put(entry);
    await first.close();
    const second = sqlite(path);
    expect(await second.get(entry.response.id)).toEqual(entry);
    expect(await second.getItem(outputItems(entry)[0]?.id ?? '')).toEqual(outputItems(entry)[0]);
  });

  it('keeps the TTL across a restart', async () => {
    const path = freshPath();
    let now = 1_000_000;
    const entry = makeEntry();
    await sqlite(path, () => now, 10_000).put(entry);
    now += 10_001;
    // A new instance with a longer TTL does not revive the expired entry.
    expect(await sqlite(path, () => now, 3_600_000).get(entry.response.id)).toBeNull();
  });

  it('sweeps expired rows on writes', async () => {
    const path = freshPath();
    let now = 1_000_000;
    const store = sqlite(path, () => now, 10_000);
    const expired = Array.from({ length: 5 }, () => makeEntry());
    for (const e of expired) await store.put(e);
    now += 20_000;
    const rows = () =>
      inspect(path, (db) => db.prepare('SELECT count(*) AS n FROM responses').get() as { n: number });
    const items = () =>
      inspect(path, (db) => db.prepare('SELECT count(*) AS n FROM items').get() as { n: number });
    expect(rows().n).toBe(5);
    for (let i = 0; i < 100; i++) await store.put(makeEntry({ inputItems: [] }));
    expect(rows().n).toBe(100);
    // Their items went with them (3 output items per live entry, no inputs).
    expect(items().n).toBe(300);
  });

  it('throws StoreUnavailableError for a path it cannot create', () => {
    // A regular file where a directory should be: fails even for root.
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, 'not a directory');
    const err = unavailable(() => sqlite(join(blocker, 'sub', 'store.sqlite')));
    expect(err).toMatchObject({ status: 503, code: 'store_unavailable' });
    expect(err.message).toContain(join(blocker, 'sub', 'store.sqlite'));
  });

  it('throws StoreUnavailableError for a file that is not a database', () => {
    const path = join(dir, 'garbage.sqlite');
    writeFileSync(path, 'x'.repeat(4096));
    unavailable(() => sqlite(path));
  });

  it('rejects with StoreUnavailableError after close', async () => {
    const store = sqlite(freshPath());
    const entry = makeEntry();
    await store.put(entry);
    await store.close();
    await expect(store.get(entry.response.id)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.put(makeEntry())).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.getItem('msg_x')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.delete(entry.response.id)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});
