/**
 * The built CLI (`node dist/main.cjs`, the bundle `npm run build` makes) as a user runs it: exit codes, one-line errors on stderr,
 * the JSON start-up line on stdout, a graceful SIGTERM shutdown that lets a stream finish, and
 * the `--upstream` quick start.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chatCompletion, MockUpstream, sendJson } from './helpers/mock-upstream.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join(ROOT, 'dist', 'main.cjs');
const PROCESS_TIMEOUT_MS = 10_000;

let dir: string;
const children = new Set<ChildProcess>();

beforeAll(() => {
  try {
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'pipe', timeout: 60_000 });
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

/** Log lines (JSON) the child wrote to stdout so far, kept up to date. */
function stdoutLines(child: ChildProcess): {
  lines: () => Array<Record<string, unknown>>;
  text: () => string;
} {
  let stdout = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
  });
  return {
    text: () => stdout,
    lines: () =>
      stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** Resolves with the first stdout line matching `match` (fails after 8 s or if the child exits). */
function waitForLine(
  child: ChildProcess,
  out: ReturnType<typeof stdoutLines>,
  match: (line: Record<string, unknown>) => boolean,
  what: string,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, line?: Record<string, unknown>) => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(line as Record<string, unknown>);
    };
    const check = () => {
      const line = out.lines().find(match);
      if (line) done(null, line);
    };
    const onExit = () => done(new Error(`exited before ${what}; stdout: ${out.text()}`));
    const timer = setTimeout(() => done(new Error(`no ${what} line; stdout: ${out.text()}`)), 8_000);
    child.stdout?.on('data', check);
    child.once('exit', onExit);
    setImmediate(check);
  });
}

interface StartLine {
  url: string;
  adminUrl: string | null;
  config: string;
  auth: boolean;
  targets: Array<{ name: string; base_url: string[] }>;
  msg: string;
}

async function startedLine(child: ChildProcess, out: ReturnType<typeof stdoutLines>): Promise<StartLine> {
  return (await waitForLine(
    child,
    out,
    (l) => typeof l.url === 'string',
    'start-up',
  )) as unknown as StartLine;
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
    expect(line).toBe(
      `llm-proxy: ${file}: file not found; pass --config FILE, set LLM_PROXY_CONFIG, or use --upstream URL`,
    );
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
      `[server]\nport = -1\n\n[targets.a]\nbase_url = "http://127.0.0.1:9/v1"\n`,
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
    const out = stdoutLines(child);
    const started = await startedLine(child, out);
    expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(started.url).not.toMatch(/:0$/);
    expect(started.msg).toBe(`llm-proxy listening on ${started.url}`);
    expect(started).toMatchObject({
      adminUrl: null,
      config: file,
      auth: false,
      targets: [{ name: 'local', base_url: ['http://127.0.0.1:9/v1'] }],
    });
    // Exactly one line carries the URL.
    const urlLines = out
      .text()
      .split('\n')
      .filter((l) => l.includes('"url"'));
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
    expect(
      lines.some((l) => l.msg === 'shutting down: finishing in-flight requests' && l.signal === 'SIGTERM'),
    ).toBe(true);
    expect(lines[lines.length - 1]?.msg).toBe('stopped');
  });

  it('--pretty prints a human-readable start-up line (pino-pretty), not JSON', async () => {
    const file = writeConfig('pretty.toml', VALID);
    const child = launch(['--config', file, '--port', '0', '--pretty']);
    const done = collect(child);
    let stdout = '';
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start-up line; stdout: ${stdout}`)), 8_000);
      child.once('exit', () => reject(new Error(`exited before the start-up line; stdout: ${stdout}`)));
      child.stdout?.on('data', (c: Buffer) => {
        stdout += c.toString('utf8');
        const found = stdout.split('\n').find((l) => l.includes('llm-proxy listening on'));
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
        }
      });
    });
    expect(() => JSON.parse(line)).toThrow();
    expect(line).toMatch(/INFO/);
    const url = /llm-proxy listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1];
    expect(url, line).toBeDefined();
    // Not on a terminal: no colour codes.
    expect(stdout).not.toContain('\u001b[');
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/INFO.*: stopped$/m);
    // No line of the output is JSON.
    for (const l of result.stdout.split('\n').filter((x) => x.trim().startsWith('{'))) {
      expect(() => JSON.parse(l), l).toThrow();
    }
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

describe('graceful shutdown and the --upstream quick start', () => {
  let mock: MockUpstream;
  beforeAll(async () => {
    mock = await MockUpstream.start();
  });
  afterAll(async () => {
    await mock?.close();
  });

  /** A stream of `n` one-word chunks, one every `intervalMs`, then finish, usage and [DONE]. */
  function slowStream(n: number, intervalMs: number) {
    mock.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const send = (payload: unknown) => res.write(`data: ${JSON.stringify(payload)}\n\n`);
      const chunk = (delta: unknown, finish: string | null = null) => ({
        id: 'chatcmpl-slow',
        object: 'chat.completion.chunk',
        created: 1_800_000_000,
        model: 'test-model',
        choices: [{ index: 0, delta, finish_reason: finish }],
      });
      send(chunk({ role: 'assistant', content: '' }));
      let i = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer);
        if (i < n) {
          send(chunk({ content: `w${i++} ` }));
          return;
        }
        clearInterval(timer);
        send(chunk({}, 'stop'));
        send({
          ...chunk({}),
          choices: [],
          usage: { prompt_tokens: 3, completion_tokens: n, total_tokens: n + 3 },
        });
        res.end('data: [DONE]\n\n');
      }, intervalMs);
    };
  }

  /** Starts a streaming POST on a fresh connection; `firstDelta` resolves at the first text delta. */
  function streamRequest(url: string) {
    let text = '';
    let onDelta: () => void = () => {};
    const firstDelta = new Promise<void>((resolve) => {
      onDelta = resolve;
    });
    const finished = new Promise<{ status: number; text: string; endedAt: number }>((resolve, reject) => {
      const req = httpRequest(
        `${url}/v1/responses`,
        { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
        (res) => {
          res.setEncoding('utf8');
          res.on('data', (c: string) => {
            text += c;
            if (text.includes('response.output_text.delta')) onDelta();
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text, endedAt: Date.now() }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ model: 'test-model', input: 'Hi', stream: true }));
    });
    return { firstDelta, finished };
  }

  /** A request on a new connection: 'refused' or the HTTP status. */
  function freshRequest(url: string): Promise<number | 'refused'> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(`${url}/healthz`, { agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', (err: NodeJS.ErrnoException) =>
        err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET' ? resolve('refused') : reject(err),
      );
      req.end();
    });
  }

  it('SIGTERM mid-stream: the stream completes, new connections are refused, then exit 0', async () => {
    slowStream(10, 100);
    const file = writeConfig(
      'graceful.toml',
      `[server]\nhost = "127.0.0.1"\nport = 0\nshutdown_grace = "10s"\n\n[targets.mock]\nbase_url = "${mock.baseUrl}"\n`,
    );
    const child = launch(['--config', file]);
    const done = collect(child);
    const out = stdoutLines(child);
    const { url } = await startedLine(child, out);

    const stream = streamRequest(url);
    await stream.firstDelta;
    const signalledAt = Date.now();
    child.kill('SIGTERM');
    await waitForLine(child, out, (l) => l.msg === 'shutting down: finishing in-flight requests', 'shutdown');
    // The listener is closed: a new connection is refused (or answered 503 while closing).
    const fresh = await freshRequest(url);
    expect(['refused', 503]).toContain(fresh);

    const reply = await stream.finished;
    expect(reply.status).toBe(200);
    expect(reply.text).toContain('event: response.completed');
    expect(reply.text).not.toContain('event: response.failed');
    for (let i = 0; i < 10; i++) expect(reply.text).toContain(`"delta":"w${i} "`);
    expect(reply.endedAt - signalledAt).toBeGreaterThan(300); // it really ran on after the signal

    const result = await done;
    expect(result.code).toBe(0);
    expect(result.signal).toBeNull();
    expect(result.stderr).toBe('');
    const lines = out.lines();
    expect(lines.find((l) => l.msg === 'request' && l.route === '/v1/responses')).toMatchObject({
      status: 200,
      stream: true,
      outcome: 'completed',
      attempts: 1,
    });
    const order = lines.map((l) => l.msg);
    expect(order.indexOf('shutting down: finishing in-flight requests')).toBeLessThan(
      order.lastIndexOf('request'),
    );
    expect(order[order.length - 1]).toBe('stopped');
  });

  it('a stream longer than shutdown_grace is cut when the grace period ends, then exit 0', async () => {
    slowStream(100, 100); // ~10 s
    const file = writeConfig(
      'grace-short.toml',
      `[server]\nhost = "127.0.0.1"\nport = 0\nshutdown_grace = "300ms"\n\n[targets.mock]\nbase_url = "${mock.baseUrl}"\n`,
    );
    const child = launch(['--config', file]);
    const done = collect(child);
    const out = stdoutLines(child);
    const { url } = await startedLine(child, out);
    const stream = streamRequest(url);
    const outcome = stream.finished.then(
      (r) => r.text,
      (err: Error) => `error: ${err.message}`,
    );
    await stream.firstDelta;
    const signalledAt = Date.now();
    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(5_000);
    expect(await outcome).not.toContain('event: response.completed');
    const msgs = out.lines().map((l) => l.msg);
    expect(msgs).toContain('grace period over: closing the remaining connections');
    expect(msgs[msgs.length - 1]).toBe('stopped');
  });

  it('an open connection that never sent a request does not hold the shutdown for the grace period', async () => {
    const file = writeConfig(
      'preconnect.toml',
      `[server]\nhost = "127.0.0.1"\nport = 0\nshutdown_grace = "30s"\n\n[targets.mock]\nbase_url = "${mock.baseUrl}"\n`,
    );
    const child = launch(['--config', file]);
    const done = collect(child);
    const { url } = await startedLine(child, stdoutLines(child));
    // What a load balancer or a client pool does: connect ahead of time, send nothing.
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    await once(socket, 'connect');
    const signalledAt = Date.now();
    child.kill('SIGTERM');
    const result = await done;
    socket.destroy();
    expect(result.code).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(5_000);
  });

  it('--upstream URL serves requests without a config file', async () => {
    mock.handler = (_req, res) => sendJson(res, 200, chatCompletion({ content: 'Quick start!' }));
    const key = 'sk-quick-start-778899';
    const child = launch(
      ['--upstream', mock.baseUrl, '--api-key-env', 'QUICK_KEY', '--port', '0'],
      cleanEnv({ QUICK_KEY: key }),
    );
    const done = collect(child);
    const out = stdoutLines(child);
    const started = await startedLine(child, out);
    expect(started).toMatchObject({
      config: '--upstream',
      auth: false,
      targets: [{ name: 'upstream', base_url: [mock.baseUrl] }],
    });
    const before = mock.requests.length;
    const res = await fetch(`${started.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'any-model-name', input: 'Hi' }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { output: Array<{ content: Array<{ text: string }> }> };
    expect(body.output[0]?.content[0]?.text).toBe('Quick start!');
    expect(mock.requests.length).toBe(before + 1);
    expect(mock.last.body.model).toBe('any-model-name');
    expect(mock.last.headers.authorization).toBe(`Bearer ${key}`);

    child.kill('SIGTERM');
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain(key);
  });

  it('--upstream with --config exits 2 with the usage', async () => {
    const file = writeConfig('with-upstream.toml', VALID);
    const r = await run(['--upstream', mock.baseUrl, '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('llm-proxy: --upstream and --config exclude each other');
    expect(r.stderr).toContain('Usage: llm-proxy');
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('--api-key-env without --upstream exits 2', async () => {
    const r = await run(['--api-key-env', 'X']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--api-key-env goes with --upstream');
  });
});

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('the launcher (dist/main.cjs)', () => {
  const cache = join(ROOT, 'dist', 'llm-proxy.cjs.cache');
  const help = () =>
    execFileSync(process.execPath, [MAIN, '--help'], { encoding: 'utf8', timeout: PROCESS_TIMEOUT_MS });

  it('writes V8 code cache beside the bundle, reuses it, and replaces one V8 refuses', () => {
    rmSync(cache, { force: true });
    expect(help()).toMatch(/^Usage: llm-proxy/);
    expect(existsSync(cache), 'written at exit').toBe(true);
    const written = statSync(cache);
    expect(written.size).toBeGreaterThan(10_000);

    expect(help()).toMatch(/^Usage: llm-proxy/);
    expect(statSync(cache).mtimeMs, 'accepted, so not rewritten').toBe(written.mtimeMs);

    writeFileSync(cache, 'not a code cache');
    expect(help()).toMatch(/^Usage: llm-proxy/);
    expect(statSync(cache).size, 'refused, so replaced').toBeGreaterThan(10_000);
  });

  it('turns off V8 allocation-site pretenuring (the bundle loaded without it keeps it on)', () => {
    // V8 prints its pretenuring statistics at each collection only while it keeps them; a small
    // young generation makes start-up collect a few times.
    const pretenuringLines = (script: string) =>
      execFileSync(
        process.execPath,
        ['--trace-pretenuring-statistics', '--max-semi-space-size=1', script, '--help'],
        { encoding: 'utf8', timeout: PROCESS_TIMEOUT_MS },
      )
        .split('\n')
        .filter((l) => l.includes('pretenuring:')).length;
    const direct = join(dir, 'bundle-direct.cjs');
    writeFileSync(direct, `require(${JSON.stringify(join(ROOT, 'dist', 'llm-proxy.cjs'))}).main();\n`);
    expect(pretenuringLines(direct), 'the control: statistics are printed').toBeGreaterThan(0);
    expect(pretenuringLines(MAIN)).toBe(0);
  });
});
