/**
 * The real Vercel AI SDK (`ai` 6 with `@ai-sdk/openai` 3) through the proxy:
 * `generateText` on `createOpenAI({ baseURL }).responses(model)` with a tool, two steps, against a
 * scripted Chat Completions upstream (a tool call with reasoning and a preamble, then text).
 *
 * - store on: the SDK sends the earlier assistant items as `item_reference`s; the proxy resolves
 *   them from its store, so the upstream still sees the whole context.
 * - store off (with `forceReasoning`, so the SDK asks for `reasoning.encrypted_content`): the SDK
 *   sends the reasoning item back with only its `encrypted_content`; the proxy opens it and
 *   replays the reasoning to the upstream as `reasoning_content`.
 */
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ChatScript } from '../helpers/conversation.js';
import { MockUpstream } from '../helpers/mock-upstream.js';
import { oneTarget, startProxy, type TestProxy } from '../helpers/proxy.js';

let upstream: MockUpstream;
let proxy: TestProxy;
const script = new ChatScript();
/** The Responses requests the SDK sent to the proxy. */
// biome-ignore lint/suspicious/noExplicitAny: SDK payloads are inspected as arbitrary JSON
const sent: any[] = [];
const executed: string[] = [];

const weather = tool({
  description: 'Get the weather for a city',
  inputSchema: z.object({ city: z.string() }),
  execute: async ({ city }) => {
    executed.push(city);
    return { forecast: `Sunny in ${city}` };
  },
});

function model() {
  const openai = createOpenAI({
    baseURL: `${proxy.url}/v1`,
    apiKey: 'ai-sdk-key',
    fetch: async (url, init) => {
      if (typeof init?.body === 'string') sent.push(JSON.parse(init.body));
      return fetch(url, init);
    },
  });
  return openai.responses('test-model');
}

beforeAll(async () => {
  upstream = await MockUpstream.start(script.handler);
  proxy = await startProxy(oneTarget(upstream.baseUrl), {}, 'info');
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

beforeEach(() => {
  upstream.requests.length = 0;
  sent.length = 0;
  executed.length = 0;
  script.clear();
  // Turn 1: reasoning, a preamble and a tool call; turn 2: the answer.
  script.reply(
    {
      reasoning_content: 'The user wants the weather; call the tool.',
      content: 'Let me check.',
      tool_calls: [{ id: 'call_ai_1', name: 'weather', arguments: '{"city":"Paris"}' }],
    },
    { content: 'It is sunny in Paris.' },
  );
});

/** What the upstream must see on the second step, whichever way the SDK sent the history. */
const SECOND_STEP_MESSAGES = [
  { role: 'user', content: 'Weather in Paris?' },
  {
    role: 'assistant',
    content: 'Let me check.',
    reasoning_content: 'The user wants the weather; call the tool.',
    tool_calls: [
      { id: 'call_ai_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } },
    ],
  },
  { role: 'tool', tool_call_id: 'call_ai_1', content: '{"forecast":"Sunny in Paris"}' },
];

describe('Vercel AI SDK through the proxy', () => {
  it('generateText with a tool, two steps, store on: item_references are resolved', async () => {
    const result = await generateText({
      model: model(),
      prompt: 'Weather in Paris?',
      tools: { weather },
      stopWhen: stepCountIs(3),
      providerOptions: { openai: { store: true, forceReasoning: true } },
    });
    expect(result.text).toBe('It is sunny in Paris.');
    expect(result.steps).toHaveLength(2);
    expect(executed).toEqual(['Paris']);

    expect(sent).toHaveLength(2);
    // The SDK referenced the stored reasoning and message items instead of resending them.
    const refs = sent[1].input.filter((i: { type?: string }) => i.type === 'item_reference');
    expect(refs.map((r: { id: string }) => r.id.split('_')[0]).sort()).toEqual(['msg', 'rs']);
    expect(sent[1].previous_response_id).toBeUndefined();

    expect(upstream.requests).toHaveLength(2);
    expect(upstream.requests[1]?.body.messages).toEqual(SECOND_STEP_MESSAGES);
  });

  it('generateText with a tool, two steps, store off: encrypted reasoning is replayed', async () => {
    const result = await generateText({
      model: model(),
      prompt: 'Weather in Paris?',
      tools: { weather },
      stopWhen: stepCountIs(3),
      providerOptions: { openai: { store: false, forceReasoning: true } },
    });
    expect(result.text).toBe('It is sunny in Paris.');
    expect(result.steps).toHaveLength(2);
    expect(executed).toEqual(['Paris']);

    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatchObject({ store: false, include: ['reasoning.encrypted_content'] });
    const items = sent[1].input as Array<Record<string, unknown>>;
    expect(items.some((i) => i.type === 'item_reference')).toBe(false);
    // The reasoning came back as an opaque blob only: no text the proxy could have read.
    const reasoning = items.find((i) => i.type === 'reasoning');
    expect(reasoning).toMatchObject({ encrypted_content: expect.stringMatching(/^llmproxy\.v1\./) });
    expect(JSON.stringify(reasoning)).not.toContain('call the tool');

    expect(upstream.requests).toHaveLength(2);
    expect(upstream.requests[1]?.body.messages).toEqual(SECOND_STEP_MESSAGES);
  });

  it('streamText with a tool, two steps, store on', async () => {
    const result = streamText({
      model: model(),
      prompt: 'Weather in Paris?',
      tools: { weather },
      stopWhen: stepCountIs(3),
      providerOptions: { openai: { store: true, forceReasoning: true } },
    });
    let text = '';
    for await (const delta of result.textStream) text += delta;
    expect(text).toBe('Let me check.It is sunny in Paris.');
    expect(await result.text).toBe('It is sunny in Paris.');
    expect(executed).toEqual(['Paris']);
    expect(sent.map((s) => s.stream)).toEqual([true, true]);
    expect(upstream.requests[1]?.body.messages).toEqual(SECOND_STEP_MESSAGES);
  });
});
