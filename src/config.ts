/**
 * The configuration: read once at start-up from a TOML file (or built from `--upstream`),
 * validated completely, and passed down as a frozen object. Every problem is one line naming the
 * file, the key and what to do. Nothing else in the proxy reads the file or the environment.
 */
import { readFileSync } from 'node:fs';
import { parse as parseToml, TomlError } from 'smol-toml';
import { ConfigError, ConfigReader, type Table } from './config/config-reader.js';
import { parseStoreConfig, type StoreConfig } from './config/store-config.js';
import { type Env, parseTargets, type TargetConfig } from './config/target-config.js';

export { ConfigError } from './config/config-reader.js';
export type { StoreConfig } from './config/store-config.js';
export type {
  Dialect,
  Env,
  MaxTokensField,
  PoolSettings,
  Protocol,
  ReasoningFieldSetting,
  Retries,
  StructuredOutput,
  SystemRole,
  TargetConfig,
  Timeouts,
} from './config/target-config.js';

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  /** Largest accepted request body, in bytes (images and files come inline). */
  readonly bodyLimit: number;
  /** Interval of SSE keep-alive comments while the upstream is silent; 0 = off. */
  readonly streamKeepAliveMs: number;
  /** How long in-flight requests and streams may run after SIGTERM before the process exits. */
  readonly shutdownGraceMs: number;
  /** A separate listener for /healthz, /readyz and /metrics; null = served on the main one. */
  readonly admin: { readonly host: string; readonly port: number } | null;
}

export interface Config {
  /** Where the configuration came from, for messages. */
  readonly source: string;
  readonly server: ServerConfig;
  readonly logging: { readonly level: LogLevel; readonly pretty: boolean };
  /** Proxy keys clients must present as `Authorization: Bearer`; empty = no auth. */
  readonly auth: { readonly apiKeys: readonly string[]; readonly apiKeysEnv: string | null };
  /**
   * The secret that seals reasoning `encrypted_content` (from `[auth] reasoning_key_env`); null =
   * a random key per process (blobs then do not survive restarts or span replicas).
   */
  readonly reasoningKey: string | null;
  /** Where a model no pattern matches goes; null = 404. */
  readonly defaultTarget: string | null;
  readonly targets: readonly TargetConfig[];
  readonly store: StoreConfig;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export const DEFAULT_CONFIG_PATH = './llm-proxy.toml';
export const DEFAULT_BODY_LIMIT = 20 * 1024 * 1024;
export const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;

export function loadConfig(path: string, env: Env): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? String(err)})`;
    throw new ConfigError(
      path,
      null,
      `${why}; pass --config FILE, set LLM_PROXY_CONFIG, or use --upstream URL`,
    );
  }
  return parseConfig(text, path, env);
}

export function parseConfig(text: string, source: string, env: Env): Config {
  let doc: Table;
  try {
    doc = parseToml(text) as Table;
  } catch (err) {
    if (err instanceof TomlError && /redefine/.test(err.message)) {
      // A table given twice (e.g. two [targets.x]): name it, and say what to do.
      const line = text.split('\n')[err.line - 1] ?? '';
      const name = /^\s*\[+\s*([^\]]+?)\s*\]+/.exec(line)?.[1] ?? /^\s*([^=\s]+)\s*=/.exec(line)?.[1];
      throw new ConfigError(
        source,
        name ?? null,
        `defined more than once (line ${err.line}); keep one, or rename the other`,
      );
    }
    const detail =
      err instanceof TomlError
        ? `line ${err.line}, column ${err.column}: ${firstLine(err.message)}`
        : String(err);
    throw new ConfigError(source, null, `not valid TOML (${detail})`);
  }
  return configFromTables(doc, source, env);
}

/** `llm-proxy --upstream URL [--api-key-env NAME]`: one target that serves every model. */
export function quickStartConfig(upstream: string, apiKeyEnv: string | null, env: Env): Config {
  const target: Table = { base_url: upstream, protocol: 'any' };
  if (apiKeyEnv !== null) target.api_key_env = apiKeyEnv;
  return configFromTables({ targets: { upstream: target } }, '--upstream', env);
}

export function configFromTables(doc: Table, source: string, env: Env): Config {
  const r = new ConfigReader(source);
  r.onlyKeys(doc, '', ['server', 'logging', 'auth', 'defaults', 'targets', 'store']);

  const server = r.table(doc.server, 'server');
  r.onlyKeys(server, 'server', [
    'host',
    'port',
    'body_limit',
    'stream_keepalive',
    'shutdown_grace',
    'admin_host',
    'admin_port',
  ]);
  const logging = r.table(doc.logging, 'logging');
  r.onlyKeys(logging, 'logging', ['level', 'pretty']);
  const auth = r.table(doc.auth, 'auth');
  r.onlyKeys(auth, 'auth', ['api_keys_env', 'reasoning_key_env']);
  const defaults = r.table(doc.defaults, 'defaults');
  const targets = parseTargets(r, defaults, r.table(doc.targets, 'targets'), env);

  const defaultTarget = r.string(defaults.target, 'defaults.target') ?? null;
  if (defaultTarget !== null && !targets.some((t) => t.name === defaultTarget)) {
    r.fail(
      'defaults.target',
      `no target named "${defaultTarget}"; known targets: ${targets.map((t) => t.name).join(', ')}`,
    );
  }

  const host = r.string(server.host, 'server.host') ?? '127.0.0.1';
  const adminPort = r.integer(server.admin_port, 'server.admin_port', 0, 65535);
  const adminHost = r.string(server.admin_host, 'server.admin_host');
  if (adminHost !== undefined && adminPort === undefined)
    r.fail('server.admin_host', 'needs server.admin_port');

  const apiKeysEnv = r.string(auth.api_keys_env, 'auth.api_keys_env') ?? null;
  let apiKeys: string[] = [];
  if (apiKeysEnv !== null) {
    apiKeys = (env[apiKeysEnv] ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean);
    if (apiKeys.length === 0) {
      r.fail(
        'auth.api_keys_env',
        `environment variable ${apiKeysEnv} is not set or holds no key (comma-separated)`,
      );
    }
  }

  const reasoningKeyEnv = r.string(auth.reasoning_key_env, 'auth.reasoning_key_env') ?? null;
  const reasoningKey = reasoningKeyEnv === null ? null : (env[reasoningKeyEnv] ?? '');
  if (reasoningKey === '') {
    r.fail('auth.reasoning_key_env', `environment variable ${reasoningKeyEnv} is not set`);
  }

  return deepFreeze({
    source,
    server: {
      host,
      port: r.integer(server.port, 'server.port', 0, 65535) ?? 8080,
      bodyLimit: r.integer(server.body_limit, 'server.body_limit', 1024, 1024 ** 3) ?? DEFAULT_BODY_LIMIT,
      streamKeepAliveMs: r.duration(server.stream_keepalive, 'server.stream_keepalive', true) ?? 0,
      shutdownGraceMs:
        r.duration(server.shutdown_grace, 'server.shutdown_grace', true) ?? DEFAULT_SHUTDOWN_GRACE_MS,
      admin: adminPort === undefined ? null : { host: adminHost ?? host, port: adminPort },
    },
    logging: {
      level: r.oneOf(env.LLM_PROXY_LOG_LEVEL ?? logging.level, 'logging.level', LOG_LEVELS) ?? 'info',
      pretty: r.boolean(logging.pretty, 'logging.pretty') ?? false,
    },
    auth: { apiKeys, apiKeysEnv },
    reasoningKey,
    defaultTarget,
    targets,
    store: parseStoreConfig(r, doc.store, env),
  });
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
