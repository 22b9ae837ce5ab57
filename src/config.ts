/**
 * The configuration: read once at start-up from a TOML file, validated completely, and passed
 * down as a plain frozen object. Every problem is reported as one line naming the file, the key
 * and what to do; nothing else in the proxy reads the file or the environment.
 */
import { readFileSync } from 'node:fs';
import { parse as parseToml, TomlError } from 'smol-toml';

export type MaxTokensField = 'max_tokens' | 'max_completion_tokens';

export interface TargetConfig {
  readonly name: string;
  /** The upstream's OpenAI-compatible base, without a trailing slash (e.g. http://127.0.0.1:11434/v1). */
  readonly baseUrl: string;
  /** The key read from `api_key_env` at start-up, sent as `Authorization: Bearer`. */
  readonly apiKey: string | null;
  readonly apiKeyEnv: string | null;
  readonly headers: Readonly<Record<string, string>>;
  /** Model-name patterns (with `*` wildcards) routed to this target; empty = none declared. */
  readonly models: readonly string[];
  readonly maxTokensField: MaxTokensField;
}

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  /** Largest accepted request body, in bytes (images and files come inline). */
  readonly bodyLimit: number;
  /** Interval of SSE keep-alive comments while the upstream is silent; 0 = off. */
  readonly streamKeepAliveMs: number;
}

export interface Config {
  /** Where the configuration came from, for messages. */
  readonly source: string;
  readonly server: ServerConfig;
  readonly logging: { readonly level: LogLevel };
  readonly targets: readonly TargetConfig[];
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export const DEFAULT_CONFIG_PATH = './llm-proxy.toml';
export const DEFAULT_BODY_LIMIT = 20 * 1024 * 1024;

/** A configuration problem; `message` is the one line printed before exiting. */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly key: string | null,
    problem: string,
  ) {
    super(`${source}: ${key === null ? '' : `${key}: `}${problem}`);
    this.name = 'ConfigError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

export function loadConfig(path: string, env: Env): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? String(err)})`;
    throw new ConfigError(path, null, `${why}; pass --config FILE or set LLM_PROXY_CONFIG`);
  }
  return parseConfig(text, path, env);
}

export function parseConfig(text: string, source: string, env: Env): Config {
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    const detail =
      err instanceof TomlError
        ? `line ${err.line}, column ${err.column}: ${firstLine(err.message)}`
        : String(err);
    throw new ConfigError(source, null, `not valid TOML (${detail})`);
  }
  const v = new Validator(source);
  v.onlyKeys(doc, '', ['server', 'logging', 'targets']);

  const server = v.table(doc.server, 'server');
  v.onlyKeys(server, 'server', ['host', 'port', 'body_limit', 'stream_keepalive']);
  const logging = v.table(doc.logging, 'logging');
  v.onlyKeys(logging, 'logging', ['level']);

  const targetsTable = v.table(doc.targets, 'targets');
  const names = Object.keys(targetsTable);
  if (names.length === 0) {
    throw new ConfigError(source, 'targets', 'at least one [targets.NAME] table with a base_url is required');
  }
  const targets = names.map((name) => parseTarget(v, name, targetsTable[name], env));

  return deepFreeze({
    source,
    server: {
      host: v.string(server.host, 'server.host') ?? '127.0.0.1',
      port: v.integer(server.port, 'server.port', 0, 65535) ?? 8080,
      bodyLimit: v.integer(server.body_limit, 'server.body_limit', 1024, 1024 ** 3) ?? DEFAULT_BODY_LIMIT,
      streamKeepAliveMs: v.duration(server.stream_keepalive, 'server.stream_keepalive') ?? 0,
    },
    logging: { level: v.oneOf(logging.level, 'logging.level', LOG_LEVELS) ?? 'info' },
    targets,
  });
}

const TARGET_KEYS = ['base_url', 'api_key_env', 'headers', 'models', 'max_tokens_field'] as const;

function parseTarget(v: Validator, name: string, raw: unknown, env: Env): TargetConfig {
  const key = `targets.${name}`;
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new ConfigError(v.source, key, 'target names may use only letters, digits, "_" and "-"');
  }
  const t = v.table(raw, key);
  v.onlyKeys(t, key, TARGET_KEYS);
  const baseUrl = v.string(t.base_url, `${key}.base_url`);
  if (baseUrl === undefined) throw new ConfigError(v.source, `${key}.base_url`, 'is required');
  const url = v.url(baseUrl, `${key}.base_url`);

  const apiKeyEnv = v.string(t.api_key_env, `${key}.api_key_env`) ?? null;
  let apiKey: string | null = null;
  if (apiKeyEnv !== null) {
    apiKey = env[apiKeyEnv] ?? null;
    if (apiKey === null || apiKey === '') {
      throw new ConfigError(
        v.source,
        `${key}.api_key_env`,
        `environment variable ${apiKeyEnv} is not set; export it or remove api_key_env`,
      );
    }
  }

  const headersTable = t.headers === undefined ? {} : v.table(t.headers, `${key}.headers`);
  const headers: Record<string, string> = {};
  for (const [h, value] of Object.entries(headersTable)) {
    const s = v.string(value, `${key}.headers.${h}`);
    if (s !== undefined) headers[h.toLowerCase()] = s;
  }

  const models = v.stringList(t.models, `${key}.models`) ?? [];
  models.forEach((pattern, i) => {
    if (pattern.trim() === '')
      throw new ConfigError(v.source, `${key}.models[${i}]`, 'a pattern cannot be empty');
  });

  return {
    name,
    baseUrl: url.replace(/\/+$/, ''),
    apiKey,
    apiKeyEnv,
    headers,
    models,
    maxTokensField:
      v.oneOf(t.max_tokens_field, `${key}.max_tokens_field`, [
        'max_tokens',
        'max_completion_tokens',
      ] as const) ?? 'max_tokens',
  };
}

/** Small typed readers that name the key in every message. `undefined` means "not given". */
class Validator {
  constructor(readonly source: string) {}

  fail(key: string, problem: string): never {
    throw new ConfigError(this.source, key, problem);
  }

  table(value: unknown, key: string): Record<string, unknown> {
    if (value === undefined) return {};
    if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Date) {
      this.fail(key, `expected a table, got ${describe(value)}`);
    }
    return value as Record<string, unknown>;
  }

  onlyKeys(table: Record<string, unknown>, key: string, allowed: readonly string[]): void {
    for (const k of Object.keys(table)) {
      if (!allowed.includes(k)) {
        const where = key === '' ? k : `${key}.${k}`;
        this.fail(where, `unknown key; expected one of: ${allowed.join(', ')}`);
      }
    }
  }

  string(value: unknown, key: string): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'string') this.fail(key, `expected a string, got ${describe(value)}`);
    return value;
  }

  integer(value: unknown, key: string, min: number, max: number): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.fail(key, `expected an integer, got ${describe(value)}`);
    }
    if (value < min || value > max) this.fail(key, `must be between ${min} and ${max}, got ${value}`);
    return value;
  }

  oneOf<T extends string>(value: unknown, key: string, allowed: readonly T[]): T | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !allowed.includes(value as T)) {
      this.fail(key, `expected one of ${allowed.map((a) => `"${a}"`).join(', ')}, got ${describe(value)}`);
    }
    return value as T;
  }

  /** A duration string ("250ms", "5s", "10m", "1h"), or "off"/0 for none; returns milliseconds. */
  duration(value: unknown, key: string): number | undefined {
    if (value === undefined) return undefined;
    if (value === 0 || value === 'off') return 0;
    const ms = typeof value === 'string' ? parseDuration(value) : null;
    if (ms === null)
      this.fail(key, `expected a duration like "250ms", "5s", "10m" or "off", got ${describe(value)}`);
    return ms;
  }

  stringList(value: unknown, key: string): string[] | undefined {
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) this.fail(key, `expected a list of strings, got ${describe(value)}`);
    return value.map((item, i) => this.string(item, `${key}[${i}]`) as string);
  }

  url(value: string, key: string): string {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      return this.fail(key, `not a valid URL: "${value}"`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      this.fail(key, `must start with http:// or https://, got "${parsed.protocol}"`);
    }
    if (parsed.username || parsed.password) {
      this.fail(key, 'must not embed credentials; use api_key_env or headers');
    }
    if (parsed.search || parsed.hash) this.fail(key, 'must not have a query string or fragment');
    return value;
  }
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "250ms" -> 250, "1.5s" -> 1500, "10m" -> 600000; null when not a duration. */
export function parseDuration(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * (DURATION_UNITS[m[2] as string] as number));
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Date) return 'a date';
  if (typeof value === 'object') return 'a table';
  if (typeof value === 'string') return `the string "${value}"`;
  return `${typeof value} ${String(value)}`;
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
