/**
 * The built CLI (`node dist/main.js`) as a user runs it: exit codes, one-line errors on stderr,
 * the JSON start-up line on stdout, and a clean SIGTERM shutdown.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'dist', 'main.js');
const PROCESS_TIMEOUT_MS = 10_000;

let dir: string;
const children = new Set<ChildProcess>();

beforeAll(() => {
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'pipe', timeout: 60_000 });
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(`the build failed: ${e.message}\n${String(e.stdout ?? '')}${String(e.stderr ?? '')}`);
  }
  dir = mkdtempSync(join(tmpdir(), 'llm-proxy-cli-'));
}, 90_000);

afterEach(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** An environment without the caller's LLM_PROXY_CONFIG (the tests set it explicitly). */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (!('LLM_PROXY_CONFIG' in extra)) delete env.LLM_PROXY_CONFIG;
  return env;
}

function writeConfig(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const VALID = `[server]\nhost = "127.0.0.1"\nport = 8080\n\n[targets.local]\nbase_url = "http://127.0.0.1:9/v1"\n`;

function launch(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): ChildProcess {
  const child = spawn(process.execPath, [MAIN, ...args], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: PROCESS_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  children.add(child);
  return child;
}

interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function collect(child: ChildProcess): Promise<Result> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function run(args: string[], env?: NodeJS.ProcessEnv): Promise<Result> {
  return collect(launch(args, env));
}

function expectOneErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  return lines[0] as string;
}

describe('llm-proxy CLI', () => {
  it('--help exits 0 with the usage', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: llm-proxy \[--config FILE\] \[--host HOST\] \[--port PORT\]/);
    expect(r.stdout).toContain('--config FILE');
    expect(r.stderr).toBe('');
    const short = await run(['-h']);
    expect(short.code).toBe(0);
    expect(short.stdout).toBe(r.stdout);
  });

  it('a config error exits 2 with one line naming the file and the key', async () => {
    const file = writeConfig(
      'bad-port.toml',
      `[server]\nport = "eighty"\n\n[targets.local]\nbase_url = "http://127.0.0.1:9/v1"\n`,
    );
    const r = await run(['--config', file]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    const line = expectOneErrorLine(r.stderr);
    expect(line).toBe(`llm-proxy: ${file}: server.port: expected an integer, got the string "eighty"`);
  });

  it('an unknown target key exits 2 naming the key', async () => {
    const file = writeConfig(
      'bad-key.toml',
      `[targets.local]\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "sk-inline"\n`,
    );
    const r = await run(['--config', file]);
    expect(r.code).toBe(2);
    const line = expectOneErrorLine(r.stderr);
    expect(line).toContain(file);
    expect(line).toContain('targets.local.api_key');
  });

  it('invalid TOML exits 2 with one line naming the file', async () => {
    const file = writeConfig('broken.toml', `[targets.local\nbase_url = "x"\n`);
    const r = await run(['--config', file]);
    expect(r.code).toBe(2);
    const line = expectOneErrorLine(r.stderr);
    expect(line).toMatch(new RegExp(`^llm-proxy: ${escapeRegExp(file)}: not valid TOML \\(line \\d+`));
  });

  it('a missing api_key_env variable exits 2 naming the key and the variable', async () => {
    const file = writeConfig(
      'no-env.toml',
      `[targets.local]\nbase_url = "http://127.0.0.1:9/v1"\napi_key_env = "LLM_PROXY_TEST_UNSET_KEY"\n`,
    );
    const r = await run(['--config', file]);
    expect(r.code).toBe(2);
    const line = expectOneErrorLine(r.stderr);
    expect(line).toContain(
      `${file}: targets.local.api_key_env: environment variable LLM_PROXY_TEST_UNSET_KEY`,
    );
  });

  it('a missing config file exits 2 naming the file', async () => {
    const file = join(dir, 'does-not-exist.toml');
    const r = await run(['--config', file]);
    expect(r.code).toBe(2);
    const line = expectOneErrorLine(r.stderr);
    expect(line).toBe(`llm-proxy: ${file}: file not found; pass --config FILE or set LLM_PROXY_CONFIG`);
  });

  it('without --config or LLM_PROXY_CONFIG it looks for ./llm-proxy.toml', async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(expectOneErrorLine(r.stderr)).toContain('./llm-proxy.toml: file not found');
  });

  it('--port abc exits 2 with the usage', async () => {
    const file = writeConfig('valid-for-port.toml', VALID);
    const r = await run(['--config', file, '--port', 'abc']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('llm-proxy: --port must be an integer from 0 to 65535, got "abc"');
    expect(r.stderr).toContain('Usage: llm-proxy');
    expect(r.stderr).not.toMatch(/^\s+at /m);
    const tooBig = await run(['--config', file, '--port', '70000']);
    expect(tooBig.code).toBe(2);
  });

  it('an unknown flag exits 2', async () => {
    const r = await run(['--verbose']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Unknown option '--verbose'");
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('honours LLM_PROXY_CONFIG, and --config wins over it', async () => {
    const fromEnv = writeConfig(
      'env-bad.toml',
      `[server]\nport = -1\n\n[targets.a]\nbase_url = "http://x/v1"\n`,
    );
    const r = await run([], cleanEnv({ LLM_PROXY_CONFIG: fromEnv }));
    expect(r.code).toBe(2);
    expect(expectOneErrorLine(r.stderr)).toBe(
      `llm-proxy: ${fromEnv}: server.port: must be between 0 and 65535, got -1`,
    );

    const missing = join(dir, 'flag-wins.toml');
    const both = await run(['--config', missing], cleanEnv({ LLM_PROXY_CONFIG: fromEnv }));
    expect(both.code).toBe(2);
    expect(expectOneErrorLine(both.stderr)).toContain(`${missing}: file not found`);
  });

  it('starts, logs the listening URL as one JSON line, serves /healthz, and exits 0 on SIGTERM', async () => {
    const file = writeConfig('valid.toml', VALID);
    const child = launch(['--config', file, '--port', '0']);
    const done = collect(child);
    let stdout = '';
    child.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    const started = await new Promise<{ url: string; config: string; msg: string }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start-up line; stdout: ${stdout}`)), 8_000);
      const check = () => {
        for (const line of stdout.split('\n')) {
          if (!line.trim()) continue;
          const entry = JSON.parse(line) as { url?: string; config: string; msg: string };
          if (typeof entry.url === 'string') {
            clearTimeout(timer);
            child.stdout?.off('data', check);
            resolve(entry as { url: string; config: string; msg: string });
            return;
          }
        }
      };
      child.stdout?.on('data', check);
      child.once('exit', () => reject(new Error(`exited before listening; stdout: ${stdout}`)));
    });
    expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(started.url).not.toMatch(/:0$/);
    expect(started.msg).toBe(`llm-proxy listening on ${started.url}`);
    expect(started.config).toBe(file);
    // Exactly one line carries the URL.
    const urlLines = stdout.split('\n').filter((l) => l.includes('"url"'));
    expect(urlLines).toHaveLength(1);

    const health = await fetch(`${started.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });

    child.kill('SIGTERM');
    const result = await done;
    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const lines = result.stdout
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { msg: string; signal?: string });
    expect(lines.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM')).toBe(true);
  });

  it('--host and --port override the file', async () => {
    const file = writeConfig('override.toml', VALID.replace('port = 8080', 'port = 1'));
    const child = launch(['--config', file, '--host', '127.0.0.1', '--port', '0']);
    const done = collect(child);
    let stdout = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start-up line; stdout: ${stdout}`)), 8_000);
      child.stdout?.on('data', (c: Buffer) => {
        stdout += c.toString('utf8');
        if (stdout.includes('"url"')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const url = (JSON.parse(stdout.split('\n').find((l) => l.includes('"url"')) as string) as { url: string })
      .url;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    child.kill('SIGINT');
    expect((await done).code).toBe(0);
  });
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
