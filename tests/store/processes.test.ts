/**
 * The same scenarios as replicas.test.ts, with real separate OS processes (`node <dist>/main.cjs
 * --config FILE`): two processes sharing one Redis serve the turns of one conversation, and a
 * SQLite-backed process stopped with SIGTERM is replaced by a new process on the same file that
 * continues the conversation.
 *
 * The build goes to its own outDir inside the repo (.cache/, git-ignored) so it cannot race the
 * build of tests/cli.test.ts into dist/; node_modules still resolves from the repo root.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChatScript, storeToml } from '../helpers/conversation.js';
import { MockUpstream } from '../helpers/mock-upstream.js';
import { REDIS_URL, redisKeys, redisTestPrefix, wipeRedisPrefix } from './helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OUT_DIR = join(ROOT, '.cache', `test-dist-${process.pid}`);
const MAIN = join(OUT_DIR, 'main.cjs');
const MODEL = 'test-model';

const script = new ChatScript();
let upstream: MockUpstream;
let dir: string;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  try {
    execFileSync(process.execPath, ['scripts/build.mjs', '--outdir', OUT_DIR], {
      cwd: ROOT,
      stdio: 'pipe',
      timeout: 60_000,
    });
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(`the build failed: ${e.message}\n${String(e.stdout ?? '')}${String(e.stderr ?? '')}`);
  }
  expect(existsSync(MAIN), `${MAIN} was built`).toBe(true);
  dir = mkdtempSync(join(tmpdir(), 'llm-proxy-processes-'));
  upstream = await MockUpstream.start(script.handler);
}, 90_000);

afterEach(() => {
  killAll();
});

afterAll(async () => {
  killAll();
  await upstream?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  rmSync(OUT_DIR, { recursive: true, force: true });
});

beforeEach(() => {
  upstream.requests.length = 0;
  script.clear();
});

afterEach(() => {
  expect(script.pending, 'every scripted upstream reply was used').toBe(0);
});

function killAll(): void {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
}

interface Proxy {
  child: ChildProcess;
  url: string;
  /** Resolves when the process exits, with its exit code, signal and output. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  client: OpenAI;
}

let configCount = 0;

/** Spawns `node <dist>/main.cjs --config FILE` and waits for the JSON start-up line with the URL. */
async function launch(storeTable: string): Promise<Proxy> {
  const file = join(dir, `proxy-${++configCount}.toml`);
  writeFileSync(
    file,
    `[server]\nhost = "127.0.0.1"\nport = 0\n\n[logging]\nlevel = "info"\n\n${storeTable}` +
      `[targets.mock]\nbase_url = "${upstream.baseUrl}"\nretries = { max = 0 }\n`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.LLM_PROXY_CONFIG;
  const child = spawn(process.execPath, [MAIN, '--config', file], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 30_000,
    killSignal: 'SIGKILL',
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => {
    stdout += c.toString('utf8');
  });
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
  });
  const exited = new Promise<Awaited<Proxy['exited']>>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const url = await new Promise<string>((resolve, reject) => {
    const done = (err: Error | null, value?: string) => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(value as string);
    };
    const check = () => {
      for (const line of stdout.split('\n')) {
        if (!line.includes('"url"')) continue;
        try {
          const parsed = JSON.parse(line) as { url?: unknown };
          if (typeof parsed.url === 'string') return done(null, parsed.url);
        } catch {
          // a partial line; wait for more
        }
      }
    };
    const onExit = () => done(new Error(`exited before start-up; stdout: ${stdout}\nstderr: ${stderr}`));
    const timer = setTimeout(
      () => done(new Error(`no start-up line; stdout: ${stdout}\nstderr: ${stderr}`)),
      15_000,
    );
    child.stdout?.on('data', check);
    child.once('exit', onExit);
    setImmediate(check);
  });
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'client-key', maxRetries: 0 });
  return { child, url, exited, client };
}

describe('Redis: two proxy processes sharing one store', () => {
  const prefix = redisTestPrefix();

  afterAll(async () => {
    await wipeRedisPrefix(prefix);
    expect((await redisKeys(prefix)).size).toBe(0);
  });

  it('turn 1 on process A, turn 2 on process B with previous_response_id; B retrieves A’s response', async () => {
    const shared = storeToml('redis', { redisUrl: REDIS_URL, keyPrefix: prefix });
    const [a, b] = await Promise.all([launch(shared), launch(shared)]);
    expect(a.child.pid).not.toBe(b.child.pid);
    expect(a.url).not.toBe(b.url);

    script.reply({ content: 'Hello from A.' }, { content: 'Hello from B.' });
    const r1 = await a.client.responses.create({ model: MODEL, input: 'Hi, A' });
    expect(r1.id).toMatch(/^resp_/);
    expect(r1.output_text).toBe('Hello from A.');
    // A really wrote to Redis under the shared prefix.
    expect((await redisKeys(prefix)).size).toBeGreaterThan(0);

    const r2 = await b.client.responses.create({ model: MODEL, previous_response_id: r1.id, input: 'Now B' });
    expect(r2.output_text).toBe('Hello from B.');
    expect(r2.previous_response_id).toBe(r1.id);
    expect(upstream.requests).toHaveLength(2);
    expect(upstream.last.body.messages).toEqual([
      { role: 'user', content: 'Hi, A' },
      { role: 'assistant', content: 'Hello from A.' },
      { role: 'user', content: 'Now B' },
    ]);

    // GET /v1/responses/{id} on B finds A's response.
    const got = await fetch(`${b.url}/v1/responses/${r1.id}`);
    expect(got.status).toBe(200);
    const stored = (await got.json()) as { id: string; status: string; output: unknown };
    expect(stored.id).toBe(r1.id);
    expect(stored.status).toBe('completed');
    expect(stored.output).toEqual(JSON.parse(JSON.stringify(r1.output)));
    // And A finds B's.
    expect((await a.client.responses.retrieve(r2.id)).output_text).toBe('Hello from B.');

    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect((await a.exited).code).toBe(0);
    expect((await b.exited).code).toBe(0);
  }, 40_000);
});

describe('SQLite: a new process on the same file', () => {
  it('continues a conversation stored by a process stopped with SIGTERM', async () => {
    const sqlitePath = join(dir, 'store.sqlite');
    const table = storeToml('sqlite', { sqlitePath });

    const first = await launch(table);
    script.reply({ content: 'Stored before restart.' });
    const r1 = await first.client.responses.create({ model: MODEL, input: 'Remember me' });
    expect(r1.output_text).toBe('Stored before restart.');
    first.child.kill('SIGTERM');
    const stopped = await first.exited;
    expect(stopped.signal).toBeNull();
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stderr).toBe('');
    expect(existsSync(sqlitePath)).toBe(true);

    const second = await launch(table);
    expect(second.child.pid).not.toBe(first.child.pid);
    script.reply({ content: 'I remember.' });
    const r2 = await second.client.responses.create({
      model: MODEL,
      previous_response_id: r1.id,
      input: 'Do you?',
    });
    expect(r2.output_text).toBe('I remember.');
    expect(upstream.last.body.messages).toEqual([
      { role: 'user', content: 'Remember me' },
      { role: 'assistant', content: 'Stored before restart.' },
      { role: 'user', content: 'Do you?' },
    ]);
    const got = await fetch(`${second.url}/v1/responses/${r1.id}`);
    expect(got.status).toBe(200);
    expect(((await got.json()) as { id: string }).id).toBe(r1.id);

    second.child.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  }, 40_000);
});
