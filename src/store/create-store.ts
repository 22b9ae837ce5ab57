import type { StoreConfig } from '../config.js';
import { MemoryStore } from './memory-store.js';
import { RedisStore } from './redis-store.js';
import type { ResponseStore } from './response-store.js';
import { SqliteStore } from './sqlite-store.js';

/** The backend `[store]` names. */
export function createStore(config: StoreConfig): ResponseStore {
  switch (config.backend) {
    case 'memory':
      return new MemoryStore({
        ttlMs: config.ttlMs,
        maxEntries: config.maxEntries,
        maxBytes: config.maxBytes,
        maxResponseBytes: config.maxResponseBytes,
      });
    case 'sqlite':
      return new SqliteStore({
        path: config.path,
        ttlMs: config.ttlMs,
        maxResponseBytes: config.maxResponseBytes,
      });
    case 'redis':
      return new RedisStore({
        url: config.url,
        keyPrefix: config.keyPrefix,
        ttlMs: config.ttlMs,
        maxResponseBytes: config.maxResponseBytes,
      });
  }
}
