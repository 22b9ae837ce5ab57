/**
 * `[store]`: where stateful responses live. SQLite by default (survives restarts, no service to
 * run); memory for tests and ephemeral use; Redis for several replicas sharing state.
 */
import type { ConfigReader, Table } from './config-reader.js';

export type StoreConfig =
  | (StoreCommon & { readonly backend: 'sqlite'; readonly path: string })
  | (StoreCommon & { readonly backend: 'memory'; readonly maxEntries: number; readonly maxBytes: number })
  | (StoreCommon & { readonly backend: 'redis'; readonly url: string; readonly keyPrefix: string });

interface StoreCommon {
  readonly ttlMs: number;
  /** Largest stored response (with its context), serialized. */
  readonly maxResponseBytes: number;
}

export const DEFAULT_STORE_PATH = './data/llm-proxy.sqlite';
export const DEFAULT_STORE_TTL_MS = 30 * 24 * 3_600_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/** The keys only one backend reads. */
const BACKEND_KEYS: Record<string, StoreConfig['backend']> = {
  path: 'sqlite',
  max_entries: 'memory',
  max_bytes: 'memory',
  url: 'redis',
  key_prefix: 'redis',
};

export function parseStoreConfig(
  r: ConfigReader,
  raw: unknown,
  env: Readonly<Record<string, string | undefined>> = {},
): StoreConfig {
  const t: Table = r.table(raw, 'store');
  r.onlyKeys(t, 'store', [
    'backend',
    'path',
    'url',
    'key_prefix',
    'ttl',
    'max_entries',
    'max_bytes',
    'max_response_bytes',
  ]);
  const backend = r.oneOf(t.backend, 'store.backend', ['sqlite', 'memory', 'redis'] as const) ?? 'sqlite';
  const common: StoreCommon = {
    ttlMs: r.duration(t.ttl, 'store.ttl') ?? DEFAULT_STORE_TTL_MS,
    maxResponseBytes:
      r.integer(t.max_response_bytes, 'store.max_response_bytes', 1024, 2 ** 31) ??
      DEFAULT_MAX_RESPONSE_BYTES,
  };
  // A key of another backend is a mistake (a forgotten `backend = ...`), not something to ignore.
  for (const [key, owner] of Object.entries(BACKEND_KEYS)) {
    if (t[key] !== undefined && owner !== backend) {
      r.fail(`store.${key}`, `applies to backend = "${owner}" only, but the backend is "${backend}"`);
    }
  }
  switch (backend) {
    case 'sqlite': {
      const path = r.string(t.path, 'store.path') ?? DEFAULT_STORE_PATH;
      if (path.trim() === '') r.fail('store.path', 'must not be empty (e.g. "./data/llm-proxy.sqlite")');
      return { ...common, backend, path };
    }
    case 'memory':
      return {
        ...common,
        backend,
        maxEntries: r.integer(t.max_entries, 'store.max_entries', 1, 10_000_000) ?? 10_000,
        maxBytes: r.integer(t.max_bytes, 'store.max_bytes', 1024, 2 ** 40) ?? 256 * 1024 * 1024,
      };
    case 'redis': {
      const raw = r.string(t.url, 'store.url');
      if (raw === undefined)
        r.fail('store.url', 'is required with backend = "redis" (e.g. "redis://127.0.0.1:6379")');
      // `${NAME}` keeps a password out of the file, as in target URLs and headers.
      const url = raw.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
        const value = env[name];
        if (value === undefined || value === '')
          r.fail('store.url', `environment variable ${name} is not set`);
        return value;
      });
      if (!/^rediss?:\/\//.test(url)) {
        // Name only the scheme: the URL may carry a password.
        const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0];
        r.fail('store.url', `must start with redis:// or rediss://${scheme ? `, not ${scheme}` : ''}`);
      }
      return {
        ...common,
        backend,
        url,
        keyPrefix: r.string(t.key_prefix, 'store.key_prefix') ?? 'llm-proxy:',
      };
    }
  }
}
