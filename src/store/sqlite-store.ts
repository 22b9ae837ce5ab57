/**
 * The default store: an embedded SQLite file (better-sqlite3, WAL mode) that survives restarts.
 * Writes are synchronous and committed before `put` resolves, so a client that continues at once
 * always finds its response. Expired rows are skipped on read and swept on write.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  encodeEntry,
  itemsOf,
  type ResponseStore,
  type StoredItem,
  type StoredResponse,
  StoreUnavailableError,
} from './response-store.js';

export interface SqliteStoreOptions {
  path: string;
  ttlMs: number;
  maxResponseBytes: number;
}

type Db = InstanceType<typeof Database>;

export class SqliteStore implements ResponseStore {
  readonly kind = 'sqlite';
  private readonly db: Db;
  private readonly stmts: ReturnType<SqliteStore['prepare']>;
  private writes = 0;

  constructor(
    private readonly options: SqliteStoreOptions,
    private readonly now: () => number = Date.now,
  ) {
    let db: Db | undefined;
    try {
      if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
      db = new Database(options.path);
      this.db = db;
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS responses (
          id TEXT PRIMARY KEY,
          body TEXT NOT NULL,
          expires_at INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS items (
          id TEXT NOT NULL,
          response_id TEXT NOT NULL REFERENCES responses(id) ON DELETE CASCADE,
          body TEXT NOT NULL,
          PRIMARY KEY (id, response_id)
        );
        CREATE INDEX IF NOT EXISTS items_by_response ON items(response_id);
        CREATE INDEX IF NOT EXISTS responses_by_expiry ON responses(expires_at);
      `);
      this.db.pragma('foreign_keys = ON');
    } catch (err) {
      db?.close(); // e.g. opened, but not a database or read-only: do not leak the handle
      throw new StoreUnavailableError(
        `cannot open the SQLite store at ${options.path}: ${(err as Error).message}`,
      );
    }
    this.stmts = this.prepare();
  }

  private prepare() {
    const db = this.db;
    return {
      get: db.prepare<[string, number], { body: string }>(
        'SELECT body FROM responses WHERE id = ? AND expires_at > ?',
      ),
      put: db.prepare('INSERT OR REPLACE INTO responses (id, body, expires_at) VALUES (?, ?, ?)'),
      putItem: db.prepare('INSERT OR REPLACE INTO items (id, response_id, body) VALUES (?, ?, ?)'),
      deleteItems: db.prepare('DELETE FROM items WHERE response_id = ?'),
      delete: db.prepare('DELETE FROM responses WHERE id = ? AND expires_at > ?'),
      deleteAny: db.prepare('DELETE FROM responses WHERE id = ?'),
      getItem: db.prepare<[string, number], { body: string }>(
        `SELECT i.body FROM items i JOIN responses r ON r.id = i.response_id
         WHERE i.id = ? AND r.expires_at > ? ORDER BY r.expires_at DESC LIMIT 1`,
      ),
      sweep: db.prepare(
        'DELETE FROM responses WHERE id IN (SELECT id FROM responses WHERE expires_at <= ? LIMIT 500)',
      ),
      ping: db.prepare('SELECT 1'),
    };
  }

  async get(id: string): Promise<StoredResponse | null> {
    const row = this.run(() => this.stmts.get.get(id, this.now()));
    return row ? (JSON.parse(row.body) as StoredResponse) : null;
  }

  async put(entry: StoredResponse): Promise<void> {
    const json = encodeEntry(entry, this.options.maxResponseBytes);
    const id = entry.response.id;
    const now = this.now();
    this.run(
      this.db.transaction(() => {
        this.stmts.deleteItems.run(id);
        this.stmts.put.run(id, json, now + this.options.ttlMs);
        for (const item of itemsOf(entry)) this.stmts.putItem.run(item.id, id, JSON.stringify(item));
        // Sweep a little now and then instead of on a timer: no background work to stop.
        if (++this.writes % 100 === 0) this.stmts.sweep.run(now);
      }),
    );
  }

  async delete(id: string): Promise<boolean> {
    const now = this.now();
    return this.run(() => {
      const { changes } = this.stmts.delete.run(id, now);
      this.stmts.deleteAny.run(id);
      return changes > 0;
    });
  }

  async getItem(itemId: string): Promise<StoredItem | null> {
    const row = this.run(() => this.stmts.getItem.get(itemId, this.now()));
    return row ? (JSON.parse(row.body) as StoredItem) : null;
  }

  async ping(): Promise<void> {
    this.run(() => this.stmts.ping.get());
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private run<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw new StoreUnavailableError(`SQLite store: ${(err as Error).message}`);
    }
  }
}
