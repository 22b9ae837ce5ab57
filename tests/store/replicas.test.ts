/**
 * State that outlives one proxy process: a SQLite-backed proxy restarted on the same file still
 * continues its conversations, and two proxy instances sharing one Redis (same url and key
 * prefix) serve the turns of one conversation alternately, at once, in both directions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CHAT_WEATHER_TOOL,
  ChatScript,
  chatToolCall,
  storeToml,
  WEATHER_TOOL,
} from '../helpers/conversation.js';
import { MockUpstream } from '../helpers/mock-upstream.js';
import { oneTarget, startProxy, type TestProxy } from '../helpers/proxy.js';
import { assertValidResponse } from '../helpers/spec-validator.js';
import { get } from '../reliability/helpers.js';
import { REDIS_URL, redisKeys, redisTestPrefix, wipeRedisPrefix } from './helpers.js';

const MODEL = 'test-model';
const script = new ChatScript();
let upstream: MockUpstream;
let target: string;

const clientOf = (proxy: TestProxy) =>
  new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'client-key', maxRetries: 0 });

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

afterEach(() => {
  expect(script.pending, 'every scripted upstream reply was used').toBe(0);
});

describe('SQLite: a restarted proxy', () => {
  let dir: string;
  const running: TestProxy[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'llm-proxy-restart-'));
  });

  afterAll(async () => {
    for (const p of running) await p.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async () => {
    const proxy = await startProxy(
      storeToml('sqlite', { sqlitePath: join(dir, 'store.sqlite') }) + target,
      {},
      'info',
    );
    running.push(proxy);
    return proxy;
  };

  it('continues a conversation stored before the restart', async () => {
    const first = await start();
    script.reply({ tool_calls: [{ id: 'call_s1', name: 'get_weather', arguments: '{"city":"Kyiv"}' }] });
    // Turn 1 streamed: the stored final Response survives too.
    const r1 = await clientOf(first)
      .responses.stream({ model: MODEL, input: 'Weather in Kyiv?', tools: [WEATHER_TOOL] })
      .finalResponse();
    await first.close();
    running.length = 0;

    const second = await start();
    const client = clientOf(second);
    const stored = await client.responses.retrieve(r1.id);
    expect(stored.id).toBe(r1.id);
    expect(stored.output).toEqual([
      expect.objectContaining({ type: 'function_call', call_id: 'call_s1', id: r1.output[0]?.id }),
    ]);
    assertValidResponse(JSON.parse(JSON.stringify({ ...stored, output_text: undefined })));

    script.reply({ content: 'Mild in Kyiv.' });
    const r2 = await client.responses.create({
      model: MODEL,
      previous_response_id: r1.id,
      input: [{ type: 'function_call_output', call_id: 'call_s1', output: 'mild' }],
      tools: [WEATHER_TOOL],
    });
    expect(r2.output_text).toBe('Mild in Kyiv.');
    expect(upstream.last.body).toEqual({
      model: MODEL,
      messages: [
        { role: 'user', content: 'Weather in Kyiv?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [chatToolCall('call_s1', 'get_weather', '{"city":"Kyiv"}')],
        },
        { role: 'tool', tool_call_id: 'call_s1', content: 'mild' },
      ],
      tools: [CHAT_WEATHER_TOOL],
    });

    // And once more after a second restart.
    await second.close();
    running.length = 0;
    const third = await start();
    script.reply({ content: 'Warmer.' });
    await clientOf(third).responses.create({ model: MODEL, previous_response_id: r2.id, input: 'Tomorrow?' });
    expect(upstream.last.body.messages).toHaveLength(5);
    expect(upstream.last.body.messages.at(-2)).toEqual({ role: 'assistant', content: 'Mild in Kyiv.' });
  });
});

describe('Redis: two proxy instances sharing one store', () => {
  const prefix = redisTestPrefix();
  let a: TestProxy;
  let b: TestProxy;
  let other: TestProxy;
  let clientA: OpenAI;
  let clientB: OpenAI;

  beforeAll(async () => {
    const shared = storeToml('redis', { redisUrl: REDIS_URL, keyPrefix: `${prefix}shared:` });
    a = await startProxy(shared + target, {}, 'info');
    b = await startProxy(shared + target, {}, 'info');
    // Same Redis, another key prefix: another namespace.
    other = await startProxy(
      storeToml('redis', { redisUrl: REDIS_URL, keyPrefix: `${prefix}other:` }) + target,
      {},
      'info',
    );
    clientA = clientOf(a);
    clientB = clientOf(b);
  });

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await other?.close();
    await wipeRedisPrefix(prefix);
    expect((await redisKeys(prefix)).size).toBe(0);
  });

  it('turn 1 on A, turn 2 on B at once, turn 3 back on A', async () => {
    script.reply(
      { tool_calls: [{ id: 'call_r1', name: 'get_weather', arguments: '{"city":"Quito"}' }] },
      { content: 'Cool in Quito.' },
      { content: 'Still cool.' },
    );
    const r1 = await clientA.responses.create({
      model: MODEL,
      input: 'Weather in Quito?',
      tools: [WEATHER_TOOL],
    });
    const r2 = await clientB.responses.create({
      model: MODEL,
      previous_response_id: r1.id,
      input: [{ type: 'function_call_output', call_id: 'call_r1', output: 'cool' }],
      tools: [WEATHER_TOOL],
    });
    const context = [
      { role: 'user', content: 'Weather in Quito?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [chatToolCall('call_r1', 'get_weather', '{"city":"Quito"}')],
      },
      { role: 'tool', tool_call_id: 'call_r1', content: 'cool' },
    ];
    expect(upstream.last.body.messages).toEqual(context);
    await clientA.responses.create({ model: MODEL, previous_response_id: r2.id, input: 'Tomorrow?' });
    expect(upstream.last.body.messages).toEqual([
      ...context,
      { role: 'assistant', content: 'Cool in Quito.' },
      { role: 'user', content: 'Tomorrow?' },
    ]);

    // Each instance finds the other's responses and items.
    const onB = await clientB.responses.retrieve(r1.id);
    expect(onB.id).toBe(r1.id);
    expect(onB.output).toEqual(r1.output);
    expect((await clientA.responses.retrieve(r2.id)).output_text).toBe('Cool in Quito.');
    const items = await clientA.responses.inputItems.list(r2.id, { order: 'asc' });
    expect(items.data.map((i) => i.type)).toEqual(['message', 'function_call', 'function_call_output']);
    // Another prefix does not see them.
    expect((await get(other.url, `/v1/responses/${r1.id}`)).status).toBe(404);
  });

  it('a stream completed on B is continued on A as soon as response.completed arrives', async () => {
    script.reply({ content: 'From B.' }, { content: 'From A.' });
    const stream = await clientB.responses.create({ model: MODEL, input: 'Start on B', stream: true });
    let continued: string | null = null;
    for await (const event of stream) {
      if (event.type !== 'response.completed') continue;
      const next = await clientA.responses.create({
        model: MODEL,
        previous_response_id: event.response.id,
        input: 'Go on, A',
      });
      continued = next.output_text;
    }
    expect(continued).toBe('From A.');
    expect(upstream.last.body.messages).toEqual([
      { role: 'user', content: 'Start on B' },
      { role: 'assistant', content: 'From B.' },
      { role: 'user', content: 'Go on, A' },
    ]);
  });

  it('item_reference on B resolves an item stored by A; DELETE on B is seen by A', async () => {
    script.reply({ content: 'Stored by A.' }, { content: 'Answered by B.' });
    const r = await clientA.responses.create({ model: MODEL, input: 'Hello A' });
    await clientB.responses.create({
      model: MODEL,
      input: [
        { type: 'item_reference', id: r.output[0]?.id as string },
        { role: 'user', content: 'Hello B' },
      ],
    });
    expect(upstream.last.body.messages).toEqual([
      { role: 'assistant', content: 'Stored by A.' },
      { role: 'user', content: 'Hello B' },
    ]);
    const del = await fetch(`${b.url}/v1/responses/${r.id}`, { method: 'DELETE' });
    expect(await del.json()).toEqual({ id: r.id, object: 'response', deleted: true });
    expect((await get(a.url, `/v1/responses/${r.id}`)).status).toBe(404);
    expect((await get(b.url, `/v1/responses/${r.id}`)).status).toBe(404);
  });
});
