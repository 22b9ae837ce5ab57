/** `[store]`: defaults, each backend's keys, and one-line errors naming the key. */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_STORE_PATH,
  DEFAULT_STORE_TTL_MS,
} from '../../src/config/store-config.js';
import { ConfigError, parseConfig, type StoreConfig } from '../../src/config.js';

const SOURCE = 'conf/store.toml';
const TARGET = '[targets.x]\nbase_url = "http://127.0.0.1:1/v1"\n';

function store(section: string): StoreConfig {
  return parseConfig(`${section}${TARGET}`, SOURCE, {}).store;
}

function configError(section: string): ConfigError {
  try {
    parseConfig(`${section}${TARGET}`, SOURCE, {});
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('[store] defaults', () => {
  it('is SQLite at ./data/llm-proxy.sqlite for 30 days without a [store] table', () => {
    expect(store('')).toEqual({
      backend: 'sqlite',
      path: DEFAULT_STORE_PATH,
      ttlMs: DEFAULT_STORE_TTL_MS,
      maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
    });
    expect(DEFAULT_STORE_PATH).toBe('./data/llm-proxy.sqlite');
    expect(DEFAULT_STORE_TTL_MS).toBe(30 * 24 * 60 * 60 * 1000);
  });

  it('is the same with an empty [store] table', () => {
    expect(store('[store]\n')).toEqual(store(''));
  });

  it('gives memory and redis their defaults', () => {
    expect(store('[store]\nbackend = "memory"\n')).toEqual({
      backend: 'memory',
      ttlMs: DEFAULT_STORE_TTL_MS,
      maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
      maxEntries: 10_000,
      maxBytes: 256 * 1024 * 1024,
    });
    expect(store('[store]\nbackend = "redis"\nurl = "redis://127.0.0.1:6379"\n')).toEqual({
      backend: 'redis',
      url: 'redis://127.0.0.1:6379',
      keyPrefix: 'llm-proxy:',
      ttlMs: DEFAULT_STORE_TTL_MS,
      maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
    });
  });
});

describe('[store] per backend', () => {
  it('reads the SQLite keys', () => {
    expect(
      store(
        '[store]\nbackend = "sqlite"\npath = "/var/lib/llm-proxy/r.db"\nttl = "2h"\nmax_response_bytes = 4096\n',
      ),
    ).toEqual({
      backend: 'sqlite',
      path: '/var/lib/llm-proxy/r.db',
      ttlMs: 7_200_000,
      maxResponseBytes: 4096,
    });
  });

  it('reads the memory keys', () => {
    expect(
      store(
        '[store]\nbackend = "memory"\nttl = "10m"\nmax_entries = 50\nmax_bytes = 1048576\nmax_response_bytes = 2048\n',
      ),
    ).toEqual({
      backend: 'memory',
      ttlMs: 600_000,
      maxEntries: 50,
      maxBytes: 1_048_576,
      maxResponseBytes: 2048,
    });
  });

  it('reads the Redis keys (redis:// and rediss://)', () => {
    expect(
      store(
        '[store]\nbackend = "redis"\nurl = "rediss://cache.internal:6380/2"\nkey_prefix = "p1:"\nttl = "1.5s"\n',
      ),
    ).toEqual({
      backend: 'redis',
      url: 'rediss://cache.internal:6380/2',
      keyPrefix: 'p1:',
      ttlMs: 1500,
      maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES,
    });
  });
});

describe('bad [store] configuration: one line naming the file and the key', () => {
  it.each<[string, string, string, RegExp]>([
    [
      'an unknown key',
      '[store]\nbackend = "memory"\nmax_items = 5\n',
      'store.max_items',
      /^unknown key; expected one of: backend, path, url, key_prefix, ttl, max_entries, max_bytes, max_response_bytes$/,
    ],
    ['[store] not a table', 'store = "redis"\n', 'store', /^expected a table, got the string "redis"$/],
    [
      'an unknown backend',
      '[store]\nbackend = "postgres"\n',
      'store.backend',
      /^expected one of "sqlite", "memory", "redis", got the string "postgres"$/,
    ],
    [
      'a backend that is not a string',
      '[store]\nbackend = 1\n',
      'store.backend',
      /^expected one of .*got number 1$/,
    ],
    [
      'redis without url',
      '[store]\nbackend = "redis"\n',
      'store.url',
      /^is required with backend = "redis" \(e\.g\. "redis:\/\/127\.0\.0\.1:6379"\)$/,
    ],
    [
      'a url that is not redis://',
      '[store]\nbackend = "redis"\nurl = "http://127.0.0.1:6379"\n',
      'store.url',
      /^must start with redis:\/\/ or rediss:\/\//,
    ],
    [
      'a url without a scheme',
      '[store]\nbackend = "redis"\nurl = "127.0.0.1:6379"\n',
      'store.url',
      /redis:\/\//,
    ],
    ['url is not a string', '[store]\nbackend = "redis"\nurl = 6379\n', 'store.url', /^expected a string/],
    [
      'url with the default backend (sqlite)',
      '[store]\nurl = "redis://127.0.0.1:6379"\n',
      'store.url',
      /^applies to backend = "redis" only, but the backend is "sqlite"$/,
    ],
    [
      'key_prefix with memory',
      '[store]\nbackend = "memory"\nkey_prefix = "p:"\n',
      'store.key_prefix',
      /^applies to backend = "redis" only, but the backend is "memory"$/,
    ],
    [
      'path with redis',
      '[store]\nbackend = "redis"\nurl = "redis://h"\npath = "x.db"\n',
      'store.path',
      /^applies to backend = "sqlite" only, but the backend is "redis"$/,
    ],
    [
      'path with memory',
      '[store]\nbackend = "memory"\npath = "x.db"\n',
      'store.path',
      /^applies to backend = "sqlite" only, but the backend is "memory"$/,
    ],
    [
      'max_entries with sqlite',
      '[store]\nmax_entries = 10\n',
      'store.max_entries',
      /^applies to backend = "memory" only, but the backend is "sqlite"$/,
    ],
    [
      'max_bytes with redis',
      '[store]\nbackend = "redis"\nurl = "redis://h"\nmax_bytes = 4096\n',
      'store.max_bytes',
      /^applies to backend = "memory" only, but the backend is "redis"$/,
    ],
    [
      'a ttl without a unit',
      '[store]\nttl = "30"\n',
      'store.ttl',
      /^expected a duration like "250ms", "5s" or "10m", got the string "30"$/,
    ],
    ['a ttl in days', '[store]\nttl = "30d"\n', 'store.ttl', /^expected a duration/],
    ['a zero ttl', '[store]\nttl = "0s"\n', 'store.ttl', /^expected a duration/],
    ['a numeric ttl', '[store]\nttl = 3600\n', 'store.ttl', /^expected a duration.*got number 3600$/],
    ['an empty path', '[store]\npath = ""\n', 'store.path', /^must not be empty/],
    [
      'max_entries of 0',
      '[store]\nbackend = "memory"\nmax_entries = 0\n',
      'store.max_entries',
      /^must be between 1 and/,
    ],
    [
      'a fractional max_bytes',
      '[store]\nbackend = "memory"\nmax_bytes = 1.5\n',
      'store.max_bytes',
      /^expected an integer/,
    ],
    [
      'a tiny max_response_bytes',
      '[store]\nmax_response_bytes = 10\n',
      'store.max_response_bytes',
      /^must be between 1024 and \d+, got 10$/,
    ],
  ])('%s', (_, section, key, problem) => {
    const err = configError(section);
    expect(err.key).toBe(key);
    expect(err.message.startsWith(`${SOURCE}: ${key}: `)).toBe(true);
    expect(err.message.slice(`${SOURCE}: ${key}: `.length)).toMatch(problem);
    expect(err.message).not.toContain('\n');
  });

  it('does not quote a url that is not redis:// (it may hold a password)', () => {
    const err = configError('[store]\nbackend = "redis"\nurl = "https://user:hunter2-pw@cache:6379"\n');
    expect(err.key).toBe('store.url');
    expect(err.message).not.toContain('hunter2-pw');
    expect(err.message).toContain('https:');
  });
});
