// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${ENV} is the configuration syntax under test
/**
 * `[defaults]` and `[targets.NAME]`: table-driven bad files (each one line naming the file, the
 * key and the fix, never quoting a secret) and good files (inheritance, headers, env expansion,
 * URL lists, the protocol rule, `--upstream`).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_DIALECT,
  DEFAULT_POOL,
  DEFAULT_RETRIES,
  DEFAULT_TIMEOUTS,
  DEFAULTS_KEYS,
  isPrivateHost,
} from '../../src/config/target-config.js';
import { ConfigError, type Env, parseConfig, quickStartConfig, type TargetConfig } from '../../src/config.js';

const SOURCE = 'conf/targets.toml';
const A = '[targets.a]\nbase_url = "http://127.0.0.1:8000/v1"\n';
const B = '[targets.b]\nbase_url = "http://127.0.0.1:8001/v1"\n';
const tmp = mkdtempSync(join(tmpdir(), 'llm-proxy-targets-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const MISSING_CA = join(tmp, 'no-such-ca.pem');

function configError(text: string, env: Env = {}): ConfigError {
  try {
    parseConfig(text, SOURCE, env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

function targetsOf(text: string, env: Env = {}): Record<string, TargetConfig> {
  return Object.fromEntries(parseConfig(text, SOURCE, env).targets.map((t) => [t.name, t]));
}

/** Secret-looking values: none may ever appear in a message. */
const SECRET_ENV: Env = {
  TOKEN: 'tok-4f9a1c77e2',
  HOST: 'secret-host-93ab.example.com',
  CREDS: 'user-8c1d:pass-77e0',
  EMPTY: '',
  API_KEY: 'sk-live-0d1e2f3a4b',
};

const SHARED_LIST =
  'headers, protocol, max_tokens_field, system_role, reasoning_field, structured_output, timeouts, retries, pool, failover_cooldown, forward_client_key, hosted_tools, ca_file';
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('bad target configuration: one line naming the file, the key and the fix', () => {
  it.each<[string, string, string, RegExp]>([
    // unknown keys
    [
      'unknown key in [defaults]',
      `[defaults]\nbase_url = "http://127.0.0.1/v1"\n${A}`,
      'defaults.base_url',
      new RegExp(`^unknown key; expected one of: target, ${esc(SHARED_LIST)}$`),
    ],
    [
      'a target-only key in [defaults]',
      `[defaults]\nmodels = ["*"]\n${A}`,
      'defaults.models',
      /^unknown key; expected one of: target, headers, /,
    ],
    [
      'unknown key in a target',
      `${A}fallback = ["b"]\n`,
      'targets.a.fallback',
      new RegExp(
        `^unknown key; expected one of: base_url, api_key_env, models, model_map, fallbacks, ${esc(SHARED_LIST)}$`,
      ),
    ],
    [
      'unknown key in a target timeouts',
      `${A}timeouts = { connect = "1s", read = "5s" }\n`,
      'targets.a.timeouts.read',
      /^unknown key; expected one of: connect, first_byte, idle, total$/,
    ],
    [
      'unknown key in [defaults] timeouts',
      `[defaults]\ntimeouts = { conect = "1s" }\n${A}`,
      'defaults.timeouts.conect',
      /^unknown key; expected one of: connect, first_byte, idle, total$/,
    ],
    [
      'unknown key in retries',
      `${A}retries = { attempts = 3 }\n`,
      'targets.a.retries.attempts',
      /^unknown key; expected one of: max, base_delay, max_delay$/,
    ],
    [
      'unknown key in [defaults] retries',
      `[defaults]\nretries = { max = 1, jitter = true }\n${A}`,
      'defaults.retries.jitter',
      /^unknown key; expected one of: max, base_delay, max_delay$/,
    ],
    [
      'unknown key in pool',
      `${A}pool = { size = 3 }\n`,
      'targets.a.pool.size',
      /^unknown key; expected one of: connections, keep_alive$/,
    ],
    // wrong types and values
    ['[defaults] not a table', `defaults = "a"\n${A}`, 'defaults', /^expected a table, got the string "a"$/],
    [
      'timeouts not a table',
      `${A}timeouts = "5s"\n`,
      'targets.a.timeouts',
      /^expected a table, got the string "5s"$/,
    ],
    ['retries as a number', `${A}retries = 3\n`, 'targets.a.retries', /^expected a table, got number 3$/],
    ['pool as a list', `[defaults]\npool = [1]\n${A}`, 'defaults.pool', /^expected a table, got a list$/],
    [
      'retries.max as a string',
      `${A}retries = { max = "2" }\n`,
      'targets.a.retries.max',
      /^expected an integer, got the string "2"$/,
    ],
    [
      'retries.max too large',
      `${A}retries = { max = 11 }\n`,
      'targets.a.retries.max',
      /^must be between 0 and 10, got 11$/,
    ],
    [
      'retries.max negative',
      `${A}retries = { max = -1 }\n`,
      'targets.a.retries.max',
      /^must be between 0 and 10, got -1$/,
    ],
    [
      'pool.connections zero',
      `${A}pool = { connections = 0 }\n`,
      'targets.a.pool.connections',
      /^must be between 1 and 65536, got 0$/,
    ],
    [
      'forward_client_key as a string',
      `${A}forward_client_key = "yes"\n`,
      'targets.a.forward_client_key',
      /^expected true or false, got the string "yes"$/,
    ],
    [
      'bad protocol',
      `${A}protocol = "ftp"\n`,
      'targets.a.protocol',
      /^expected one of "https", "http", "any", got the string "ftp"$/,
    ],
    [
      'bad system_role',
      `${A}system_role = "user"\n`,
      'targets.a.system_role',
      /^expected one of "merge", "developer", "system", got the string "user"$/,
    ],
    [
      'bad reasoning_field',
      `${A}reasoning_field = "thinking"\n`,
      'targets.a.reasoning_field',
      /^expected one of "reasoning_content", "reasoning", "both", "none", got the string "thinking"$/,
    ],
    [
      'bad structured_output',
      `${A}structured_output = true\n`,
      'targets.a.structured_output',
      /^expected one of "json_schema", "json_object", "none", got boolean true$/,
    ],
    [
      'bad hosted_tools',
      `${A}hosted_tools = "ignore"\n`,
      'targets.a.hosted_tools',
      /^expected one of "reject", "drop", got the string "ignore"$/,
    ],
    [
      'bad hosted_tools in [defaults]',
      `[defaults]\nhosted_tools = false\n${A}`,
      'defaults.hosted_tools',
      /^expected one of "reject", "drop", got boolean false$/,
    ],
    [
      'bad max_tokens_field in [defaults]',
      `[defaults]\nmax_tokens_field = "max_new_tokens"\n${A}`,
      'defaults.max_tokens_field',
      /^expected one of "max_tokens", "max_completion_tokens", got the string "max_new_tokens"$/,
    ],
    [
      'bad system_role in [defaults], reported there',
      `[defaults]\nsystem_role = "assistant"\n${A}${B}system_role = "developer"\n`,
      'defaults.system_role',
      /^expected one of "merge", "developer", "system", got the string "assistant"$/,
    ],
    [
      'model_map as a list',
      `${A}model_map = ["a"]\n`,
      'targets.a.model_map',
      /^expected a table, got a list$/,
    ],
    [
      'a model_map value not a string',
      `${A}model_map = { small = 1 }\n`,
      'targets.a.model_map.small',
      /^expected a string, got number 1$/,
    ],
    [
      'an empty model_map value',
      `${A}model_map = { small = "" }\n`,
      'targets.a.model_map.small',
      /^model names cannot be empty$/,
    ],
    [
      'fallbacks as a string',
      `${A}fallbacks = "b"\n${B}`,
      'targets.a.fallbacks',
      /^expected a list of strings, got the string "b"$/,
    ],
    [
      '[defaults] headers not a table',
      `[defaults]\nheaders = "x"\n${A}`,
      'defaults.headers',
      /^expected a table, got the string "x"$/,
    ],
    [
      'a [defaults] header value not a string',
      `[defaults]\nheaders = { X-N = 1 }\n${A}`,
      'defaults.headers.X-N',
      /^expected a string, got number 1$/,
    ],
    ['ca_file not a string', `${A}ca_file = 1\n`, 'targets.a.ca_file', /^expected a string, got number 1$/],
    [
      'defaults.target not a string',
      `[defaults]\ntarget = 1\n${A}`,
      'defaults.target',
      /^expected a string, got number 1$/,
    ],
    [
      'an empty base_url list',
      '[targets.a]\nbase_url = []\n',
      'targets.a.base_url',
      /^is required \(a URL or a list of URLs\)$/,
    ],
    [
      'a base_url list with a number',
      '[targets.a]\nbase_url = ["http://127.0.0.1/v1", 2]\n',
      'targets.a.base_url[1]',
      /^expected a string, got number 2$/,
    ],
    [
      'a base_url as a table',
      '[targets.a]\nbase_url = { url = "http://127.0.0.1/v1" }\n',
      'targets.a.base_url',
      /^expected a string or a list of strings, got a table$/,
    ],
    // ${ENV}
    [
      'a header naming an unset variable',
      `${A}headers = { X-Token = "Bearer \${MISSING_TOKEN}" }\n`,
      'targets.a.headers.X-Token',
      /^environment variable MISSING_TOKEN is not set; export it before starting, or remove the reference$/,
    ],
    [
      'a [defaults] header naming an unset variable',
      `[defaults]\nheaders = { X-Token = "\${MISSING_TOKEN}" }\n${A}`,
      'defaults.headers.X-Token',
      /^environment variable MISSING_TOKEN is not set; export it/,
    ],
    [
      'a header naming an empty variable',
      `${A}headers = { X-Token = "\${EMPTY}" }\n`,
      'targets.a.headers.X-Token',
      /^environment variable EMPTY is not set; export it/,
    ],
    [
      'the second of two variables unset',
      `${A}headers = { X-Token = "\${TOKEN}:\${MISSING_TOKEN}" }\n`,
      'targets.a.headers.X-Token',
      /^environment variable MISSING_TOKEN is not set; export it/,
    ],
    [
      'a base_url naming an unset variable',
      '[targets.a]\nbase_url = "https://${MISSING_HOST}/v1"\n',
      'targets.a.base_url',
      /^environment variable MISSING_HOST is not set; export it before starting, or remove the reference$/,
    ],
    [
      'the second base_url naming an unset variable',
      '[targets.a]\nbase_url = ["https://${HOST}/v1", "https://${MISSING_HOST}/v1"]\n',
      'targets.a.base_url[1]',
      /^environment variable MISSING_HOST is not set; export it/,
    ],
    // the protocol rule
    [
      'http to a public host',
      '[targets.a]\nbase_url = "http://api.example.com/v1"\n',
      'targets.a.base_url',
      /^plain http:\/\/ to the public host "api\.example\.com" would send requests \(and keys\) unencrypted; use https:\/\/, or set protocol = "http" on the target if that is intended$/,
    ],
    [
      'http to a public IP',
      '[targets.a]\nbase_url = "http://8.8.8.8/v1"\n',
      'targets.a.base_url',
      /^plain http:\/\/ to the public host "8\.8\.8\.8" .*; use https:\/\/, or set protocol = "http"/,
    ],
    [
      'http just above 172.16/12',
      '[targets.a]\nbase_url = "http://172.32.0.1/v1"\n',
      'targets.a.base_url',
      /public host "172\.32\.0\.1"/,
    ],
    [
      'http to 192.169.x',
      '[targets.a]\nbase_url = "http://192.169.1.1/v1"\n',
      'targets.a.base_url',
      /public host "192\.169\.1\.1"/,
    ],
    [
      'http to a public host in the second base_url',
      '[targets.a]\nbase_url = ["http://127.0.0.1/v1", "http://api.example.com/v1"]\n',
      'targets.a.base_url[1]',
      /^plain http:\/\/ to the public host "api\.example\.com"/,
    ],
    [
      'http to a public host whose name comes from ${ENV}',
      '[targets.a]\nbase_url = "http://${HOST}/v1"\n',
      'targets.a.base_url',
      /^plain http:\/\/ to the public host "\[REDACTED\]" .*; use https:\/\//,
    ],
    [
      'protocol https with an http URL',
      '[targets.a]\nbase_url = "http://127.0.0.1:8000/v1"\nprotocol = "https"\n',
      'targets.a.base_url',
      /^protocol = "https" but the URL is http:\/\/; use an https:\/\/ URL or change protocol$/,
    ],
    [
      'protocol https from [defaults] with an http URL',
      `[defaults]\nprotocol = "https"\n${A}`,
      'targets.a.base_url',
      /^protocol = "https" but the URL is http:\/\//,
    ],
    [
      'protocol http with an https URL',
      '[targets.a]\nbase_url = "https://api.example.com/v1"\nprotocol = "http"\n',
      'targets.a.base_url',
      /^protocol = "http" but the URL is https:\/\/; use protocol = "any" or "https"$/,
    ],
    [
      'credentials in a base_url from ${ENV}',
      '[targets.a]\nbase_url = "https://${CREDS}@api.example.com/v1"\n',
      'targets.a.base_url',
      /^must not embed credentials; use api_key_env or headers$/,
    ],
    // duplicate-ish
    [
      'the same base_url twice',
      '[targets.a]\nbase_url = ["http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1/"]\n',
      'targets.a.base_url[1]',
      /^the same URL is listed twice; list each base URL once$/,
    ],
    [
      'a header twice in different case',
      `${A}headers = { X-Trace = "1", x-trace = "2" }\n`,
      'targets.a.headers.x-trace',
      /^header "x-trace" is set twice \(names are case-insensitive\); keep one$/,
    ],
    [
      'a [defaults] header twice in different case',
      `[defaults]\nheaders = { Accept-Language = "en", ACCEPT-LANGUAGE = "de" }\n${A}`,
      'defaults.headers.ACCEPT-LANGUAGE',
      /^header "accept-language" is set twice/,
    ],
    [
      'an authorization header and api_key_env',
      `${A}api_key_env = "API_KEY"\nheaders = { Authorization = "Bearer \${TOKEN}" }\n`,
      'targets.a.headers.Authorization',
      /^conflicts with api_key_env \(which sends Authorization: Bearer\); keep one$/,
    ],
    [
      'a fallback listed twice',
      `${A}fallbacks = ["b", "b"]\n${B}`,
      'targets.a.fallbacks[1]',
      /^"b" is listed twice; list each fallback once$/,
    ],
    [
      'a target defined twice',
      `${A}${A}`,
      'targets.a',
      /^defined more than once \(line \d+\); keep one, or rename the other$/,
    ],
    [
      'a key given twice in one table',
      `${A}max_tokens_field = "max_tokens"\nmax_tokens_field = "max_tokens"\n`,
      'max_tokens_field',
      /^defined more than once \(line \d+\); keep one, or rename the other$/,
    ],
    // references between targets
    [
      'a fallback naming an unknown target',
      `${A}fallbacks = ["c"]\n${B}`,
      'targets.a.fallbacks[0]',
      /^no target named "c"; known targets: a, b$/,
    ],
    [
      'a fallback naming itself',
      `${A}${B}fallbacks = ["a", "b"]\n`,
      'targets.b.fallbacks[1]',
      /^a target cannot fall back to itself; remove it$/,
    ],
    [
      'defaults.target naming an unknown target',
      `[defaults]\ntarget = "c"\n${A}${B}`,
      'defaults.target',
      /^no target named "c"; known targets: a, b$/,
    ],
    // patterns
    [
      'a ** pattern',
      `${A}models = ["gpt-*", "**"]\n`,
      'targets.a.models[1]',
      /^"\*\*": use a single "\*" to match any run of characters$/,
    ],
    [
      'a pattern with ** inside',
      `${A}models = ["org/**-instruct"]\n`,
      'targets.a.models[0]',
      /^"org\/\*\*-instruct": use a single "\*"/,
    ],
    // durations
    ...(
      [
        ['a number', '5', 'number 5'],
        ['no unit', '"5"', 'the string "5"'],
        ['a spelled-out unit', '"5 sec"', 'the string "5 sec"'],
        ['a negative value', '"-1s"', 'the string "-1s"'],
        ['zero', '"0s"', 'the string "0s"'],
        ['"off"', '"off"', 'the string "off"'],
        ['days', '"1d"', 'the string "1d"'],
      ] as const
    ).map(
      ([what, value, got]) =>
        [
          `timeouts.connect as ${what}`,
          `${A}timeouts = { connect = ${value} }\n`,
          'targets.a.timeouts.connect',
          new RegExp(`^expected a duration like "250ms", "5s" or "10m", got ${esc(got)}$`),
        ] as [string, string, string, RegExp],
    ),
    [
      'a bad failover_cooldown',
      `${A}failover_cooldown = "soon"\n`,
      'targets.a.failover_cooldown',
      /^expected a duration like "250ms", "5s" or "10m", got the string "soon"$/,
    ],
    [
      'a bad [defaults] timeouts.total',
      `[defaults]\ntimeouts = { total = "forever" }\n${A}`,
      'defaults.timeouts.total',
      /^expected a duration like/,
    ],
    [
      'a bad retries.base_delay',
      `${A}retries = { base_delay = "fast" }\n`,
      'targets.a.retries.base_delay',
      /^expected a duration like "250ms", "5s" or "10m" \(or "off"\), got the string "fast"$/,
    ],
    [
      'a zero pool.keep_alive',
      `${A}pool = { keep_alive = "0ms" }\n`,
      'targets.a.pool.keep_alive',
      /^expected a duration like/,
    ],
    [
      'retries max_delay shorter than base_delay',
      `${A}retries = { base_delay = "2s", max_delay = "1s" }\n`,
      'targets.a.retries.max_delay',
      /^must not be shorter than base_delay$/,
    ],
    [
      'retries max_delay shorter than the default base_delay',
      `[defaults]\nretries = { max_delay = "100ms" }\n${A}`,
      'defaults.retries.max_delay',
      /^must not be shorter than base_delay$/,
    ],
    // files
    [
      'an unreadable ca_file',
      `${A}ca_file = "${MISSING_CA}"\n`,
      'targets.a.ca_file',
      new RegExp(`^cannot read the CA bundle "${esc(MISSING_CA)}" \\(ENOENT\\)$`),
    ],
    [
      'an unreadable ca_file in [defaults]',
      `[defaults]\nca_file = "${MISSING_CA}"\n${A}`,
      'defaults.ca_file',
      /^cannot read the CA bundle ".*no-such-ca\.pem" \(ENOENT\)$/,
    ],
    [
      'a directory as ca_file',
      `${A}ca_file = "${tmp}"\n`,
      'targets.a.ca_file',
      /^cannot read the CA bundle ".*" \(EISDIR\)$/,
    ],
  ])('%s', (_name, text, key, problem) => {
    const err = configError(text, SECRET_ENV);
    expect(err.name).toBe('ConfigError');
    expect(err.source).toBe(SOURCE);
    expect(err.message).not.toContain('\n');
    for (const value of Object.values(SECRET_ENV)) {
      if (value) expect(err.message).not.toContain(value);
    }
    expect(err.key).toBe(key);
    expect(err.message.startsWith(`${SOURCE}: ${key}: `)).toBe(true);
    expect(err.message.slice(`${SOURCE}: ${key}: `.length)).toMatch(problem);
  });

  it('checks every target, not only the first', () => {
    expect(configError(`${A}${B}protocol = "nope"\n`).key).toBe('targets.b.protocol');
  });

  it('names the target the bad inherited value applies to only through [defaults]', () => {
    // The value is wrong in [defaults]: that is where the fix goes.
    expect(configError(`[defaults]\nfailover_cooldown = "x"\n${A}`).key).toBe('defaults.failover_cooldown');
  });

  it('lists exactly the shared keys and target in [defaults]', () => {
    expect(DEFAULTS_KEYS.join(', ')).toBe(`target, ${SHARED_LIST}`);
  });
});

describe('good target configuration', () => {
  it('inherits every [defaults] value, and a target value wins', () => {
    const ca = join(tmp, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const text = `
[defaults]
target = "a"
protocol = "any"
max_tokens_field = "max_completion_tokens"
system_role = "developer"
reasoning_field = "both"
structured_output = "json_object"
timeouts = { connect = "2s", first_byte = "1m", idle = "30s", total = "5m" }
retries = { max = 0, base_delay = "1ms", max_delay = "10ms" }
pool = { connections = 4, keep_alive = "1s" }
failover_cooldown = "1500ms"
forward_client_key = true
ca_file = "${ca}"

[targets.a]
base_url = "http://api.example.com/v1"

[targets.b]
base_url = "https://api.example.com/v1"
protocol = "https"
max_tokens_field = "max_tokens"
system_role = "system"
reasoning_field = "none"
structured_output = "none"
timeouts = { connect = "1s" }
retries = { max = 3 }
pool = { connections = 1 }
failover_cooldown = "1h"
forward_client_key = false
`;
    const config = parseConfig(text, SOURCE, {});
    expect(config.defaultTarget).toBe('a');
    const { a, b } = targetsOf(text);
    expect(a).toMatchObject({
      baseUrls: ['http://api.example.com/v1'],
      protocol: 'any',
      dialect: {
        maxTokensField: 'max_completion_tokens',
        systemRole: 'developer',
        reasoningField: 'both',
        structuredOutput: 'json_object',
      },
      timeouts: { connectMs: 2_000, firstByteMs: 60_000, idleMs: 30_000, totalMs: 300_000 },
      retries: { max: 0, baseDelayMs: 1, maxDelayMs: 10 },
      pool: { connections: 4, keepAliveMs: 1_000 },
      failoverCooldownMs: 1_500,
      forwardClientKey: true,
      ca: readFileSync(ca, 'utf8'),
    });
    expect(b).toMatchObject({
      protocol: 'https',
      dialect: {
        maxTokensField: 'max_tokens',
        systemRole: 'system',
        reasoningField: 'none',
        structuredOutput: 'none',
      },
      // A target's table replaces the [defaults] table as a whole (only headers are merged).
      timeouts: { ...DEFAULT_TIMEOUTS, connectMs: 1_000 },
      retries: { ...DEFAULT_RETRIES, max: 3 },
      pool: { ...DEFAULT_POOL, connections: 1 },
      failoverCooldownMs: 3_600_000,
      forwardClientKey: false,
      ca: readFileSync(ca, 'utf8'),
    });
  });

  it('hosted_tools: drop by default (Codex always offers web_search), reject from [defaults], a target wins', () => {
    expect(targetsOf(A).a?.hostedTools).toBe('drop');
    const { a, b } = targetsOf(`[defaults]\nhosted_tools = "reject"\n${A}${B}hosted_tools = "drop"\n`);
    expect(a?.hostedTools).toBe('reject');
    expect(b?.hostedTools).toBe('drop');
  });

  it('gives a target without [defaults] the built-in dialect', () => {
    expect(targetsOf(A).a?.dialect).toStrictEqual(DEFAULT_DIALECT);
  });

  it('merges [defaults] and target headers, lower-cased, the target winning', () => {
    const text = `
[defaults]
headers = { X-A = "1", X-B = "2", User-Agent = "llm-proxy" }
${A}headers = { x-b = "3", X-C = "4" }
${B}`;
    const { a, b } = targetsOf(text);
    expect(a?.headers).toStrictEqual({ 'x-a': '1', 'x-b': '3', 'user-agent': 'llm-proxy', 'x-c': '4' });
    expect(b?.headers).toStrictEqual({ 'x-a': '1', 'x-b': '2', 'user-agent': 'llm-proxy' });
  });

  it('expands ${ENV} in headers and base_url, and keeps every expanded value and the key as secrets', () => {
    const text = `
[defaults]
headers = { X-Org = "org-\${ORG_ID}" }

[targets.a]
base_url = ["https://\${HOST}/v1", "https://backup.example.com/\${PATH_PART}/v1"]
api_key_env = "API_KEY"
headers = { X-Token = "\${TOKEN}", X-Both = "\${TOKEN}+\${ORG_ID}", X-Plain = "$HOME and {x} and $ and \${lower}" }
`;
    const env = { ...SECRET_ENV, ORG_ID: 'org-9911aa', PATH_PART: 'tenant-5521', lower: 'lower-value' };
    const { a } = targetsOf(text, env);
    expect(a?.baseUrls).toStrictEqual([
      'https://secret-host-93ab.example.com/v1',
      'https://backup.example.com/tenant-5521/v1',
    ]);
    expect(a?.apiKey).toBe('sk-live-0d1e2f3a4b');
    expect(a?.headers).toStrictEqual({
      'x-org': 'org-org-9911aa',
      'x-token': 'tok-4f9a1c77e2',
      'x-both': 'tok-4f9a1c77e2+org-9911aa',
      // Only ${NAME} is a reference; $NAME and braces alone are literal.
      'x-plain': '$HOME and {x} and $ and lower-value',
    });
    expect([...(a?.secrets ?? [])].sort()).toStrictEqual(
      [
        'secret-host-93ab.example.com',
        'tenant-5521',
        'sk-live-0d1e2f3a4b',
        'org-9911aa',
        'tok-4f9a1c77e2',
        'tok-4f9a1c77e2',
        'org-9911aa',
        'lower-value',
      ].sort(),
    );
  });

  it('reads env only from the env it is given', () => {
    expect(process.env.PATH).toBeTruthy();
    expect(configError(`${A}headers = { X-P = "\${PATH}" }\n`, {}).key).toBe('targets.a.headers.X-P');
  });

  it('takes a list of base URLs, in order, without trailing slashes', () => {
    const { a } = targetsOf(
      '[targets.a]\nbase_url = ["http://10.0.0.1:8000/v1/", "http://10.0.0.2:8000/v1", "https://gpu.example.com/"]\n',
    );
    expect(a?.baseUrls).toStrictEqual([
      'http://10.0.0.1:8000/v1',
      'http://10.0.0.2:8000/v1',
      'https://gpu.example.com',
    ]);
  });

  it.each([
    'http://127.0.0.1:8000/v1',
    'http://127.255.255.254/v1',
    'http://localhost:11434/v1',
    'http://LOCALHOST/v1',
    'http://ollama.localhost/v1',
    'http://[::1]:8000/v1',
    'http://10.1.2.3/v1',
    'http://172.16.0.1/v1',
    'http://172.31.255.255/v1',
    'http://192.168.1.20:1234/v1',
    'http://[fd00::5]/v1',
  ])('accepts plain http to the private host in %s by default', (url) => {
    expect(targetsOf(`[targets.a]\nbase_url = "${url}"\n`).a?.baseUrls).toHaveLength(1);
  });

  it.each([
    ['http', 'http://api.example.com/v1'],
    ['any', 'http://api.example.com/v1'],
    ['any', 'https://api.example.com/v1'],
    ['https', 'https://api.example.com/v1'],
    ['http', 'http://127.0.0.1/v1'],
  ])('protocol = "%s" accepts %s', (protocol, url) => {
    const { a } = targetsOf(`[targets.a]\nbase_url = "${url}"\nprotocol = "${protocol}"\n`);
    expect(a?.protocol).toBe(protocol);
    expect(a?.baseUrls).toStrictEqual([url]);
  });

  it.each([
    ['"250ms"', 250],
    ['"1.5s"', 1_500],
    ['"10m"', 600_000],
    ['"1h"', 3_600_000],
    ['" 5s "', 5_000],
  ])('reads the duration %s', (value, ms) => {
    expect(targetsOf(`${A}timeouts = { connect = ${value} }\n`).a?.timeouts.connectMs).toBe(ms);
  });

  it('allows "off" and 0 for the retry delays', () => {
    expect(
      targetsOf(`${A}retries = { max = 1, base_delay = "off", max_delay = 0 }\n`).a?.retries,
    ).toStrictEqual({
      max: 1,
      baseDelayMs: 0,
      maxDelayMs: 0,
    });
  });

  it('reads models, model_map and fallbacks', () => {
    const { a, b } = targetsOf(
      `${A}models = ["gpt-*", "o1"]\nmodel_map = { smart = "gpt-4o", "org/x" = "y" }\nfallbacks = ["b"]\n${B}`,
    );
    expect(a?.models).toStrictEqual(['gpt-*', 'o1']);
    expect(a?.modelMap).toStrictEqual({ smart: 'gpt-4o', 'org/x': 'y' });
    expect(a?.fallbacks).toStrictEqual(['b']);
    expect(b?.fallbacks).toStrictEqual([]);
  });

  it('allows two targets to fall back to each other', () => {
    const { a, b } = targetsOf(`${A}fallbacks = ["b"]\n${B}fallbacks = ["a"]\n`);
    expect([a?.fallbacks, b?.fallbacks]).toStrictEqual([['b'], ['a']]);
  });

  it('accepts an authorization header without api_key_env, and api_key_env with authorization only in [defaults]', () => {
    const text = `[defaults]\nheaders = { Authorization = "Bearer \${TOKEN}" }\n${A}${B}api_key_env = "API_KEY"\n`;
    const { a, b } = targetsOf(text, SECRET_ENV);
    expect(a?.headers.authorization).toBe('Bearer tok-4f9a1c77e2');
    expect(b?.apiKey).toBe('sk-live-0d1e2f3a4b');
  });
});

describe('isPrivateHost', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['localhost', true],
    ['LocalHost', true],
    ['api.localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['10.0.0.0', true],
    ['10.255.255.255', true],
    ['172.16.0.0', true],
    ['172.20.1.1', true],
    ['172.31.255.255', true],
    ['192.168.0.1', true],
    ['192.168.255.255', true],
    ['fc00::1', true],
    ['[fd12:3456::1]', true],
    ['172.15.255.255', false],
    ['172.32.0.0', false],
    ['192.167.1.1', false],
    ['192.169.1.1', false],
    ['11.0.0.1', false],
    ['9.255.255.255', false],
    ['8.8.8.8', false],
    ['128.0.0.1', false],
    ['0.0.0.0', false],
    ['::', false],
    ['2001:db8::1', false],
    ['fe80::1', false],
    ['api.openai.com', false],
    ['localhost.example.com', false],
    ['10.0.0.1.nip.io', false],
    ['127.0.0.1.example.com', false],
    ['mylocalhost', false],
    ['', false],
  ])('%j -> %s', (host, expected) => {
    expect(isPrivateHost(host)).toBe(expected);
  });
});

describe('quickStartConfig (--upstream)', () => {
  it('builds one target serving every model, any protocol', () => {
    const config = quickStartConfig('http://gpu.example.com:8000/v1/', null, {});
    expect(config.source).toBe('--upstream');
    expect(config.defaultTarget).toBeNull();
    expect(config.targets).toHaveLength(1);
    expect(config.targets[0]).toMatchObject({
      name: 'upstream',
      baseUrls: ['http://gpu.example.com:8000/v1'],
      protocol: 'any',
      apiKey: null,
      models: [],
      dialect: DEFAULT_DIALECT,
    });
    expect(Object.isFrozen(config.targets[0])).toBe(true);
  });

  it('reads the key from the named variable and keeps it secret', () => {
    const t = quickStartConfig('https://api.example.com/v1', 'API_KEY', SECRET_ENV).targets[0];
    expect(t?.apiKey).toBe('sk-live-0d1e2f3a4b');
    expect(t?.apiKeyEnv).toBe('API_KEY');
    expect(t?.secrets).toStrictEqual(['sk-live-0d1e2f3a4b']);
  });

  it.each([
    ['not a url', null, /^--upstream: targets\.upstream\.base_url: not a valid URL/],
    ['ftp://h/v1', null, /^--upstream: targets\.upstream\.base_url: must start with http:\/\/ or https:\/\//],
    [
      'https://api.example.com/v1',
      'UNSET_KEY',
      /^--upstream: targets\.upstream\.api_key_env: environment variable UNSET_KEY is not set/,
    ],
  ])('reports %s (key env %s) naming --upstream', (url, keyEnv, message) => {
    expect(() => quickStartConfig(url, keyEnv, {})).toThrow(message);
  });
});

describe('the shipped example files', () => {
  const dir = fileURLToPath(new URL('../../examples/', import.meta.url));
  const files = readdirSync(dir).filter((f) => f.endsWith('.toml'));
  const env: Env = {
    LLM_PROXY_API_KEYS: 'team-key-1,team-key-2',
    AZURE_OPENAI_RESOURCE: 'my-resource',
    AZURE_OPENAI_API_KEY: 'azure-key-123',
    DEEPSEEK_API_KEY: 'sk-deepseek',
    GROQ_API_KEY: 'gsk-groq',
    OPENROUTER_API_KEY: 'sk-or-key',
    OPENAI_API_KEY: 'sk-openai',
  };

  it('has examples', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  it.each(files)('%s parses', (file) => {
    const config = parseConfig(readFileSync(join(dir, file), 'utf8'), file, env);
    expect(config.targets.length).toBeGreaterThan(0);
  });
});
