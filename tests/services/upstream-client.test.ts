/**
 * UpstreamClient: the undici internals it loads by deep path (to skip undici's index at cold
 * start) still resolve and export what it uses, loading it really does not load the index, and
 * `post` against a real mock upstream, honouring and then unhooking the caller's Cancellation.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig, type TargetConfig } from '../../src/config.js';
import { UpstreamHttpError, UpstreamTimeoutError, UpstreamUnreachableError } from '../../src/errors.js';
import { type AbortListener, Cancellation } from '../../src/services/cancellation.js';
import { UpstreamClient } from '../../src/services/upstream-client.js';
import { chatCompletion, MockUpstream, sendJson } from '../helpers/mock-upstream.js';
import { oneTarget } from '../helpers/proxy.js';
import { closedPort } from '../helpers/targets.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// ---------------------------------------------------------------------------------------------
// The deep paths

describe('the undici Pool loaded by deep path', () => {
  // Resolved from the module that loads them, as it does.
  const load = createRequire(new URL('../../src/services/upstream-client.ts', import.meta.url));

  it('resolves inside the installed undici', () => {
    const resolved = load.resolve('undici/lib/dispatcher/pool.js').replaceAll('\\', '/');
    expect(resolved).toMatch(/\/node_modules\/undici\/lib\//);
  });

  it('lib/dispatcher/pool.js exports a Pool constructor whose instances dispatch and close', async () => {
    const Pool = load('undici/lib/dispatcher/pool.js') as new (origin: string) => Record<string, unknown>;
    expect(typeof Pool).toBe('function');
    const pool = new Pool('http://127.0.0.1:9');
    try {
      expect(typeof pool.dispatch).toBe('function');
      expect(typeof pool.close).toBe('function');
    } finally {
      await (pool.close as () => Promise<void>).call(pool);
    }
  });

  it('are the same modules the undici index re-exports (same version, same classes)', () => {
    const undici = load('undici') as { Pool: unknown };
    expect(load('undici/lib/dispatcher/pool.js')).toBe(undici.Pool);
  });
});

// ---------------------------------------------------------------------------------------------
// Cold start: the index stays unloaded

/** Runs an ESM snippet with tsx in a fresh node process; returns its stdout. */
function runNode(script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`node exited with ${code}: ${err}`));
    });
  });
}

/** Imports `specifier` alone, then reports which undici files are in require.cache. */
async function undiciFilesAfterImporting(specifier: string): Promise<{ index: boolean; pool: boolean }> {
  const script = [
    "import { createRequire } from 'node:module';",
    `await import(${JSON.stringify(specifier)});`,
    "const keys = Object.keys(createRequire(import.meta.url).cache).map((k) => k.replaceAll('\\\\', '/'));",
    'console.log(JSON.stringify({',
    "  index: keys.some((k) => k.endsWith('node_modules/undici/index.js')),",
    "  pool: keys.some((k) => k.endsWith('node_modules/undici/lib/dispatcher/pool.js')),",
    '}));',
  ].join('\n');
  const out = await runNode(script);
  return JSON.parse(out.trim().split('\n').pop() as string);
}

describe('loading upstream-client.ts', () => {
  it('loads the Pool but not the undici index', async () => {
    expect(await undiciFilesAfterImporting('./src/services/upstream-client.ts')).toEqual({
      index: false,
      pool: true,
    });
  }, 30_000);

  it('(control) the check sees the index when undici is imported by name', async () => {
    expect(await undiciFilesAfterImporting('undici')).toEqual({ index: true, pool: true });
  }, 30_000);
});

// ---------------------------------------------------------------------------------------------
// post against a real upstream

/** A Cancellation that also tracks which abort listeners are hooked on it right now. */
class TrackedCancellation extends Cancellation {
  readonly hooked = new Set<AbortListener>();
  override on(event: 'abort', listener: AbortListener): this {
    if (!this.aborted) this.hooked.add(listener);
    return super.on(event, listener);
  }
  override removeListener(event: 'abort', listener: AbortListener): this {
    this.hooked.delete(listener);
    return super.removeListener(event, listener);
  }
}

const target = (baseUrl: string, extra = ''): TargetConfig =>
  parseConfig(`[server]\n\n${oneTarget(baseUrl, extra)}`, 'test.toml', {}).targets[0] as TargetConfig;

const BODY = JSON.stringify({ model: 'test-model', messages: [{ role: 'user', content: 'Hi' }] });

const isAbort = (err: unknown) => {
  const e = err as { name?: string; code?: string };
  return e?.name === 'AbortError' || e?.code === 'UND_ERR_ABORTED';
};

describe('UpstreamClient.post', () => {
  let upstream: MockUpstream;
  let client: UpstreamClient | null = null;

  beforeAll(async () => {
    upstream = await MockUpstream.start();
  });
  afterAll(async () => {
    await upstream.close();
  });
  beforeEach(() => {
    upstream.requests.length = 0;
    upstream.handler = (_req, res) => sendJson(res, 200, chatCompletion({ content: 'Hello!' }));
  });
  afterEach(async () => {
    await client?.close();
    client = null;
  });

  const makeClient = (extra = '') => {
    client = new UpstreamClient(target(upstream.baseUrl, extra));
    return client;
  };

  it('posts the body to <base>/chat/completions and reads the JSON reply', async () => {
    const c = makeClient();
    const reply = await c.post(BODY, false, new Cancellation());
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    const json = (await c.readJson(reply)) as { choices: Array<{ message: { content: string } }> };
    expect(json.choices[0]?.message.content).toBe('Hello!');
    expect(upstream.last.method).toBe('POST');
    expect(upstream.last.path).toBe('/v1/chat/completions');
    expect(upstream.last.headers['content-type']).toBe('application/json');
    expect(upstream.last.headers.accept).toBe('application/json');
    expect(upstream.last.raw).toBe(BODY);
  });

  it('asks for an event stream when streaming', async () => {
    const c = makeClient();
    const reply = await c.post(BODY, true, new Cancellation());
    await reply.body.text();
    expect(upstream.last.headers.accept).toBe('text/event-stream');
  });

  it('after a successful exchange, no listener is left on the caller’s cancellation', async () => {
    // The body is held open after its first bytes, so the exchange is live once post() resolves.
    let finish!: () => void;
    upstream.handler = (_req, res) => {
      const text = JSON.stringify(chatCompletion({ content: 'Hello!' }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(text.slice(0, 10));
      finish = () => res.end(text.slice(10));
    };
    const c = makeClient();
    const cancellation = new TrackedCancellation();
    const reply = await c.post(BODY, false, cancellation);
    // While the body is still arriving the exchange is live, hooked on the caller's token.
    expect(cancellation.hooked.size).toBeGreaterThan(0);
    finish();
    await c.readJson(reply);
    expect(cancellation.hooked.size).toBe(0);
    // Aborting now is harmless.
    expect(() => cancellation.abort()).not.toThrow();
  });

  it('many exchanges on one long-lived cancellation do not pile up listeners', async () => {
    const c = makeClient();
    const cancellation = new TrackedCancellation();
    for (let i = 0; i < 5; i++) await c.readJson(await c.post(BODY, false, cancellation));
    await vi.waitFor(() => expect(cancellation.hooked.size).toBe(0));
    expect(upstream.requests.length).toBe(5);
  });

  it('an upstream HTTP error is typed, and unhooks from the cancellation', async () => {
    upstream.handler = (_req, res) =>
      sendJson(res, 400, { error: { message: 'bad thing', type: 'invalid_request_error', code: 'nope' } });
    const c = makeClient();
    const cancellation = new TrackedCancellation();
    const err = await c.post(BODY, false, cancellation).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamHttpError);
    expect(err).toMatchObject({ status: 400, message: 'bad thing', code: 'nope' });
    await vi.waitFor(() => expect(cancellation.hooked.size).toBe(0));
  });

  it('a refused connection is UpstreamUnreachableError, and unhooks from the cancellation', async () => {
    client = new UpstreamClient(target(`http://127.0.0.1:${await closedPort()}/v1`));
    const cancellation = new TrackedCancellation();
    const err = await client.post(BODY, false, cancellation).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnreachableError);
    expect(cancellation.hooked.size).toBe(0);
  });

  it('aborting the cancellation while the upstream is slow rejects with an abort error', async () => {
    let arrived!: () => void;
    const reached = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    // Answers much later than the test may wait.
    upstream.handler = (_req, res) => {
      arrived();
      const timer = setTimeout(() => sendJson(res, 200, chatCompletion({ content: 'late' })), 60_000);
      res.on('close', () => clearTimeout(timer));
    };
    const c = makeClient();
    const cancellation = new TrackedCancellation();
    const outcome = c.post(BODY, false, cancellation).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    await reached;
    cancellation.abort();
    const err = await outcome;
    expect(err).not.toBe('resolved');
    expect(isAbort(err)).toBe(true);
    // The abort is passed through as it is, not turned into an upstream failure.
    expect(err).not.toBeInstanceOf(UpstreamUnreachableError);
    expect(cancellation.hooked.size).toBe(0);
  }, 10_000);

  it('a cancellation aborted before the call rejects without reaching the upstream', async () => {
    const c = makeClient();
    const cancellation = new Cancellation();
    cancellation.abort();
    const err = await c.post(BODY, false, cancellation).catch((e: unknown) => e);
    expect(isAbort(err)).toBe(true);
    expect(upstream.requests.length).toBe(0);
  });

  it('the total timeout ends a slow exchange as UpstreamTimeoutError, leaving the caller’s token alone', async () => {
    upstream.handler = (_req, res) => {
      const timer = setTimeout(() => sendJson(res, 200, chatCompletion({ content: 'late' })), 60_000);
      res.on('close', () => clearTimeout(timer));
    };
    const c = makeClient('timeouts = { total = "300ms" }');
    const cancellation = new TrackedCancellation();
    const err = await c.post(BODY, false, cancellation).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamTimeoutError);
    expect((err as UpstreamTimeoutError).phase).toBe('total');
    expect(cancellation.aborted).toBe(false);
    expect(cancellation.hooked.size).toBe(0);
  }, 10_000);
});
