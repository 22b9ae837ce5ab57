/**
 * LlmProxy on its own: routing + translation (`prepare`), the non-streaming exchange against a real
 * mock upstream (`respond`), aborts, and closing the connection pools.
 */
import { Writable } from 'node:stream';
import type { DestinationStream } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Config, parseConfig } from '../../src/config.js';
import {
  ModelNotFoundError,
  UnsupportedParameterError,
  UpstreamHttpError,
  UpstreamProtocolError,
  UpstreamUnreachableError,
} from '../../src/errors.js';
import { createLogger } from '../../src/logging-config.js';
import { Metrics } from '../../src/metrics.js';
import { Cancellation } from '../../src/services/cancellation.js';
import { LlmProxy } from '../../src/services/llm-proxy.js';
import { ResponseHistory } from '../../src/services/response-history.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import type { ResponsesRequest } from '../../src/types.js';
import { chatCompletion, MockUpstream, sendJson } from '../helpers/mock-upstream.js';
import { assertValidResponse } from '../helpers/spec-validator.js';

let upstream: MockUpstream;
let other: MockUpstream;
let proxy: LlmProxy | null;
let logLines: string[];

function makeProxy(
  toml: string,
  env: Record<string, string> = {},
  metrics: Metrics | null = null,
  history: ResponseHistory | null = null,
): LlmProxy {
  const config: Config = parseConfig(`[logging]\nlevel = "debug"\n\n${toml}`, 'test.toml', env);
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination: sink as unknown as DestinationStream });
  proxy = new LlmProxy(config, logger, metrics, history);
  return proxy;
}

function twoTargets(): string {
  return [
    '[targets.alpha]',
    `base_url = "${upstream.baseUrl}"`,
    'models = ["gpt-*", "exact-model"]',
    'max_tokens_field = "max_completion_tokens"',
    '',
    '[targets.beta]',
    `base_url = "${other.baseUrl}"`,
    'models = ["llama*"]',
    'api_key_env = "BETA_KEY"',
    'headers = { "X-Team" = "beta" }',
    '',
  ].join('\n');
}

const req = (r: Partial<ResponsesRequest> & { model: string }): ResponsesRequest => r as ResponsesRequest;

beforeEach(async () => {
  logLines = [];
  proxy = null;
  upstream = await MockUpstream.start();
  other = await MockUpstream.start();
});

afterEach(async () => {
  await proxy?.close();
  await upstream.close();
  await other.close();
});

describe('LlmProxy.prepare', () => {
  it('routes by model pattern and translates for that target', async () => {
    const p = makeProxy(twoTargets(), { BETA_KEY: 'sk-beta-000111' });
    const a = await p.prepare(
      req({ model: 'gpt-4o', input: 'Hi', instructions: 'Sys', max_output_tokens: 9 }),
      false,
    );
    expect(a.info).toEqual({ target: 'alpha', upstreamStatus: null, upstreamMs: null, attempts: 0 });
    expect(a.client.target.name).toBe('alpha');
    expect(a.chat).toEqual({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'Sys' },
        { role: 'user', content: 'Hi' },
      ],
      max_completion_tokens: 9,
    });
    expect(a.logprobs).toBe(false);
    expect(a.ctx.model).toBe('gpt-4o');
    expect(a.ctx.id).toMatch(/^resp_/);

    const b = await p.prepare(
      req({ model: 'llama3.1:8b', input: 'Yo', max_output_tokens: 4, top_logprobs: 2 }),
      false,
    );
    expect(b.info.target).toBe('beta');
    expect(b.client.target.name).toBe('beta');
    expect(b.chat).toEqual({
      model: 'llama3.1:8b',
      messages: [{ role: 'user', content: 'Yo' }],
      max_tokens: 4,
      logprobs: true,
      top_logprobs: 2,
    });
    expect(b.logprobs).toBe(true);
    expect((await p.prepare(req({ model: 'exact-model', input: 'x' }), false)).info.target).toBe('alpha');
  });

  it('asks for a stream (with usage) when preparing a streaming call', async () => {
    const p = makeProxy(twoTargets(), { BETA_KEY: 'sk-beta-000111' });
    const call = await p.prepare(req({ model: 'gpt-4o', input: 'Hi' }), true);
    expect(call.chat).toEqual({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('throws 404 for a model no target routes (with several targets)', async () => {
    const p = makeProxy(twoTargets(), { BETA_KEY: 'sk-beta-000111' });
    const attempt = () => p.prepare(req({ model: 'claude-3', input: 'Hi' }), false);
    await expect(attempt()).rejects.toThrow(ModelNotFoundError);
    await expect(attempt()).rejects.toMatchObject({ status: 404, param: 'model', code: 'model_not_found' });
  });

  it('sends any model to the only target', async () => {
    const p = makeProxy(`[targets.solo]\nbase_url = "${upstream.baseUrl}"\n`);
    expect((await p.prepare(req({ model: 'whatever', input: 'Hi' }), false)).info.target).toBe('solo');
  });

  it('throws a 4xx ProxyError for what it cannot translate, before any network call', async () => {
    const p = makeProxy(`[targets.solo]\nbase_url = "${upstream.baseUrl}"\nhosted_tools = "reject"\n`);
    await expect(
      p.prepare(req({ model: 'm', input: 'Hi', tools: [{ type: 'file_search' } as never] }), false),
    ).rejects.toThrow(UnsupportedParameterError);
    await expect(p.prepare(req({ model: 'm' }), false)).rejects.toThrow(/input/);
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('LlmProxy.respond', () => {
  it('posts the translated request to the routed target and returns a valid Response', async () => {
    const p = makeProxy(twoTargets(), { BETA_KEY: 'sk-beta-000111' });
    other.handler = (_req, res) => sendJson(res, 200, chatCompletion({ content: 'From beta.' }));
    const call = await p.prepare(req({ model: 'llama3', input: 'Hi' }), false);
    const response = await p.respond(call, new Cancellation());

    expect(upstream.requests).toHaveLength(0);
    expect(other.requests).toHaveLength(1);
    expect(other.last.path).toBe('/v1/chat/completions');
    expect(other.last.body).toEqual({ model: 'llama3', messages: [{ role: 'user', content: 'Hi' }] });
    expect(other.last.headers.authorization).toBe('Bearer sk-beta-000111');
    expect(other.last.headers['x-team']).toBe('beta');
    expect(other.last.headers.accept).toBe('application/json');

    expect(response.status).toBe('completed');
    expect(response.id).toBe(call.ctx.id);
    expect(response.output).toEqual([
      {
        id: expect.stringMatching(/^msg_/),
        type: 'message',
        status: 'completed',
        role: 'assistant',
        content: [{ type: 'output_text', text: 'From beta.', annotations: [], logprobs: [] }],
      },
    ]);
    expect(response.usage?.input_tokens).toBe(12);
    expect(call.info.upstreamStatus).toBe(200);
    expect(call.info.upstreamMs).toBeGreaterThan(0);
    expect(call.info.attempts).toBe(1);
    assertValidResponse(response);

    // Debug logging shows the payloads, never the key.
    const text = logLines.join('\n');
    expect(text).toContain('upstream request');
    expect(text).toContain('upstream reply');
    expect(text).not.toContain('sk-beta-000111');
  });

  it('reuses the keep-alive connection for consecutive calls', async () => {
    const p = makeProxy(`[targets.solo]\nbase_url = "${upstream.baseUrl}"\n`);
    for (let i = 0; i < 3; i++) {
      await p.respond(await p.prepare(req({ model: 'm', input: `n${i}` }), false), new Cancellation());
    }
    expect(upstream.requests).toHaveLength(3);
    expect(upstream.closedConnections).toHaveLength(0);
  });

  it('maps an upstream HTTP error and records the upstream status', async () => {
    const p = makeProxy(`[targets.solo]\nbase_url = "${upstream.baseUrl}"\nretries = { max = 0 }\n`);
    upstream.handler = (_req, res) =>
      sendJson(res, 503, { error: { message: 'overloaded' } }, { 'retry-after': '3' });
    const call = await p.prepare(req({ model: 'm', input: 'Hi' }), false);
    const err = await p.respond(call, new Cancellation()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamHttpError);
    expect(err).toMatchObject({
      status: 502,
      upstreamStatus: 503,
      code: 'upstream_error',
      message: "Upstream target 'solo' failed with HTTP 503: overloaded",
      headers: { 'retry-after': '3' },
    });
    expect(call.info.upstreamStatus).toBe(503);
    expect(call.info.upstreamMs).not.toBeNull();
    expect(call.info.attempts).toBe(1);
    expect(upstream.requests).toHaveLength(1);
  });

  it('maps a 2xx reply that is not a chat completion to UpstreamProtocolError', async () => {
    const p = makeProxy(`[targets.solo]\nbase_url = "${upstream.baseUrl}"\n`);
    upstream.handler = (_req, res) => sendJson(res, 200, { choices: [{ index: 0 }] });
    const call = await p.prepare(req({ model: 'm', input: 'Hi' }), false);
    const err = await p.respond(call, new Cancellation()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamProtocolError);
    expect(err).toMatchObject({ status: 502, code: 'upstream_error', target: 'solo' });
    expect(call.info.upstreamStatus).toBe(200);
  });

  it('aborting the signal mid-request closes the upstream connection', async () => {
    const p = makeProxy(`[targets.solo]\nbase_url = "${upstream.baseUrl}"\n`);
    upstream.handler = () => {}; // never answers
    const controller = new Cancellation();
    const pending = p
      .respond(await p.prepare(req({ model: 'm', input: 'Hi' }), false), controller)
      .catch((e: unknown) => e);
    await vi.waitFor(() => expect(upstream.requests).toHaveLength(1));
    expect(upstream.closedConnections).toHaveLength(0);
    const t0 = Date.now();
    controller.abort();
    const err = await pending;
    expect(Date.now() - t0).toBeLessThan(1_000);
    // An abort stays an abort (the route decides what to do); it is not an upstream failure.
    expect(err).toMatchObject({ name: 'AbortError' });
    expect(err).not.toBeInstanceOf(UpstreamUnreachableError);
    await vi.waitFor(() => expect(upstream.closedConnections).toHaveLength(1));
  });

  it('aborting while the body is being read also closes the connection', async () => {
    const p = makeProxy(`[targets.solo]\nbase_url = "${upstream.baseUrl}"\n`);
    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"id":"x","choices":['); // headers and part of the body, then silence
    };
    const controller = new Cancellation();
    const pending = p
      .respond(await p.prepare(req({ model: 'm', input: 'Hi' }), false), controller)
      .catch((e: unknown) => e);
    await vi.waitFor(() => expect(upstream.requests).toHaveLength(1));
    await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    const err = await pending;
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(UpstreamProtocolError);
    await vi.waitFor(() => expect(upstream.closedConnections).toHaveLength(1));
  });

  it('an already-aborted signal sends nothing', async () => {
    const p = makeProxy(`[targets.solo]\nbase_url = "${upstream.baseUrl}"\n`);
    const controller = new Cancellation();
    controller.abort();
    const err = await p
      .respond(await p.prepare(req({ model: 'm', input: 'Hi' }), false), controller)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'AbortError' });
    await new Promise((r) => setTimeout(r, 50));
    expect(upstream.requests).toHaveLength(0);
  });

  it('an unreachable target is a 502 upstream_unreachable', async () => {
    const port = upstream.port;
    await upstream.close();
    upstream = await MockUpstream.start(); // afterEach closes this one; the old port is now free
    const p = makeProxy(`[targets.gone]\nbase_url = "http://127.0.0.1:${port}/v1"\n`);
    const call = await p.prepare(req({ model: 'm', input: 'Hi' }), false);
    const err = await p.respond(call, new Cancellation()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamUnreachableError);
    expect(err).toMatchObject({ status: 502, code: 'upstream_unreachable', target: 'gone' });
    expect(call.info.upstreamStatus).toBeNull();
    // Connect failures are retried: the default retries.max = 2 makes three attempts.
    expect(call.info.attempts).toBe(3);
  });
});

describe('LlmProxy.send: retries and fallbacks', () => {
  /** alpha (upstream) falls back to beta (other); fast retries. */
  function withFallback(alphaExtra = 'retries = { max = 1, base_delay = "1ms", max_delay = "1s" }'): string {
    return [
      '[targets.alpha]',
      `base_url = "${upstream.baseUrl}"`,
      'models = ["m*"]',
      'fallbacks = ["beta"]',
      alphaExtra,
      '',
      '[targets.beta]',
      `base_url = "${other.baseUrl}"`,
      'models = ["beta-only"]',
      '',
    ].join('\n');
  }

  async function value(
    metric: { get(): Promise<{ values: Array<{ labels: object; value: number }> }> },
    labels: object,
  ) {
    const { values } = await metric.get();
    return values.find((v) => JSON.stringify(v.labels) === JSON.stringify(labels))?.value ?? 0;
  }

  it('retries a target, then moves to its fallback; counts retries, errors and the fallback', async () => {
    const metrics = new Metrics();
    const p = makeProxy(withFallback(), {}, metrics);
    upstream.handler = (_req, res) => sendJson(res, 500, { error: { message: 'down' } });
    other.handler = (_req, res) => sendJson(res, 200, chatCompletion({ content: 'From beta.' }));
    const call = await p.prepare(req({ model: 'm1', input: 'Hi' }), false);
    const response = await p.respond(call, new Cancellation());
    expect(response.output[0]).toMatchObject({ content: [{ text: 'From beta.' }] });
    expect(upstream.requests).toHaveLength(2);
    expect(other.requests).toHaveLength(1);
    expect(other.last.body.model).toBe('m1');
    expect(call.info).toMatchObject({ target: 'beta', attempts: 3, upstreamStatus: 200 });
    expect(await value(metrics.retries, { target: 'alpha' })).toBe(1);
    expect(await value(metrics.upstreamErrors, { target: 'alpha', kind: 'http_5xx' })).toBe(2);
    expect(await value(metrics.fallbacks, { from: 'alpha', to: 'beta' })).toBe(1);
    expect(logLines.some((l) => l.includes('falling back to another target'))).toBe(true);
  });

  it('a 4xx caused by the request is returned at once: no retry, no fallback', async () => {
    const p = makeProxy(withFallback());
    upstream.handler = (_req, res) => sendJson(res, 400, { error: { message: 'bad', param: 'input' } });
    const call = await p.prepare(req({ model: 'm1', input: 'Hi' }), false);
    const err = await p.respond(call, new Cancellation()).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 400, param: 'input' });
    expect(upstream.requests).toHaveLength(1);
    expect(other.requests).toHaveLength(0);
    expect(call.info).toMatchObject({ target: 'alpha', attempts: 1, upstreamStatus: 400 });
  });

  it('a 429 whose Retry-After exceeds max_delay is not waited for: the fallback answers', async () => {
    const p = makeProxy(withFallback('retries = { max = 2, base_delay = "1ms", max_delay = "1s" }'));
    upstream.handler = (_req, res) => sendJson(res, 429, 'slow', { 'retry-after': '60' });
    other.handler = (_req, res) => sendJson(res, 200, chatCompletion({ content: 'From beta.' }));
    const t0 = Date.now();
    const call = await p.prepare(req({ model: 'm1', input: 'Hi' }), false);
    await p.respond(call, new Cancellation());
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(upstream.requests).toHaveLength(1);
    expect(call.info).toMatchObject({ target: 'beta', attempts: 2 });
  });

  it('every target failing: the last error is thrown', async () => {
    const p = makeProxy(withFallback());
    upstream.handler = (_req, res) => sendJson(res, 503, { error: { message: 'alpha down' } });
    other.handler = (_req, res) => sendJson(res, 502, { error: { message: 'beta down' } });
    const call = await p.prepare(req({ model: 'm1', input: 'Hi' }), false);
    const err = await p.respond(call, new Cancellation()).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 502, target: 'beta', upstreamStatus: 502 });
    // beta has the default retries (max 2): 2 attempts on alpha, 3 on beta.
    expect(upstream.requests).toHaveLength(2);
    expect(other.requests).toHaveLength(3);
    expect(call.info.attempts).toBe(5);
  });

  it('an abort during the backoff stops at once', async () => {
    const p = makeProxy(
      `[targets.solo]\nbase_url = "${upstream.baseUrl}"\nretries = { max = 3, base_delay = "1ms", max_delay = "5s" }\n`,
    );
    upstream.handler = (_req, res) => sendJson(res, 503, 'busy', { 'retry-after': '3' });
    const controller = new Cancellation();
    const pending = p
      .respond(await p.prepare(req({ model: 'm', input: 'Hi' }), false), controller)
      .catch((e: unknown) => e);
    await vi.waitFor(() => expect(upstream.requests).toHaveLength(1));
    const t0 = Date.now();
    controller.abort();
    expect(await pending).toMatchObject({ name: 'AbortError' });
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(upstream.requests).toHaveLength(1);
  });
});

describe('LlmProxy.save and stores', () => {
  it('writes a response to the store, and has nothing to wait for without one or with store: false', async () => {
    const store = new MemoryStore({
      ttlMs: 60_000,
      maxEntries: 10,
      maxBytes: 1024 * 1024,
      maxResponseBytes: 64 * 1024,
    });
    const toml = `[targets.solo]\nbase_url = "${upstream.baseUrl}"\n`;
    const stateful = makeProxy(toml, {}, null, new ResponseHistory(store));
    const call = await stateful.prepare(req({ model: 'm', input: 'Hi' }), false);
    const response = await stateful.respond(call, new Cancellation());
    expect(stateful.stores(call)).toBe(true);
    const saving = stateful.save(call, response);
    expect(saving).toBeInstanceOf(Promise);
    await saving;
    expect((await store.get(response.id))?.response.id).toBe(response.id);

    const notStored = await stateful.prepare(req({ model: 'm', input: 'Hi', store: false }), false);
    expect(stateful.stores(notStored)).toBe(false);
    expect(stateful.save(notStored, await stateful.respond(notStored, new Cancellation()))).toBeUndefined();
    await stateful.close();

    const stateless = makeProxy(toml);
    const plain = await stateless.prepare(req({ model: 'm', input: 'Hi' }), false);
    expect(stateless.stores(plain)).toBe(false);
    expect(stateless.save(plain, await stateless.respond(plain, new Cancellation()))).toBeUndefined();
  });
});

describe('LlmProxy.close', () => {
  it('closes the idle keep-alive connections of every target', async () => {
    const p = makeProxy(twoTargets(), { BETA_KEY: 'sk-beta-000111' });
    await p.respond(await p.prepare(req({ model: 'gpt-4o', input: 'Hi' }), false), new Cancellation());
    await p.respond(await p.prepare(req({ model: 'llama3', input: 'Hi' }), false), new Cancellation());
    expect(upstream.closedConnections).toHaveLength(0);
    expect(other.closedConnections).toHaveLength(0);
    await p.close();
    proxy = null;
    await vi.waitFor(() => {
      expect(upstream.closedConnections).toHaveLength(1);
      expect(other.closedConnections).toHaveLength(1);
    });
  });

  it('after close() a call fails instead of opening a new connection', async () => {
    const p = makeProxy(`[targets.solo]\nbase_url = "${upstream.baseUrl}"\n`);
    await p.close();
    proxy = null;
    const err = await p
      .respond(await p.prepare(req({ model: 'm', input: 'Hi' }), false), new Cancellation())
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    await new Promise((r) => setTimeout(r, 50));
    expect(upstream.requests).toHaveLength(0);
  });
});
