/**
 * Redis store, for several proxy replicas sharing state. Keys (under a configurable prefix):
 * `resp:<id>` holds the entry; `item:<id>` is a sorted set of the ids of the responses that hold
 * the item (a continued conversation stores the previous turn's items again under the new
 * response), scored by their expiry so the most recent write wins. Both expire with the TTL.
 * A write is one MULTI/EXEC, acknowledged before `put` resolves, so a replica that serves the next
 * turn finds it.
 */
import { createClient } from '@redis/client';
import {
  encodeEntry,
  itemsOf,
  type ResponseStore,
  type StoredItem,
  type StoredResponse,
  StoreUnavailableError,
} from './response-store.js';

export interface RedisStoreOptions {
  url: string;
  keyPrefix: string;
  ttlMs: number;
  maxResponseBytes: number;
  /** How long a command may wait for a connection before failing (default 2 s). */
  commandTimeoutMs?: number;
}

export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 2_000;

type Client = ReturnType<typeof createClient>;

export class RedisStore implements ResponseStore {
  readonly kind = 'redis';
  private readonly client: Client;
  private closed = false;
  /** The client's latest connection error, to say why a command found no connection. */
  private lastError: string | null = null;
  /** Settles on the client's next 'ready' event; shared so waiters add one listener in all. */
  private readyEvent: Promise<void> | null = null;

  constructor(private readonly options: RedisStoreOptions) {
    this.client = createClient({
      url: options.url,
      socket: {
        connectTimeout: 5_000,
        // Keep retrying in the background; meanwhile a command waits at most commandTimeoutMs for a
        // connection, then fails (no offline queue).
        reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 5_000),
      },
      disableOfflineQueue: true,
    });
    // Without a listener an 'error' event would crash the process; failures surface per command.
    this.client.on('error', (err: Error) => {
      this.lastError = err.message;
    });
  }

  private key(kind: 'resp' | 'item', id: string): string {
    return `${this.options.keyPrefix}${kind}:${id}`;
  }

  /**
   * The connected client. While there is no connection (not yet made, or lost and being retried
   * in the background) a command waits at most `commandTimeoutMs` for one, then fails: a client
   * whose `connect()` keeps retrying would otherwise never settle.
   */
  private async ready(): Promise<Client> {
    if (this.closed) throw new Error('the store is closed');
    if (this.client.isReady) return this.client;
    const ready = this.nextReady();
    // Connection failures are retried by the reconnect strategy and surface here as a timeout.
    if (!this.client.isOpen) this.client.connect().catch(() => {});
    const ms = this.options.commandTimeoutMs ?? DEFAULT_REDIS_COMMAND_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        ready,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            const why = this.lastError === null ? '' : ` (${this.lastError})`;
            reject(new Error(`no connection to ${this.where()} within ${ms} ms${why}`));
          }, ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
    return this.client;
  }

  private nextReady(): Promise<void> {
    this.readyEvent ??= new Promise<void>((resolve) => {
      this.client.once('ready', () => {
        this.readyEvent = null;
        resolve();
      });
    });
    return this.readyEvent;
  }

  /** The URL without credentials, for messages. */
  private where(): string {
    try {
      const u = new URL(this.options.url);
      return `${u.protocol}//${u.host}`;
    } catch {
      return 'Redis';
    }
  }

  async get(id: string): Promise<StoredResponse | null> {
    const json = await this.run((c) => c.get(this.key('resp', id)));
    return json ? (JSON.parse(json) as StoredResponse) : null;
  }

  async put(entry: StoredResponse): Promise<void> {
    const json = encodeEntry(entry, this.options.maxResponseBytes);
    const id = entry.response.id;
    const px = this.options.ttlMs;
    const expiresAt = Date.now() + px;
    await this.run((c) => {
      const multi = c.multi().set(this.key('resp', id), json, { expiration: { type: 'PX', value: px } });
      for (const itemId of new Set(itemsOf(entry).map((i) => i.id))) {
        const key = this.key('item', itemId);
        multi.zAdd(key, { score: expiresAt, value: id }).pExpire(key, px);
      }
      return multi.exec();
    });
  }

  async delete(id: string): Promise<boolean> {
    const entry = await this.get(id);
    if (!entry) return false;
    await this.run((c) => {
      const multi = c.multi().del(this.key('resp', id));
      for (const item of itemsOf(entry)) multi.zRem(this.key('item', item.id), id);
      return multi.exec();
    });
    return true;
  }

  async getItem(itemId: string): Promise<StoredItem | null> {
    const holders = await this.run((c) => c.zRange(this.key('item', itemId), 0, -1, { REV: true }));
    if (holders.length === 0) return null;
    const bodies = await this.run((c) => c.mGet(holders.map((id) => this.key('resp', id))));
    for (const json of bodies) {
      if (!json) continue; // that holder expired or was deleted
      const found = itemsOf(JSON.parse(json) as StoredResponse).find((i) => i.id === itemId);
      if (found) return found;
    }
    return null;
  }

  async ping(): Promise<void> {
    await this.run((c) => c.ping());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.client.isOpen) await this.client.close();
  }

  private async run<T>(fn: (c: Client) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.ready());
    } catch (err) {
      throw new StoreUnavailableError(`Redis store: ${(err as Error).message}`);
    }
  }
}
