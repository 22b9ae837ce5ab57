import type { StoreConfig } from '../config.js';
import type { ResponseStore } from './response-store.js';

/**
 * The backend `[store]` names. Backends load on demand: the Redis client and the SQLite binding
 * together cost a few hundred milliseconds of start-up, paid only by the one that is used.
 */
export async function createStore(config: StoreConfig): Promise<ResponseStore> {
  switch (config.backend) {
    case 'memory': {
      const { MemoryStore } = await import('./memory-store.js');
      return new MemoryStore({
        ttlMs: config.ttlMs,
        maxEntries: config.maxEntries,
        maxBytes: config.maxBytes,
        maxResponseBytes: config.maxResponseBytes,
      });
    }
    case 'sqlite': {
      const { SqliteStore } = await import('./sqlite-store.js');
      return new SqliteStore({
        path: config.path,
        ttlMs: config.ttlMs,
        maxResponseBytes: config.maxResponseBytes,
      });
    }
    case 'redis': {
      const { RedisStore } = await import('./redis-store.js');
      return new RedisStore({
        url: config.url,
        keyPrefix: config.keyPrefix,
        ttlMs: config.ttlMs,
        maxResponseBytes: config.maxResponseBytes,
      });
    }
  }
}
