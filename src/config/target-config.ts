/**
 * `[defaults]` and `[targets.NAME]`: each target is its own table layered over the defaults,
 * with `${ENV}` references resolved, secrets collected for redaction, and the protocol rule
 * (plain http only to loopback and private hosts unless the target says so) enforced.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { redactSecrets } from '../logging-config.js';
import type { ConfigReader, Table } from './config-reader.js';

export type MaxTokensField = 'max_tokens' | 'max_completion_tokens';
export type SystemRole = 'merge' | 'developer' | 'system';
export type ReasoningFieldSetting = 'reasoning_content' | 'reasoning' | 'both' | 'none';
export type StructuredOutput = 'json_schema' | 'json_object' | 'none';
export type Protocol = 'https' | 'http' | 'any';

/** How a target's Chat Completions server differs from OpenAI's. */
export interface Dialect {
  readonly maxTokensField: MaxTokensField;
  readonly systemRole: SystemRole;
  readonly reasoningField: ReasoningFieldSetting;
  readonly structuredOutput: StructuredOutput;
}

export interface Timeouts {
  readonly connectMs: number;
  /** Until the response headers arrive (a non-streaming reply may think for minutes). */
  readonly firstByteMs: number;
  /** Between two body chunks. */
  readonly idleMs: number;
  /** The whole exchange, headers to last byte. */
  readonly totalMs: number;
}

export interface Retries {
  readonly max: number;
  readonly baseDelayMs: number;
  /** Longest wait between attempts; a Retry-After longer than this is not waited for. */
  readonly maxDelayMs: number;
}

export interface PoolSettings {
  readonly connections: number;
  readonly keepAliveMs: number;
}

export interface TargetConfig {
  readonly name: string;
  /** One or more OpenAI-compatible bases without a trailing slash; several are load-balanced. */
  readonly baseUrls: readonly string[];
  /** The key read from `api_key_env` at start-up, sent as `Authorization: Bearer`. */
  readonly apiKey: string | null;
  readonly apiKeyEnv: string | null;
  /** Send the client's own bearer token upstream instead of `apiKey` (bring your own key). */
  readonly forwardClientKey: boolean;
  /** Hosted tools (web_search, …) a chat upstream cannot run: 400, or dropped with a warning. */
  readonly hostedTools: 'reject' | 'drop';
  readonly headers: Readonly<Record<string, string>>;
  /** Model-name patterns (with `*` wildcards) routed to this target. */
  readonly models: readonly string[];
  /** Public model name -> the name sent upstream. Its keys route here too. */
  readonly modelMap: Readonly<Record<string, string>>;
  readonly protocol: Protocol | null;
  readonly dialect: Dialect;
  /** Other targets tried in order when this one cannot answer (before any byte reached the client). */
  readonly fallbacks: readonly string[];
  /** Extra CA certificates (PEM), read from `ca_file` at start-up. */
  readonly ca: string | null;
  readonly timeouts: Timeouts;
  readonly retries: Retries;
  readonly pool: PoolSettings;
  /** How long a base URL that failed is skipped by the load balancer. */
  readonly failoverCooldownMs: number;
  /** Every configured secret value (keys, values from `${ENV}`), redacted wherever text is quoted. */
  readonly secrets: readonly string[];
}

export const DEFAULT_DIALECT: Dialect = {
  maxTokensField: 'max_tokens',
  systemRole: 'merge',
  reasoningField: 'reasoning_content',
  structuredOutput: 'json_schema',
};

/** Defaults for long LLM generations; README "Timeouts, retries and pooling" explains each. */
export const DEFAULT_TIMEOUTS: Timeouts = {
  connectMs: 5_000,
  firstByteMs: 600_000,
  idleMs: 300_000,
  totalMs: 1_800_000,
};
export const DEFAULT_RETRIES: Retries = { max: 2, baseDelayMs: 250, maxDelayMs: 8_000 };
export const DEFAULT_POOL: PoolSettings = { connections: 128, keepAliveMs: 4_000 };
export const DEFAULT_FAILOVER_COOLDOWN_MS = 30_000;

/** Keys a target and [defaults] share. */
const SHARED_KEYS = [
  'headers',
  'protocol',
  'max_tokens_field',
  'system_role',
  'reasoning_field',
  'structured_output',
  'timeouts',
  'retries',
  'pool',
  'failover_cooldown',
  'forward_client_key',
  'hosted_tools',
  'ca_file',
] as const;
export const DEFAULTS_KEYS = ['target', ...SHARED_KEYS] as const;
const TARGET_KEYS = ['base_url', 'api_key_env', 'models', 'model_map', 'fallbacks', ...SHARED_KEYS] as const;

export type Env = Readonly<Record<string, string | undefined>>;

export function parseTargets(r: ConfigReader, defaults: Table, targets: Table, env: Env): TargetConfig[] {
  r.onlyKeys(defaults, 'defaults', DEFAULTS_KEYS);
  const names = Object.keys(targets);
  if (names.length === 0) r.fail('targets', 'at least one [targets.NAME] table with a base_url is required');
  const parsed = names.map((name) => parseTarget(r, name, defaults, targets[name], env));
  for (const t of parsed) {
    t.fallbacks.forEach((f, i) => {
      const key = `targets.${t.name}.fallbacks[${i}]`;
      if (f === t.name) r.fail(key, 'a target cannot fall back to itself; remove it');
      if (!names.includes(f)) r.fail(key, `no target named "${f}"; known targets: ${names.join(', ')}`);
      if (t.fallbacks.indexOf(f) !== i) r.fail(key, `"${f}" is listed twice; list each fallback once`);
    });
  }
  return parsed;
}

function parseTarget(r: ConfigReader, name: string, defaults: Table, raw: unknown, env: Env): TargetConfig {
  const key = `targets.${name}`;
  if (!/^[A-Za-z0-9_-]+$/.test(name)) r.fail(key, 'target names may use only letters, digits, "_" and "-"');
  const t = r.table(raw, key);
  r.onlyKeys(t, key, TARGET_KEYS);
  const secrets: string[] = [];
  // A target key wins; otherwise the [defaults] value applies, reported under its own name.
  const pick = (k: (typeof SHARED_KEYS)[number]): [unknown, string] =>
    t[k] !== undefined ? [t[k], `${key}.${k}`] : [defaults[k], `defaults.${k}`];

  const rawUrls = r.stringOrList(t.base_url, `${key}.base_url`);
  if (rawUrls === undefined || rawUrls.length === 0)
    r.fail(`${key}.base_url`, 'is required (a URL or a list of URLs)');
  const protocol = r.oneOf(...pick('protocol'), ['https', 'http', 'any'] as const) ?? null;
  const baseUrls = rawUrls.map((u, i) => {
    const at = rawUrls.length === 1 ? `${key}.base_url` : `${key}.base_url[${i}]`;
    return checkUrl(r, expandEnv(r, u, at, env, secrets), at, protocol, secrets);
  });
  baseUrls.forEach((u, i) => {
    if (baseUrls.indexOf(u) !== i)
      r.fail(`${key}.base_url[${i}]`, 'the same URL is listed twice; list each base URL once');
  });

  const apiKeyEnv = r.string(t.api_key_env, `${key}.api_key_env`) ?? null;
  let apiKey: string | null = null;
  if (apiKeyEnv !== null) {
    apiKey = env[apiKeyEnv] ?? null;
    if (!apiKey)
      r.fail(
        `${key}.api_key_env`,
        `environment variable ${apiKeyEnv} is not set; export it or remove api_key_env`,
      );
    secrets.push(apiKey);
  }

  const headers: Record<string, string> = {};
  for (const [table, at] of [
    [defaults.headers, 'defaults.headers'],
    [t.headers, `${key}.headers`],
  ] as const) {
    const seen = new Set<string>();
    for (const [h, v] of Object.entries(r.stringMap(table, at) ?? {})) {
      const name = h.toLowerCase();
      if (seen.has(name))
        r.fail(`${at}.${h}`, `header "${name}" is set twice (names are case-insensitive); keep one`);
      seen.add(name);
      headers[name] = expandEnv(r, v, `${at}.${h}`, env, secrets);
    }
  }
  const ownAuth = Object.keys(r.stringMap(t.headers, `${key}.headers`) ?? {}).find(
    (h) => h.toLowerCase() === 'authorization',
  );
  if (apiKey !== null && ownAuth !== undefined) {
    r.fail(
      `${key}.headers.${ownAuth}`,
      'conflicts with api_key_env (which sends Authorization: Bearer); keep one',
    );
  }

  const models = r.stringList(t.models, `${key}.models`) ?? [];
  models.forEach((p, i) => {
    if (p.trim() === '') r.fail(`${key}.models[${i}]`, 'a pattern cannot be empty');
    if (/\*\*/.test(p))
      r.fail(`${key}.models[${i}]`, `"${p}": use a single "*" to match any run of characters`);
  });
  const modelMap = r.stringMap(t.model_map, `${key}.model_map`) ?? {};
  for (const [k, v] of Object.entries(modelMap)) {
    if (k === '' || v === '') r.fail(`${key}.model_map.${k}`, 'model names cannot be empty');
  }

  const caFile = r.string(...pick('ca_file')) ?? null;
  return {
    name,
    baseUrls,
    apiKey,
    apiKeyEnv,
    forwardClientKey: r.boolean(...pick('forward_client_key')) ?? false,
    // drop by default: Codex always offers web_search, and must work without special settings.
    hostedTools: r.oneOf(...pick('hosted_tools'), ['reject', 'drop'] as const) ?? 'drop',
    headers,
    models,
    modelMap,
    protocol,
    dialect: {
      maxTokensField:
        r.oneOf(...pick('max_tokens_field'), ['max_tokens', 'max_completion_tokens'] as const) ??
        DEFAULT_DIALECT.maxTokensField,
      systemRole:
        r.oneOf(...pick('system_role'), ['merge', 'developer', 'system'] as const) ??
        DEFAULT_DIALECT.systemRole,
      reasoningField:
        r.oneOf(...pick('reasoning_field'), ['reasoning_content', 'reasoning', 'both', 'none'] as const) ??
        DEFAULT_DIALECT.reasoningField,
      structuredOutput:
        r.oneOf(...pick('structured_output'), ['json_schema', 'json_object', 'none'] as const) ??
        DEFAULT_DIALECT.structuredOutput,
    },
    fallbacks: r.stringList(t.fallbacks, `${key}.fallbacks`) ?? [],
    ca:
      caFile === null
        ? null
        : readCa(r, caFile, t.ca_file !== undefined ? `${key}.ca_file` : 'defaults.ca_file'),
    timeouts: parseTimeouts(r, ...pick('timeouts')),
    retries: parseRetries(r, ...pick('retries')),
    pool: parsePool(r, ...pick('pool')),
    failoverCooldownMs: r.duration(...pick('failover_cooldown')) ?? DEFAULT_FAILOVER_COOLDOWN_MS,
    secrets,
  };
}

function parseTimeouts(r: ConfigReader, value: unknown, key: string): Timeouts {
  const t = r.table(value, key);
  r.onlyKeys(t, key, ['connect', 'first_byte', 'idle', 'total']);
  return {
    connectMs: r.duration(t.connect, `${key}.connect`) ?? DEFAULT_TIMEOUTS.connectMs,
    firstByteMs: r.duration(t.first_byte, `${key}.first_byte`) ?? DEFAULT_TIMEOUTS.firstByteMs,
    idleMs: r.duration(t.idle, `${key}.idle`) ?? DEFAULT_TIMEOUTS.idleMs,
    totalMs: r.duration(t.total, `${key}.total`) ?? DEFAULT_TIMEOUTS.totalMs,
  };
}

function parseRetries(r: ConfigReader, value: unknown, key: string): Retries {
  const t = r.table(value, key);
  r.onlyKeys(t, key, ['max', 'base_delay', 'max_delay']);
  const retries = {
    max: r.integer(t.max, `${key}.max`, 0, 10) ?? DEFAULT_RETRIES.max,
    baseDelayMs: r.duration(t.base_delay, `${key}.base_delay`, true) ?? DEFAULT_RETRIES.baseDelayMs,
    maxDelayMs: r.duration(t.max_delay, `${key}.max_delay`, true) ?? DEFAULT_RETRIES.maxDelayMs,
  };
  if (retries.maxDelayMs < retries.baseDelayMs)
    r.fail(`${key}.max_delay`, 'must not be shorter than base_delay');
  return retries;
}

function parsePool(r: ConfigReader, value: unknown, key: string): PoolSettings {
  const t = r.table(value, key);
  r.onlyKeys(t, key, ['connections', 'keep_alive']);
  return {
    connections: r.integer(t.connections, `${key}.connections`, 1, 65_536) ?? DEFAULT_POOL.connections,
    keepAliveMs: r.duration(t.keep_alive, `${key}.keep_alive`) ?? DEFAULT_POOL.keepAliveMs,
  };
}

/** Resolves `${NAME}` from the environment; every resolved value is treated as a secret. */
function expandEnv(r: ConfigReader, text: string, key: string, env: Env, secrets: string[]): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
    const value = env[name];
    if (value === undefined || value === '') {
      r.fail(
        key,
        `environment variable ${name} is not set; export it before starting, or remove the reference`,
      );
    }
    secrets.push(value);
    return value;
  });
}

function checkUrl(
  r: ConfigReader,
  value: string,
  key: string,
  protocol: Protocol | null,
  secrets: string[],
): string {
  // Parts of the URL may come from ${ENV} (secrets): they are never quoted in a message.
  const fail = (problem: string): never => r.fail(key, redactSecrets(problem, secrets));
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail('not a valid URL; write it like "https://api.example.com/v1"');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    fail(`must start with http:// or https://, got "${url.protocol}"`);
  }
  if (url.username || url.password) fail('must not embed credentials; use api_key_env or headers');
  if (url.search || url.hash) fail('must not have a query string or fragment');
  if (url.protocol === 'http:') {
    if (protocol === 'https')
      fail('protocol = "https" but the URL is http://; use an https:// URL or change protocol');
    if (protocol === null && !isPrivateHost(url.hostname)) {
      fail(
        `plain http:// to the public host "${url.hostname}" would send requests (and keys) unencrypted; ` +
          'use https://, or set protocol = "http" on the target if that is intended',
      );
    }
  } else if (protocol === 'http') {
    fail('protocol = "http" but the URL is https://; use protocol = "any" or "https"');
  }
  return value.replace(/\/+$/, '');
}

/** Loopback and private networks: 127.0.0.0/8, ::1, localhost, 10/8, 172.16/12, 192.168/16, fc00::/7. */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const kind = isIP(host);
  if (kind === 4) {
    const [a, b] = host.split('.').map(Number) as [number, number];
    return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
  }
  if (kind === 6) return host === '::1' || /^f[cd][0-9a-f]{2}:/.test(host);
  return false;
}

function readCa(r: ConfigReader, path: string, key: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    return r.fail(key, `cannot read the CA bundle "${path}" (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
}
