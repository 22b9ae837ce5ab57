import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_DIALECT,
  DEFAULT_FAILOVER_COOLDOWN_MS,
  DEFAULT_POOL,
  DEFAULT_RETRIES,
  DEFAULT_TIMEOUTS,
} from '../src/config/target-config.js';
import {
  ConfigError,
  DEFAULT_BODY_LIMIT,
  DEFAULT_SHUTDOWN_GRACE_MS,
  type Env,
  loadConfig,
  parseConfig,
  type TargetConfig,
} from '../src/config.js';

const SOURCE = 'conf/test.toml';
const REPO_CONFIG = fileURLToPath(new URL('../llm-proxy.toml', import.meta.url));

const TARGET = '[targets.local]\nbase_url = "http://127.0.0.1:8000/v1"\n';

function configError(text: string, env: Env = {}): ConfigError {
  try {
    parseConfig(text, SOURCE, env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

/** The message starts with the file, then the key. */
const msg = (key: string, rest: string) =>
  new RegExp(`^conf/test\\.toml: ${key.replace(/[.[\]]/g, '\\$&')}: ${rest}$`);

/** A target as parsed with every default, with `over` applied. */
function expectedTarget(name: string, baseUrls: string[], over: Partial<TargetConfig> = {}): TargetConfig {
  return {
    name,
    baseUrls,
    apiKey: null,
    apiKeyEnv: null,
    forwardClientKey: false,
    hostedTools: 'drop',
    headers: {},
    models: [],
    modelMap: {},
    protocol: null,
    dialect: DEFAULT_DIALECT,
    fallbacks: [],
    ca: null,
    timeouts: DEFAULT_TIMEOUTS,
    retries: DEFAULT_RETRIES,
    pool: DEFAULT_POOL,
    failoverCooldownMs: DEFAULT_FAILOVER_COOLDOWN_MS,
    secrets: [],
    ...over,
  };
}

const DEFAULT_SERVER = {
  host: '127.0.0.1',
  port: 8080,
  bodyLimit: 20 * 1024 * 1024,
  streamKeepAliveMs: 0,
  shutdownGraceMs: 30_000,
  admin: null,
};

const tmp = mkdtempSync(join(tmpdir(), 'llm-proxy-config-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('parseConfig: defaults', () => {
  it('fills every default from a minimal file', () => {
    expect(parseConfig(TARGET, SOURCE, {})).toStrictEqual({
      source: SOURCE,
      server: DEFAULT_SERVER,
      logging: { level: 'info', pretty: false },
      auth: { apiKeys: [], apiKeysEnv: null },
      reasoningKey: null,
      defaultTarget: null,
      targets: [expectedTarget('local', ['http://127.0.0.1:8000/v1'])],
      // [store] has its own tests.
      store: expect.any(Object),
    });
    expect(DEFAULT_BODY_LIMIT).toBe(20_971_520);
    expect(DEFAULT_SHUTDOWN_GRACE_MS).toBe(30_000);
    expect(DEFAULT_DIALECT).toStrictEqual({
      maxTokensField: 'max_tokens',
      systemRole: 'merge',
      reasoningField: 'reasoning_content',
      structuredOutput: 'json_schema',
    });
    expect(DEFAULT_TIMEOUTS).toStrictEqual({
      connectMs: 5_000,
      firstByteMs: 600_000,
      idleMs: 300_000,
      totalMs: 1_800_000,
    });
    expect(DEFAULT_RETRIES).toStrictEqual({ max: 2, baseDelayMs: 250, maxDelayMs: 8_000 });
    expect(DEFAULT_POOL).toStrictEqual({ connections: 128, keepAliveMs: 4_000 });
    expect(DEFAULT_FAILOVER_COOLDOWN_MS).toBe(30_000);
  });

  it('accepts empty [server] and [logging] tables', () => {
    const c = parseConfig(`[server]\n[logging]\n${TARGET}`, SOURCE, {});
    expect(c.server).toStrictEqual(DEFAULT_SERVER);
    expect(c.logging.level).toBe('info');
  });
});

describe('parseConfig: good files', () => {
  it('reads every key', () => {
    const text = `
[server]
host = "0.0.0.0"
port = 9000
body_limit = 1048576

[logging]
level = "debug"

[targets.openai]
base_url = "https://api.openai.com/v1/"
api_key_env = "OPENAI_API_KEY"
models = ["gpt-*", "o*"]
max_tokens_field = "max_completion_tokens"
headers = { "OpenAI-Organization" = "org-123", "X-Trace" = "on" }

[targets.vllm]
base_url = "http://10.0.0.5:8000/v1"
models = ["Qwen/*"]
`;
    expect(parseConfig(text, SOURCE, { OPENAI_API_KEY: 'sk-test-123' })).toStrictEqual({
      source: SOURCE,
      server: { ...DEFAULT_SERVER, host: '0.0.0.0', port: 9000, bodyLimit: 1_048_576 },
      logging: { level: 'debug', pretty: false },
      auth: { apiKeys: [], apiKeysEnv: null },
      reasoningKey: null,
      defaultTarget: null,
      targets: [
        expectedTarget('openai', ['https://api.openai.com/v1'], {
          apiKey: 'sk-test-123',
          apiKeyEnv: 'OPENAI_API_KEY',
          headers: { 'openai-organization': 'org-123', 'x-trace': 'on' },
          models: ['gpt-*', 'o*'],
          dialect: { ...DEFAULT_DIALECT, maxTokensField: 'max_completion_tokens' },
          secrets: ['sk-test-123'],
        }),
        expectedTarget('vllm', ['http://10.0.0.5:8000/v1'], { models: ['Qwen/*'] }),
      ],
      store: expect.any(Object),
    });
  });

  it.each([
    ['http://127.0.0.1:8000/v1', 'http://127.0.0.1:8000/v1'],
    ['http://127.0.0.1:8000/v1/', 'http://127.0.0.1:8000/v1'],
    ['http://127.0.0.1:8000/v1///', 'http://127.0.0.1:8000/v1'],
    ['https://api.example.com/', 'https://api.example.com'],
    ['https://api.example.com', 'https://api.example.com'],
    ['http://[::1]:11434/v1', 'http://[::1]:11434/v1'],
  ])('base_url %s becomes %s', (given, expected) => {
    const c = parseConfig(`[targets.t]\nbase_url = "${given}"\n`, SOURCE, {});
    expect(c.targets[0]?.baseUrls).toStrictEqual([expected]);
  });

  it('reads the api key from the env it is given, not from process.env', () => {
    const text = `${TARGET}api_key_env = "MY_KEY"\n`;
    const c = parseConfig(text, SOURCE, { MY_KEY: 'secret-value' });
    expect(c.targets[0]?.apiKey).toBe('secret-value');
    expect(c.targets[0]?.apiKeyEnv).toBe('MY_KEY');
    expect(process.env.PATH).toBeTruthy();
    expect(() => parseConfig(`${TARGET}api_key_env = "PATH"\n`, SOURCE, {})).toThrow(ConfigError);
  });

  it('lower-cases header names and keeps the values as written', () => {
    const c = parseConfig(
      `${TARGET}headers = { "X-Api-Version" = "2024-01-01", "ACCEPT-Language" = "EN" }\n`,
      SOURCE,
      {},
    );
    expect(c.targets[0]?.headers).toStrictEqual({ 'x-api-version': '2024-01-01', 'accept-language': 'EN' });
  });

  it('accepts headers as a sub-table', () => {
    const c = parseConfig(`${TARGET}\n[targets.local.headers]\nX-One = "1"\n`, SOURCE, {});
    expect(c.targets[0]?.headers).toStrictEqual({ 'x-one': '1' });
  });

  it('keeps the targets in file order', () => {
    const text = ['b', 'a', 'c']
      .map((n) => `[targets.${n}]\nbase_url = "https://${n}.example/v1"\n`)
      .join('\n');
    expect(parseConfig(text, SOURCE, {}).targets.map((t) => t.name)).toEqual(['b', 'a', 'c']);
  });

  it.each([
    ['port 0 (any free port)', 'port = 0', 'port', 0],
    ['port 65535', 'port = 65535', 'port', 65535],
    ['smallest body_limit', 'body_limit = 1024', 'bodyLimit', 1024],
    ['largest body_limit', 'body_limit = 1073741824', 'bodyLimit', 1024 ** 3],
  ])('accepts %s', (_name, line, field, value) => {
    const c = parseConfig(`[server]\n${line}\n${TARGET}`, SOURCE, {});
    expect(c.server[field as 'port' | 'bodyLimit']).toBe(value);
  });

  it.each(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])(
    'accepts logging level %s',
    (level) => {
      expect(parseConfig(`[logging]\nlevel = "${level}"\n${TARGET}`, SOURCE, {}).logging.level).toBe(level);
    },
  );

  it.each(['max_tokens', 'max_completion_tokens'])('accepts max_tokens_field %s', (field) => {
    const c = parseConfig(`${TARGET}max_tokens_field = "${field}"\n`, SOURCE, {});
    expect(c.targets[0]?.dialect.maxTokensField).toBe(field);
  });

  it.each(['local', 'my-target', 'my_target', 'Target2', '2'])('accepts target name %s', (name) => {
    const c = parseConfig(`[targets.${name}]\nbase_url = "http://localhost/v1"\n`, SOURCE, {});
    expect(c.targets[0]?.name).toBe(name);
  });

  it('[auth] reasoning_key_env: the secret that seals reasoning, read from the environment', () => {
    const c = parseConfig(`[auth]\nreasoning_key_env = "SEAL_KEY"\n${TARGET}`, SOURCE, { SEAL_KEY: 'k-123' });
    expect(c.reasoningKey).toBe('k-123');
    expect(parseConfig(TARGET, SOURCE, {}).reasoningKey).toBeNull();
  });

  it.each([
    ['unset', {}],
    ['empty', { SEAL_KEY: '' }],
  ])('[auth] reasoning_key_env naming an %s variable is an error', (_label, env) => {
    expect(() => parseConfig(`[auth]\nreasoning_key_env = "SEAL_KEY"\n${TARGET}`, SOURCE, env)).toThrow(
      /^conf\/test\.toml: auth\.reasoning_key_env: environment variable SEAL_KEY is not set$/,
    );
  });

  it('returns a deeply frozen object', () => {
    const c = parseConfig(
      `${TARGET}models = ["a"]\nheaders = { X = "y" }\nmodel_map = { a = "b" }\n`,
      SOURCE,
      {},
    );
    const target = c.targets[0];
    for (const part of [
      c,
      c.server,
      c.logging,
      c.auth,
      c.targets,
      target,
      target?.baseUrls,
      target?.headers,
      target?.models,
      target?.modelMap,
      target?.dialect,
      target?.timeouts,
      target?.retries,
      target?.pool,
      target?.fallbacks,
      target?.secrets,
    ]) {
      expect(Object.isFrozen(part)).toBe(true);
    }
    expect(() => {
      (c.server as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      (c.targets as unknown as string[]).push('x');
    }).toThrow(TypeError);
    expect(c.server.port).toBe(8080);
  });
});

describe('parseConfig: bad files name the file and the key', () => {
  it.each([
    [
      'unknown top-level key',
      `listen = 8080\n${TARGET}`,
      'listen',
      /^unknown key; expected one of: server, logging, auth, defaults, targets, store$/,
    ],
    [
      'unknown key in [server]',
      `[server]\nhostname = "x"\n${TARGET}`,
      'server.hostname',
      /^unknown key; expected one of: host, port, body_limit/,
    ],
    [
      'unknown key in [logging]',
      `[logging]\nlevel = "info"\nformat = "json"\n${TARGET}`,
      'logging.format',
      /^unknown key; expected one of: level, pretty$/,
    ],
    [
      'unknown key in a target',
      `${TARGET}model = "x"\n`,
      'targets.local.model',
      /^unknown key; expected one of: base_url, api_key_env, models, model_map, fallbacks, headers, protocol, max_tokens_field, system_role, reasoning_field, structured_output, timeouts, retries, pool, failover_cooldown, forward_client_key, hosted_tools, ca_file$/,
    ],
    ['server not a table', `server = 8080\n${TARGET}`, 'server', /^expected a table, got number 8080$/],
    [
      'logging not a table',
      `logging = "debug"\n${TARGET}`,
      'logging',
      /^expected a table, got the string "debug"$/,
    ],
    [
      'port as a string',
      `[server]\nport = "8080"\n${TARGET}`,
      'server.port',
      /^expected an integer, got the string "8080"$/,
    ],
    [
      'port as a float',
      `[server]\nport = 80.5\n${TARGET}`,
      'server.port',
      /^expected an integer, got number 80.5$/,
    ],
    [
      'port above the range',
      `[server]\nport = 70000\n${TARGET}`,
      'server.port',
      /^must be between 0 and 65535, got 70000$/,
    ],
    [
      'port below the range',
      `[server]\nport = -1\n${TARGET}`,
      'server.port',
      /^must be between 0 and 65535, got -1$/,
    ],
    [
      'port as a boolean',
      `[server]\nport = true\n${TARGET}`,
      'server.port',
      /^expected an integer, got boolean true$/,
    ],
    [
      'host not a string',
      `[server]\nhost = 127\n${TARGET}`,
      'server.host',
      /^expected a string, got number 127$/,
    ],
    [
      'body_limit too small',
      `[server]\nbody_limit = 100\n${TARGET}`,
      'server.body_limit',
      /^must be between 1024 and 1073741824, got 100$/,
    ],
    [
      'body_limit as a string',
      `[server]\nbody_limit = "20MB"\n${TARGET}`,
      'server.body_limit',
      /^expected an integer, got the string "20MB"$/,
    ],
    [
      'bad logging level',
      `[logging]\nlevel = "verbose"\n${TARGET}`,
      'logging.level',
      /^expected one of "fatal", "error", "warn", "info", "debug", "trace", "silent", got the string "verbose"$/,
    ],
    [
      'logging level in capitals',
      `[logging]\nlevel = "INFO"\n${TARGET}`,
      'logging.level',
      /^expected one of .*, got the string "INFO"$/,
    ],
    [
      'logging level not a string',
      `[logging]\nlevel = 3\n${TARGET}`,
      'logging.level',
      /^expected one of .*, got number 3$/,
    ],
    [
      'no targets at all',
      '[server]\nport = 8080\n',
      'targets',
      /^at least one \[targets\.NAME\] table with a base_url is required$/,
    ],
    [
      'an empty [targets] table',
      '[targets]\n',
      'targets',
      /^at least one \[targets\.NAME\] table with a base_url is required$/,
    ],
    ['targets not a table', 'targets = ["http://h/v1"]\n', 'targets', /^expected a table, got a list$/],
    [
      'a target that is not a table',
      '[targets]\nlocal = "http://h/v1"\n',
      'targets.local',
      /^expected a table, got the string "http:\/\/h\/v1"$/,
    ],
    [
      'a target name with a space',
      '[targets."my target"]\nbase_url = "http://h/v1"\n',
      'targets.my target',
      /^target names may use only letters, digits, "_" and "-"$/,
    ],
    [
      'a target name with a dot',
      '[targets."a.b"]\nbase_url = "http://h/v1"\n',
      'targets.a.b',
      /^target names may use only/,
    ],
    [
      'a target name with a slash',
      '[targets."a/b"]\nbase_url = "http://h/v1"\n',
      'targets.a/b',
      /^target names may use only/,
    ],
    [
      'an empty target name',
      '[targets.""]\nbase_url = "http://h/v1"\n',
      'targets.',
      /^target names may use only/,
    ],
    [
      'missing base_url',
      '[targets.local]\nmodels = ["x"]\n',
      'targets.local.base_url',
      /^is required \(a URL or a list of URLs\)$/,
    ],
    [
      'base_url not a string',
      '[targets.local]\nbase_url = 8000\n',
      'targets.local.base_url',
      /^expected a string or a list of strings, got number 8000$/,
    ],
    [
      'base_url not a URL',
      '[targets.local]\nbase_url = "not a url"\n',
      'targets.local.base_url',
      /^not a valid URL; write it like "https:\/\/api\.example\.com\/v1"$/,
    ],
    [
      'base_url with ftp',
      '[targets.local]\nbase_url = "ftp://h/v1"\n',
      'targets.local.base_url',
      /^must start with http:\/\/ or https:\/\/, got "ftp:"$/,
    ],
    [
      'base_url without a scheme',
      '[targets.local]\nbase_url = "localhost:8000/v1"\n',
      'targets.local.base_url',
      /^must start with http:\/\/ or https:\/\//,
    ],
    [
      'base_url with user and password',
      '[targets.local]\nbase_url = "http://me:hunter2@h/v1"\n',
      'targets.local.base_url',
      /^must not embed credentials; use api_key_env or headers$/,
    ],
    [
      'base_url with a user only',
      '[targets.local]\nbase_url = "https://token@h/v1"\n',
      'targets.local.base_url',
      /^must not embed credentials/,
    ],
    [
      'base_url with a query string',
      '[targets.local]\nbase_url = "http://h/v1?key=1"\n',
      'targets.local.base_url',
      /^must not have a query string or fragment$/,
    ],
    [
      'base_url with a fragment',
      '[targets.local]\nbase_url = "http://h/v1#x"\n',
      'targets.local.base_url',
      /^must not have a query string or fragment$/,
    ],
    [
      'headers not a table',
      `${TARGET}headers = "X-A: b"\n`,
      'targets.local.headers',
      /^expected a table, got the string "X-A: b"$/,
    ],
    [
      'headers as a list',
      `${TARGET}headers = ["a"]\n`,
      'targets.local.headers',
      /^expected a table, got a list$/,
    ],
    [
      'a header value not a string',
      `${TARGET}headers = { X-Count = 1 }\n`,
      'targets.local.headers.X-Count',
      /^expected a string, got number 1$/,
    ],
    [
      'models not a list',
      `${TARGET}models = "gpt-*"\n`,
      'targets.local.models',
      /^expected a list of strings, got the string "gpt-\*"$/,
    ],
    [
      'models as a table',
      `${TARGET}models = { a = 1 }\n`,
      'targets.local.models',
      /^expected a list of strings, got a table$/,
    ],
    [
      'a model pattern not a string',
      `${TARGET}models = ["a", 2]\n`,
      'targets.local.models[1]',
      /^expected a string, got number 2$/,
    ],
    [
      'an empty model pattern',
      `${TARGET}models = ["a", ""]\n`,
      'targets.local.models[1]',
      /^a pattern cannot be empty$/,
    ],
    [
      'a blank model pattern',
      `${TARGET}models = ["  "]\n`,
      'targets.local.models[0]',
      /^a pattern cannot be empty$/,
    ],
    [
      'api_key_env naming an unset variable',
      `${TARGET}api_key_env = "MISSING_KEY"\n`,
      'targets.local.api_key_env',
      /^environment variable MISSING_KEY is not set; export it or remove api_key_env$/,
    ],
    [
      'api_key_env not a string',
      `${TARGET}api_key_env = 1\n`,
      'targets.local.api_key_env',
      /^expected a string, got number 1$/,
    ],
    [
      'bad max_tokens_field',
      `${TARGET}max_tokens_field = "max_new_tokens"\n`,
      'targets.local.max_tokens_field',
      /^expected one of "max_tokens", "max_completion_tokens", got the string "max_new_tokens"$/,
    ],
    [
      'a date where a string belongs',
      '[targets.local]\nbase_url = 2024-01-01\n',
      'targets.local.base_url',
      /^expected a string or a list of strings, got a date$/,
    ],
  ])('%s', (_name, text, key, problem) => {
    const err = configError(text);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('ConfigError');
    expect(err.source).toBe(SOURCE);
    expect(err.key).toBe(key);
    expect(err.message.startsWith(`${SOURCE}: ${key}: `)).toBe(true);
    expect(err.message.slice(`${SOURCE}: ${key}: `.length)).toMatch(problem);
    expect(err.message).not.toContain('\n');
  });

  it('names the unset variable when it is set but empty', () => {
    const err = configError(`${TARGET}api_key_env = "EMPTY_KEY"\n`, { EMPTY_KEY: '' });
    expect(err.message).toMatch(
      msg('targets.local.api_key_env', 'environment variable EMPTY_KEY is not set; .*'),
    );
  });

  it('does not repeat the credentials of a base_url', () => {
    const err = configError('[targets.local]\nbase_url = "http://me:hunter2@h/v1"\n');
    expect(err.message).not.toContain('hunter2');
  });

  it('does not repeat the value of an unknown key', () => {
    const err = configError(`${TARGET}api_key = "sk-secret"\n`);
    expect(err.message).toMatch(msg('targets.local.api_key', 'unknown key; .*'));
    expect(err.message).not.toContain('sk-secret');
  });

  it.each([
    ['not TOML at all', 'this is not toml'],
    ['an unclosed table header', '[targets.local\nbase_url = "x"\n'],
    ['an unterminated string', '[targets.local]\nbase_url = "http://h/v1\n'],
    ['a JSON document', '{"targets": {}}'],
  ])('reports %s with the file and the line', (_name, text) => {
    const err = configError(text);
    expect(err.key).toBeNull();
    expect(err.message).toMatch(/^conf\/test\.toml: not valid TOML \(line \d+, column \d+: [^\n]+\)$/);
  });

  it('reports a duplicate key by name, with the line and what to do', () => {
    const err = configError(`${TARGET}base_url = "http://other/v1"\n`);
    expect(err.key).toBe('base_url');
    expect(err.message).toMatch(
      /^conf\/test\.toml: base_url: defined more than once \(line \d+\); keep one, or rename the other$/,
    );
  });

  it('checks the targets before the server values', () => {
    const err = configError('[server]\nport = "x"\n');
    expect(err.key).toBe('targets');
  });
});

describe('loadConfig', () => {
  it('reads a file and names it as the source', () => {
    const file = join(tmp, 'good.toml');
    writeFileSync(file, `[server]\nport = 1234\n${TARGET}`);
    const c = loadConfig(file, {});
    expect(c.source).toBe(file);
    expect(c.server.port).toBe(1234);
    expect(c.targets[0]?.baseUrls).toStrictEqual(['http://127.0.0.1:8000/v1']);
  });

  it('names the file and the key in a validation error', () => {
    const file = join(tmp, 'bad.toml');
    writeFileSync(file, `[server]\nport = 99999\n${TARGET}`);
    expect(() => loadConfig(file, {})).toThrow(ConfigError);
    expect(() => loadConfig(file, {})).toThrow(
      `${file}: server.port: must be between 0 and 65535, got 99999`,
    );
  });

  it('names the file in a TOML syntax error', () => {
    const file = join(tmp, 'syntax.toml');
    writeFileSync(file, 'port = = 1\n');
    expect(() => loadConfig(file, {})).toThrow(
      new RegExp(`^${escapeRegExp(file)}: not valid TOML \\(line 1, column \\d+: `),
    );
  });

  it('reports a missing file with what to do', () => {
    const file = join(tmp, 'nope', 'llm-proxy.toml');
    let err: unknown;
    try {
      loadConfig(file, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBeNull();
    expect((err as ConfigError).message).toBe(
      `${file}: file not found; pass --config FILE, set LLM_PROXY_CONFIG, or use --upstream URL`,
    );
  });

  it('reports a directory as unreadable', () => {
    const dir = join(tmp, 'a-directory.toml');
    mkdirSync(dir);
    expect(() => loadConfig(dir, {})).toThrow(
      new RegExp(
        `^${escapeRegExp(dir)}: cannot read the file \\(EISDIR\\); pass --config FILE, set LLM_PROXY_CONFIG, or use --upstream URL$`,
      ),
    );
  });

  it("parses the repo's own llm-proxy.toml", () => {
    const c = loadConfig(REPO_CONFIG, {});
    expect(c.source).toBe(REPO_CONFIG);
    expect(c.server.host).toBe('127.0.0.1');
    expect(c.server.port).toBe(8080);
    expect(c.logging.level).toBe('info');
    expect(c.targets).toHaveLength(1);
    expect(c.targets[0]).toStrictEqual(expectedTarget('ollama', ['http://127.0.0.1:11434/v1']));
  });
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
