/**
 * The store as a dependency: /readyz reports it, and a response that cannot be stored is not
 * delivered as a success (503 store_unavailable as JSON; `error` + `response.failed` instead of
 * `response.completed` on a stream), while `store: false` requests do not need the store at all.
 * The broken store is a Redis URL on a closed port; commands fail after the 2 s connection wait.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Backend, ChatScript, storeToml } from '../helpers/conversation.js';
import { MockUpstream } from '../helpers/mock-upstream.js';
import { oneTarget, startProxy, type TestProxy } from '../helpers/proxy.js';
import { expectEnvelope, get, post, streamEvents } from '../reliability/helpers.js';
import { REDIS_URL, redisTestPrefix, wipeRedisPrefix } from '../store/helpers.js';

const MODEL = 'test-model';
const BROKEN_REDIS = 'redis://127.0.0.1:1';
const script = new ChatScript();
let upstream: MockUpstream;
let target: string;

beforeAll(async () => {
  upstream = await MockUpstream.start(script.handler);
  target = oneTarget(upstream.baseUrl, 'retries = { max = 0 }');
});

afterAll(async () => {
  await upstream?.close();
});

beforeEach(() => {
  upstream.requests.length = 0;
  script.clear();
});

describe('/readyz', () => {
  const prefix = redisTestPrefix();
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'llm-proxy-ready-'));
  });

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await wipeRedisPrefix(prefix);
  });

  it.each<Backend>(['memory', 'sqlite', 'redis'])('is 200 with a working %s store', async (backend) => {
    const proxy = await startProxy(
      storeToml(backend, { sqlitePath: join(dir, 'ready.sqlite'), redisUrl: REDIS_URL, keyPrefix: prefix }) +
        target,
      {},
      'info',
    );
    try {
      const reply = await get(proxy.url, '/readyz');
      expect(reply.status).toBe(200);
      expect(reply.json).toEqual({ status: 'ready' });
    } finally {
      await proxy.close();
    }
  });

  it('is 503 naming the store when Redis cannot be reached', async () => {
    const proxy = await startProxy(
      storeToml('redis', { redisUrl: BROKEN_REDIS, keyPrefix: prefix }) + target,
    );
    try {
      const reply = await get(proxy.url, '/readyz');
      expect(reply.status).toBe(503);
      expect(reply.json).toEqual({ status: 'not_ready', failures: { store: expect.any(String) } });
      expect(reply.json.failures.store).toContain('redis://127.0.0.1:1');
      // /healthz only says the process serves.
      expect((await get(proxy.url, '/healthz')).status).toBe(200);
    } finally {
      await proxy.close();
    }
  });
});

describe('a store that cannot be written', () => {
  let proxy: TestProxy;
  let client: OpenAI;

  beforeAll(async () => {
    proxy = await startProxy(storeToml('redis', { redisUrl: BROKEN_REDIS, keyPrefix: 'unused:' }) + target);
    client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
  });

  afterAll(async () => {
    await proxy?.close();
  });

  it('fails a JSON request with 503 store_unavailable (store left at its default)', async () => {
    script.reply({ content: 'Lost answer.' });
    const reply = await post(proxy.url, { model: MODEL, input: 'Hi' });
    expect(reply.status).toBe(503);
    const e = expectEnvelope(reply);
    expect(e).toMatchObject({ type: 'server_error', code: 'store_unavailable', param: null });
    expect(e.message).toMatch(/store is unavailable/);
    expect(e.message).toContain('redis://127.0.0.1:1');
    expect(upstream.requests).toHaveLength(1);
    expect(script.pending).toBe(0);
  });

  it('still answers store: false requests, JSON and streamed', async () => {
    script.reply({ content: 'Not stored.' }, { content: 'Streamed, not stored.' });
    const r = await client.responses.create({ model: MODEL, input: 'Hi', store: false });
    expect(r).toMatchObject({ status: 'completed', store: false });
    expect(r.output_text).toBe('Not stored.');
    const s = await client.responses.stream({ model: MODEL, input: 'Hi', store: false }).finalResponse();
    expect(s.output_text).toBe('Streamed, not stored.');
  });

  it('ends a stream with error + response.failed instead of response.completed', async () => {
    script.reply({ content: 'Streamed but lost.' });
    const reply = await post(proxy.url, { model: MODEL, input: 'Hi', stream: true });
    expect(reply.status).toBe(200);
    const { events, terminal } = streamEvents(reply.text);
    expect(events.map((e) => e.type)).not.toContain('response.completed');
    expect(
      events
        .filter((e) => e.type === 'response.output_text.delta')
        .map((e) => e.delta)
        .join(''),
    ).toBe('Streamed but lost.');
    expect(events.at(-2)).toMatchObject({
      type: 'error',
      code: 'store_unavailable',
      error: { type: 'server_error', code: 'store_unavailable' },
    });
    expect(terminal).toMatchObject({ type: 'response.failed', response: { status: 'failed' } });
    expect(terminal.response.error.message).toMatch(/store is unavailable/);

    // The SDK's stream helper raises instead of resolving a final response.
    script.reply({ content: 'Again lost.' });
    await expect(client.responses.stream({ model: MODEL, input: 'Hi' }).finalResponse()).rejects.toThrow(
      /store is unavailable/,
    );
  });

  it('fails previous_response_id and the stored-response routes with 503 before any upstream call', async () => {
    const cont = await post(proxy.url, { model: MODEL, previous_response_id: 'resp_1', input: 'Hi' });
    expect(cont.status).toBe(503);
    expect(expectEnvelope(cont).code).toBe('store_unavailable');
    const stored = await get(proxy.url, '/v1/responses/resp_1');
    expect(stored.status).toBe(503);
    expect(expectEnvelope(stored).code).toBe('store_unavailable');
    expect(upstream.requests).toHaveLength(0);
  });
});
