/**
 * The real OpenAI Agents SDK (JS) through the proxy: an agent with a strict zod function tool runs
 * to completion, non-streamed and streamed, against a scripted Chat Completions upstream that
 * calls the tool on the first turn and answers with text on the next. Also: a namespaced tool
 * (`toolNamespace`, flattened to `NS__NAME` upstream) and a server-managed conversation
 * (`previousResponseId`, resolved from the proxy's store), and structured output (`outputType`, a zod
 * object: the SDK's `text.format` json_schema reaches the upstream as `response_format`).
 */
import {
  Agent,
  OpenAIResponsesModel,
  run,
  setDefaultOpenAIClient,
  setOpenAIAPI,
  setTracingDisabled,
  tool,
  toolNamespace,
} from '@openai/agents';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ChatScript } from '../helpers/conversation.js';
import { MockUpstream } from '../helpers/mock-upstream.js';
import { oneTarget, startProxy, type TestProxy } from '../helpers/proxy.js';

let upstream: MockUpstream;
let proxy: TestProxy;
let client: OpenAI;
const script = new ChatScript();
/** Every city the tool was called with, in order. */
const calls: string[] = [];

const getWeather = tool({
  name: 'get_weather',
  description: 'Get the weather for a city',
  parameters: z.object({ city: z.string() }),
  strict: true,
  execute: async ({ city }) => {
    calls.push(city);
    return `Sunny in ${city}, 21C`;
  },
});

function weatherAgent(model?: OpenAIResponsesModel): Agent {
  return new Agent({
    name: 'Weather',
    instructions: 'You answer weather questions.',
    tools: [getWeather],
    ...(model ? { model } : { model: 'test-model' }),
  });
}

beforeAll(async () => {
  setTracingDisabled(true);
  upstream = await MockUpstream.start(script.handler);
  proxy = await startProxy(oneTarget(upstream.baseUrl), {}, 'info');
  client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'agents-key', maxRetries: 0 });
  setDefaultOpenAIClient(client);
  setOpenAIAPI('responses');
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

beforeEach(() => {
  upstream.requests.length = 0;
  script.clear();
  calls.length = 0;
});

/** The first turn calls the tool, the second answers with text. */
function scriptToolThenText(callId: string, city: string, answer: string, name = 'get_weather'): void {
  script.reply(
    { tool_calls: [{ id: callId, name, arguments: JSON.stringify({ city }) }] },
    { content: answer },
  );
}

/** The chat messages of the upstream's request `i`. */
// biome-ignore lint/suspicious/noExplicitAny: upstream payloads are inspected as arbitrary JSON
const messagesOf = (i: number): any[] => upstream.requests[i]?.body.messages;

function expectToolTurn(callId: string, name: string, city: string): void {
  expect(upstream.requests).toHaveLength(2);
  const [first, second] = upstream.requests;
  expect(first?.path).toBe('/v1/chat/completions');
  expect(first?.body.tools).toEqual([
    {
      type: 'function',
      function: expect.objectContaining({
        name,
        description: 'Get the weather for a city',
        strict: true,
        parameters: expect.objectContaining({
          type: 'object',
          properties: { city: { type: 'string' } },
          required: ['city'],
          additionalProperties: false,
        }),
      }),
    },
  ]);
  expect(messagesOf(0)).toEqual([
    { role: 'system', content: 'You answer weather questions.' },
    { role: 'user', content: `Weather in ${city}?` },
  ]);
  // The second turn carries the call and the tool's result, paired as chat servers require.
  expect(second?.body.messages).toEqual([
    { role: 'system', content: 'You answer weather questions.' },
    { role: 'user', content: `Weather in ${city}?` },
    {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: callId, type: 'function', function: { name, arguments: JSON.stringify({ city }) } }],
    },
    { role: 'tool', tool_call_id: callId, content: `Sunny in ${city}, 21C` },
  ]);
}

describe('OpenAI Agents SDK (JS) through the proxy', () => {
  it('runs an agent with a strict function tool to completion (non-streaming)', async () => {
    scriptToolThenText('call_ag_1', 'Paris', 'It is sunny in Paris.');
    const result = await run(weatherAgent(), 'Weather in Paris?');
    expect(result.finalOutput).toBe('It is sunny in Paris.');
    expect(calls).toEqual(['Paris']);
    expectToolTurn('call_ag_1', 'get_weather', 'Paris');
    expect(upstream.requests.every((r) => r.body.stream !== true)).toBe(true);
  });

  it('runs the same agent streamed: run(agent, input, { stream: true })', async () => {
    scriptToolThenText('call_ag_2', 'Oslo', 'Sunny in Oslo.');
    const result = await run(weatherAgent(), 'Weather in Oslo?', { stream: true });
    const types = new Set<string>();
    let text = '';
    for await (const event of result) {
      types.add(event.type);
      if (event.type === 'raw_model_stream_event' && event.data.type === 'output_text_delta') {
        text += event.data.delta;
      }
    }
    await result.completed;
    expect(result.error ?? null).toBeNull();
    expect(result.finalOutput).toBe('Sunny in Oslo.');
    expect(text).toBe('Sunny in Oslo.');
    expect(types).toContain('raw_model_stream_event');
    expect(types).toContain('run_item_stream_event');
    expect(calls).toEqual(['Oslo']);
    expectToolTurn('call_ag_2', 'get_weather', 'Oslo');
    expect(upstream.requests.every((r) => r.body.stream === true)).toBe(true);
  });

  it('works with an explicit OpenAIResponsesModel(client, model)', async () => {
    scriptToolThenText('call_ag_3', 'Lima', 'Sunny in Lima.');
    const result = await run(
      weatherAgent(new OpenAIResponsesModel(client, 'test-model')),
      'Weather in Lima?',
    );
    expect(result.finalOutput).toBe('Sunny in Lima.');
    expect(upstream.requests.map((r) => r.body.model)).toEqual(['test-model', 'test-model']);
    expectToolTurn('call_ag_3', 'get_weather', 'Lima');
  });

  it.each([false, true])('calls a namespaced tool (toolNamespace), streamed %s', async (stream) => {
    const agent = new Agent({
      name: 'Weather',
      instructions: 'You answer weather questions.',
      model: 'test-model',
      tools: toolNamespace({ name: 'weather', description: 'Weather tools', tools: [getWeather] }),
    });
    // Upstream, the namespaced function is offered (and called) as `weather__get_weather`.
    scriptToolThenText('call_ns_1', 'Rome', 'Sunny in Rome.', 'weather__get_weather');
    const result = stream
      ? await run(agent, 'Weather in Rome?', { stream: true })
      : await run(agent, 'Weather in Rome?');
    if ('completed' in result) {
      for await (const _ of result) {
        // drain
      }
      await result.completed;
    }
    expect(result.finalOutput).toBe('Sunny in Rome.');
    expect(calls).toEqual(['Rome']);
    expectToolTurn('call_ns_1', 'weather__get_weather', 'Rome');
    // The Responses side saw the namespace the SDK declared: its history item carries it back.
    const call = result.newItems.find((i) => i.type === 'tool_call_item');
    expect(call?.rawItem).toMatchObject({ type: 'function_call', name: 'get_weather', namespace: 'weather' });
  });

  it('continues a server-managed conversation with previousResponseId (resolved from the store)', async () => {
    scriptToolThenText('call_pr_1', 'Paris', 'Sunny in Paris.');
    const first = await run(weatherAgent(), 'Weather in Paris?');
    expect(first.lastResponseId).toMatch(/^resp_/);
    upstream.requests.length = 0;

    scriptToolThenText('call_pr_2', 'Rome', 'Sunny in Rome too.');
    const second = await run(weatherAgent(), 'Weather in Rome?', {
      previousResponseId: first.lastResponseId as string,
    });
    expect(second.finalOutput).toBe('Sunny in Rome too.');
    expect(calls).toEqual(['Paris', 'Rome']);
    // The SDK sent only the new items with previous_response_id; the upstream still saw it all.
    expect(messagesOf(1)).toEqual([
      { role: 'system', content: 'You answer weather questions.' },
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_pr_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_pr_1', content: 'Sunny in Paris, 21C' },
      { role: 'assistant', content: 'Sunny in Paris.' },
      { role: 'user', content: 'Weather in Rome?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_pr_2',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Rome"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_pr_2', content: 'Sunny in Rome, 21C' },
    ]);
  });

  it.each([false, true])(
    'an agent with a zod outputType gets response_format json_schema and a parsed finalOutput, streamed %s',
    async (stream) => {
      const Forecast = z.object({
        city: z.string(),
        temperature_c: z.number(),
        conditions: z.enum(['sunny', 'cloudy', 'rainy']),
      });
      const agent = new Agent({
        name: 'Forecaster',
        instructions: 'You answer with a forecast.',
        model: 'test-model',
        outputType: Forecast,
      });
      const forecast = { city: 'Paris', temperature_c: 21.5, conditions: 'sunny' };
      script.reply({ content: JSON.stringify(forecast) });

      const result = stream
        ? await run(agent, 'Forecast for Paris?', { stream: true })
        : await run(agent, 'Forecast for Paris?');
      if ('completed' in result) {
        for await (const _ of result) {
          // drain
        }
        await result.completed;
        expect(result.error ?? null).toBeNull();
      }

      expect(upstream.requests).toHaveLength(1);
      const body = upstream.last.body;
      expect(body.stream === true).toBe(stream);
      expect(body.messages).toEqual([
        { role: 'system', content: 'You answer with a forecast.' },
        { role: 'user', content: 'Forecast for Paris?' },
      ]);
      expect(body.response_format).toEqual({
        type: 'json_schema',
        json_schema: {
          name: 'output',
          strict: true,
          schema: expect.objectContaining({
            type: 'object',
            properties: {
              city: { type: 'string' },
              temperature_c: { type: 'number' },
              conditions: { type: 'string', enum: ['sunny', 'cloudy', 'rainy'] },
            },
            required: ['city', 'temperature_c', 'conditions'],
            additionalProperties: false,
          }),
        },
      });
      expect(body.tools).toBeUndefined();
      // The SDK parsed the JSON text into the object (not the raw string).
      expect(result.finalOutput).toEqual(forecast);
      expect(typeof result.finalOutput).toBe('object');
      expect(Forecast.parse(result.finalOutput)).toEqual(forecast);
    },
  );
});
