/**
 * Recorded-shape Chat Completions streams (vLLM, llama.cpp, Ollama, DeepSeek, OpenAI, Azure) with
 * the exact Responses events each must produce, the equivalent non-streaming reply, and an
 * independent checker of the event grammar (what openai-node's stream helpers enforce, and more).
 * Shared by the translator, relay and route tests.
 */
import { expect } from 'vitest';
import { chatCompletion } from '../helpers/mock-upstream.js';
import { assertValidEvent, assertValidResponse } from '../helpers/spec-validator.js';

// biome-ignore lint/suspicious/noExplicitAny: events and responses are inspected as arbitrary JSON
export type Json = any;

export interface StreamFixture {
  name: string;
  /** The `data:` payloads, in order (objects, or raw strings sent as they are). */
  chunks: unknown[];
  /** Ends with `data: [DONE]` (default true). */
  done?: boolean;
  /** The same content as one non-streaming reply, when one exists. */
  reply?: Json;
  /** The exact events, normalized by `normalizeEvents` (nested arrays are flattened). */
  events: Json[];
  status: 'completed' | 'incomplete' | 'failed';
  usage?: Json;
}

// ---------------------------------------------------------------------------------------------
// Expected-event builders. Item ids are written `<prefix>@<output_index>` (see normalizeEvents).

const msgId = (oi: number) => `msg@${oi}`;
const rsId = (oi: number) => `rs@${oi}`;
const fcId = (oi: number) => `fc@${oi}`;

export const text = (t: string) => ({ type: 'output_text', text: t, annotations: [], logprobs: [] });
export const refusal = (r: string) => ({ type: 'refusal', refusal: r });

export const ev = {
  created: { type: 'response.created', status: 'in_progress' },
  inProgress: { type: 'response.in_progress', status: 'in_progress' },
  completed: { type: 'response.completed', status: 'completed' },
  incomplete: { type: 'response.incomplete', status: 'incomplete' },
  failed: { type: 'response.failed', status: 'failed' },
  error: (code: string, message: string) => ({
    type: 'error',
    code,
    message,
    param: null,
    error: { type: 'server_error', code, message, param: null },
  }),

  msgAdded: (oi: number) => ({
    type: 'response.output_item.added',
    output_index: oi,
    item: { id: msgId(oi), type: 'message', status: 'in_progress', role: 'assistant', content: [] },
  }),
  textPart: (oi: number, ci = 0) => ({
    type: 'response.content_part.added',
    item_id: msgId(oi),
    output_index: oi,
    content_index: ci,
    part: text(''),
  }),
  textDelta: (oi: number, delta: string, ci = 0) => ({
    type: 'response.output_text.delta',
    item_id: msgId(oi),
    output_index: oi,
    content_index: ci,
    delta,
    logprobs: [],
  }),
  /** output_text.done + content_part.done */
  textDone: (oi: number, t: string, ci = 0) => [
    {
      type: 'response.output_text.done',
      item_id: msgId(oi),
      output_index: oi,
      content_index: ci,
      text: t,
      logprobs: [],
    },
    {
      type: 'response.content_part.done',
      item_id: msgId(oi),
      output_index: oi,
      content_index: ci,
      part: text(t),
    },
  ],
  refusalPart: (oi: number, ci = 0) => ({
    type: 'response.content_part.added',
    item_id: msgId(oi),
    output_index: oi,
    content_index: ci,
    part: refusal(''),
  }),
  refusalDelta: (oi: number, delta: string, ci = 0) => ({
    type: 'response.refusal.delta',
    item_id: msgId(oi),
    output_index: oi,
    content_index: ci,
    delta,
  }),
  /** refusal.done + content_part.done */
  refusalDone: (oi: number, r: string, ci = 0) => [
    { type: 'response.refusal.done', item_id: msgId(oi), output_index: oi, content_index: ci, refusal: r },
    {
      type: 'response.content_part.done',
      item_id: msgId(oi),
      output_index: oi,
      content_index: ci,
      part: refusal(r),
    },
  ],
  msgDone: (oi: number, content: unknown[], status = 'completed') => ({
    type: 'response.output_item.done',
    output_index: oi,
    item: { id: msgId(oi), type: 'message', status, role: 'assistant', content },
  }),

  /** output_item.added + content_part.added(reasoning_text) */
  rsAdded: (oi: number) => [
    {
      type: 'response.output_item.added',
      output_index: oi,
      item: { id: rsId(oi), type: 'reasoning', status: 'in_progress', summary: [], content: [] },
    },
    {
      type: 'response.content_part.added',
      item_id: rsId(oi),
      output_index: oi,
      content_index: 0,
      part: { type: 'reasoning_text', text: '' },
    },
  ],
  rsDelta: (oi: number, delta: string) => ({
    type: 'response.reasoning_text.delta',
    item_id: rsId(oi),
    output_index: oi,
    content_index: 0,
    delta,
  }),
  /** reasoning_text.done + content_part.done + output_item.done */
  rsDone: (oi: number, t: string, status = 'completed') => [
    { type: 'response.reasoning_text.done', item_id: rsId(oi), output_index: oi, content_index: 0, text: t },
    {
      type: 'response.content_part.done',
      item_id: rsId(oi),
      output_index: oi,
      content_index: 0,
      part: { type: 'reasoning_text', text: t },
    },
    {
      type: 'response.output_item.done',
      output_index: oi,
      item: {
        id: rsId(oi),
        type: 'reasoning',
        status,
        summary: [],
        content: [{ type: 'reasoning_text', text: t }],
      },
    },
  ],

  fcAdded: (oi: number, callId: string, name: string) => ({
    type: 'response.output_item.added',
    output_index: oi,
    item: {
      id: fcId(oi),
      type: 'function_call',
      status: 'in_progress',
      arguments: '',
      call_id: callId,
      name,
    },
  }),
  argsDelta: (oi: number, delta: string) => ({
    type: 'response.function_call_arguments.delta',
    item_id: fcId(oi),
    output_index: oi,
    delta,
  }),
  /** function_call_arguments.done + output_item.done */
  fcDone: (oi: number, callId: string, name: string, args: string, status = 'completed') => [
    {
      type: 'response.function_call_arguments.done',
      item_id: fcId(oi),
      output_index: oi,
      arguments: args,
      name,
    },
    {
      type: 'response.output_item.done',
      output_index: oi,
      item: { id: fcId(oi), type: 'function_call', status, arguments: args, call_id: callId, name },
    },
  ],
};

// ---------------------------------------------------------------------------------------------
// Normalization

const GENERATED_CALL_ID = /^call_[0-9a-f]{32}$/;

/**
 * Strips sequence numbers (checked by `checkStream`), reduces lifecycle events to their status,
 * and renames the proxy's random ids after their output_index: `msg_…` -> `msg@0`, a generated
 * `call_…` -> `call@1`. Upstream call ids are kept as they are.
 */
export function normalizeEvents(events: readonly Json[]): Json[] {
  const names = new Map<string, string>();
  for (const e of events) {
    if (e.type !== 'response.output_item.added') continue;
    const oi = e.output_index as number;
    names.set(e.item.id, `${String(e.item.id).split('_')[0]}@${oi}`);
    if (typeof e.item.call_id === 'string' && GENERATED_CALL_ID.test(e.item.call_id)) {
      names.set(e.item.call_id, `call@${oi}`);
    }
  }
  return events.map((e) => {
    const { sequence_number: _seq, ...rest } = e;
    if ('response' in rest) return { type: rest.type, status: rest.response.status };
    return rename(rest, names);
  });
}

/** A Response with the proxy's random ids renamed by position and the timestamps blanked. */
export function normalizeResponse(response: Json): Json {
  const names = new Map<string, string>();
  (response.output as Json[]).forEach((item, i) => {
    names.set(item.id, `${String(item.id).split('_')[0]}@${i}`);
    if (typeof item.call_id === 'string' && GENERATED_CALL_ID.test(item.call_id))
      names.set(item.call_id, `call@${i}`);
  });
  const r = rename(response, names);
  return { ...r, id: 'resp@', created_at: 0, completed_at: r.completed_at === null ? null : 0 };
}

function rename(value: Json, names: Map<string, string>): Json {
  if (typeof value === 'string') return names.get(value) ?? value;
  if (Array.isArray(value)) return value.map((v) => rename(v, names));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rename(v, names)]));
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// The grammar checker

const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/**
 * Checks a whole event list against the Responses streaming contract and both specs, the way a
 * strict client would replay it, and returns the terminal Response. Independent of the proxy's code.
 */
export function checkStream(events: readonly Json[]): Json {
  for (const e of events) assertValidEvent(e);
  expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
  expect(events[0]?.type).toBe('response.created');
  expect(events[1]?.type).toBe('response.in_progress');
  const snapshot = events[0].response;
  expect(snapshot).toMatchObject({ status: 'in_progress', output: [], completed_at: null, error: null });
  expect(snapshot.usage).toMatchObject({ input_tokens: 0, output_tokens: 0, total_tokens: 0 });
  expect(events[1].response).toEqual(snapshot);

  const terminals = events.filter((e) => TERMINAL.has(e.type));
  expect(terminals).toHaveLength(1);
  const terminal = events[events.length - 1];
  expect(TERMINAL.has(terminal.type), `last event is ${terminal.type}`).toBe(true);
  const errors = events.filter((e) => e.type === 'error');
  if (terminal.type === 'response.failed') {
    expect(errors).toHaveLength(1);
    expect(events[events.length - 2]).toBe(errors[0]);
    expect(errors[0].error).toEqual({
      type: expect.any(String),
      code: errors[0].code,
      message: errors[0].message,
      param: null,
    });
  } else {
    expect(errors).toHaveLength(0);
  }

  // Replay the item events.
  const done: Json[] = [];
  let open: Json = null;
  let openPart: Json = null;
  for (const e of events.slice(2, -1)) {
    if (e.type === 'error') continue;
    if (e.type === 'response.output_item.added') {
      expect(open, `item ${e.output_index} added while ${open?.item.id} is open`).toBeNull();
      expect(e.output_index).toBe(done.length);
      expect(typeof e.item.id === 'string' && e.item.id !== '').toBe(true);
      if (e.item.type === 'custom_tool_call') {
        // OpenAI's custom tool call item has no status; its input streams in its own events.
        expect(e.item.input).toBe('');
        expect(e.item.name).not.toBe('');
        expect(e.item.call_id).not.toBe('');
      } else if (e.item.type === 'function_call') {
        expect(e.item.status).toBe('in_progress');
        expect(e.item.arguments).toBe('');
        expect(e.item.name).not.toBe('');
        expect(e.item.call_id).not.toBe('');
      } else {
        expect(e.item.status).toBe('in_progress');
        expect(e.item.content).toEqual([]);
      }
      open = { item: structuredClone(e.item), parts: [] as Json[], args: '' };
      continue;
    }
    expect(open, `${e.type} outside an item`).not.toBeNull();
    expect(e.output_index).toBe(done.length);
    if (e.type !== 'response.output_item.done') expect(e.item_id).toBe(open.item.id);
    switch (e.type) {
      case 'response.content_part.added':
        expect(openPart).toBeNull();
        expect(e.content_index).toBe(open.parts.length);
        openPart = structuredClone(e.part);
        expect(openPart.type).toBe(open.item.type === 'reasoning' ? 'reasoning_text' : openPart.type);
        break;
      case 'response.output_text.delta':
      case 'response.reasoning_text.delta':
        expect(openPart?.type).toBe(
          e.type === 'response.output_text.delta' ? 'output_text' : 'reasoning_text',
        );
        expect(e.content_index).toBe(open.parts.length);
        expect(e.delta).not.toBe('');
        openPart.text += e.delta;
        break;
      case 'response.refusal.delta':
        expect(openPart?.type).toBe('refusal');
        expect(e.content_index).toBe(open.parts.length);
        openPart.refusal += e.delta;
        break;
      case 'response.output_text.done':
      case 'response.reasoning_text.done':
        expect(e.content_index).toBe(open.parts.length);
        expect(e.text).toBe(openPart.text);
        break;
      case 'response.refusal.done':
        expect(e.content_index).toBe(open.parts.length);
        expect(e.refusal).toBe(openPart.refusal);
        break;
      case 'response.content_part.done':
        expect(e.content_index).toBe(open.parts.length);
        if (openPart.type === 'output_text') expect(e.part.text).toBe(openPart.text);
        else if (openPart.type === 'refusal') expect(e.part).toEqual(openPart);
        else expect(e.part).toEqual(openPart);
        open.parts.push(e.part);
        openPart = null;
        break;
      case 'response.function_call_arguments.delta':
        expect(open.item.type).toBe('function_call');
        open.args += e.delta;
        break;
      case 'response.function_call_arguments.done':
        expect(e.arguments).toBe(open.args);
        expect(e.name).toBe(open.item.name);
        break;
      case 'response.custom_tool_call_input.delta':
        expect(open.item.type).toBe('custom_tool_call');
        expect(e.delta).not.toBe('');
        open.args += e.delta;
        break;
      case 'response.custom_tool_call_input.done':
        expect(open.item.type).toBe('custom_tool_call');
        expect(e.input).toBe(open.args);
        break;
      case 'response.output_item.done': {
        expect(openPart).toBeNull();
        expect(e.item.id).toBe(open.item.id);
        expect(e.item.type).toBe(open.item.type);
        if (open.item.type === 'custom_tool_call') {
          expect(e.item).toEqual({ ...open.item, input: open.args });
          done.push(e.item);
          open = null;
          break;
        }
        expect(['completed', 'incomplete']).toContain(e.item.status);
        if (open.item.type === 'function_call') {
          expect(e.item).toMatchObject({
            call_id: open.item.call_id,
            name: open.item.name,
            arguments: open.args,
          });
          // The fixtures' completed calls all carry JSON arguments (a truncated one may not).
          if (e.item.status === 'completed') expect(() => JSON.parse(e.item.arguments)).not.toThrow();
        } else {
          expect(e.item.content).toEqual(open.parts);
        }
        done.push(e.item);
        open = null;
        break;
      }
      default:
        throw new Error(`unexpected event ${e.type}`);
    }
  }
  expect(open, 'an item was left open').toBeNull();

  const response = terminal.response;
  assertValidResponse(response);
  expect(response.id).toBe(snapshot.id);
  expect(response.created_at).toBe(snapshot.created_at);
  expect(response.output).toEqual(done);
  expect(response.usage).not.toBeNull();
  if (terminal.type === 'response.completed') {
    expect(response.status).toBe('completed');
    expect(response.completed_at).toEqual(expect.any(Number));
    expect(response.incomplete_details).toBeNull();
    expect(response.error).toBeNull();
  } else if (terminal.type === 'response.incomplete') {
    expect(response.status).toBe('incomplete');
    expect(response.incomplete_details).toEqual({
      reason: expect.stringMatching(/^(max_output_tokens|content_filter)$/),
    });
    expect(response.output.at(-1).status).toBe('incomplete');
  } else {
    expect(response.status).toBe('failed');
    expect(response.error).toEqual({ code: 'server_error', message: errors[0].message });
  }
  return response;
}

/** Parses raw SSE text as the proxy writes it, checking the framing of every event. */
export function parseSseText(raw: string): { events: Json[]; comments: string[] } {
  expect(raw.endsWith('\n\n'), 'the stream ends with a blank line').toBe(true);
  const events: Json[] = [];
  const comments: string[] = [];
  for (const block of raw.slice(0, -2).split('\n\n')) {
    const lines = block.split('\n');
    if (lines.every((l) => l.startsWith(':'))) {
      comments.push(...lines);
      continue;
    }
    expect(lines, `event block ${JSON.stringify(block.slice(0, 200))}`).toHaveLength(2);
    const [eventLine, dataLine] = lines as [string, string];
    expect(eventLine.startsWith('event: ')).toBe(true);
    expect(dataLine.startsWith('data: ')).toBe(true);
    expect(dataLine).not.toBe('data: [DONE]');
    const data = JSON.parse(dataLine.slice('data: '.length));
    expect(eventLine.slice('event: '.length)).toBe(data.type);
    events.push(data);
  }
  expect(raw).not.toContain('[DONE]');
  return { events, comments };
}

// ---------------------------------------------------------------------------------------------
// Recorded-shape streams

const CREATED = 1_755_000_000;

const vllm = (delta: Json, finish: string | null = null) => ({
  id: 'chatcmpl-8f1e2d3c4b5a69788796a5b4c3d2e1f0',
  object: 'chat.completion.chunk',
  created: CREATED,
  model: 'Qwen/Qwen3-8B',
  choices: [
    { index: 0, delta, logprobs: null, finish_reason: finish, ...(finish ? { stop_reason: null } : {}) },
  ],
});
const vllmUsage = {
  id: 'chatcmpl-8f1e2d3c4b5a69788796a5b4c3d2e1f0',
  object: 'chat.completion.chunk',
  created: CREATED,
  model: 'Qwen/Qwen3-8B',
  choices: [],
  usage: { prompt_tokens: 180, total_tokens: 214, completion_tokens: 34, prompt_tokens_details: null },
};
const VLLM_TOOL_ID = 'chatcmpl-tool-4c9a7e0d2b7f4e3c9d1a8b6f5e4d3c2b';

const llamacpp = (delta: Json, finish: string | null = null, extra: Json = {}) => ({
  choices: [{ finish_reason: finish, index: 0, delta }],
  created: CREATED,
  id: 'chatcmpl-Xk2QmV7bN0pR4sT9uW1yZ3aC5eG8iK6',
  model: 'qwen3-4b',
  system_fingerprint: 'b6123-6b8c4a2f',
  object: 'chat.completion.chunk',
  ...extra,
});

const ollama = (delta: Json, finish: string | null = null) => ({
  id: 'chatcmpl-412',
  object: 'chat.completion.chunk',
  created: CREATED,
  model: 'qwen3:8b',
  system_fingerprint: 'fp_ollama',
  choices: [{ index: 0, delta: { role: 'assistant', content: '', ...delta }, finish_reason: finish }],
});

const deepseek = (model: string, delta: Json, finish: string | null = null, usage?: Json) => ({
  id: '5f1c2e84-3b7a-4d9e-a0c6-2b8f1e7d4a93',
  object: 'chat.completion.chunk',
  created: CREATED,
  model,
  system_fingerprint: 'fp_7e73fd9a08_prod0820_fp8_kvcache',
  choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  ...(usage ? { usage } : {}),
});
const DEEPSEEK_TOOL_ID = '0195a3c6-7d2e-4f1a-9b8c-3e5d7f9a1b2c';

const openai = (delta: Json, finish: string | null = null) => ({
  id: 'chatcmpl-C1kD7fXyZ0aBcDeFgHiJkLmNoPqRs',
  object: 'chat.completion.chunk',
  created: CREATED,
  model: 'gpt-4o-mini-2024-07-18',
  service_tier: 'default',
  system_fingerprint: 'fp_560af6e559',
  choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
  usage: null,
  obfuscation: 'x9Qz',
});
const openaiUsage = (prompt: number, completion: number, reasoning = 0) => ({
  id: 'chatcmpl-C1kD7fXyZ0aBcDeFgHiJkLmNoPqRs',
  object: 'chat.completion.chunk',
  created: CREATED,
  model: 'gpt-4o-mini-2024-07-18',
  service_tier: 'default',
  system_fingerprint: 'fp_560af6e559',
  choices: [],
  usage: {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: reasoning,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  },
  obfuscation: 'k2',
});

const mistral = (delta: Json, finish: string | null = null, usage?: Json) => ({
  id: '6b1f0c3e2a5d4e7f9a8b7c6d5e4f3a2b',
  object: 'chat.completion.chunk',
  created: CREATED,
  model: 'magistral-medium-2509',
  choices: [{ index: 0, delta, finish_reason: finish }],
  ...(usage ? { usage } : {}),
});
/** Mistral's reasoning models send content as a list of parts; thinking parts hold text parts. */
const thinking = (text: string) => [{ type: 'thinking', thinking: [{ type: 'text', text }] }];

/** A stream that reasons (the `thinking` deltas), then answers (the `answer` deltas): its events. */
const reasonThenAnswer = (thinking: string[], answer: string[]) => [
  ev.created,
  ev.inProgress,
  ev.rsAdded(0),
  ...thinking.map((t) => ev.rsDelta(0, t)),
  ev.rsDone(0, thinking.join('')),
  ev.msgAdded(1),
  ev.textPart(1),
  ...answer.map((t) => ev.textDelta(1, t)),
  ev.textDone(1, answer.join('')),
  ev.msgDone(1, [text(answer.join(''))]),
  ev.completed,
];

const usage = (input: number, output: number, cached = 0, reasoning = 0) => ({
  input_tokens: input,
  input_tokens_details: { cached_tokens: cached, cache_write_tokens: 0 },
  output_tokens: output,
  output_tokens_details: { reasoning_tokens: reasoning },
  total_tokens: input + output,
});

const reply = (o: Parameters<typeof chatCompletion>[0]) => chatCompletion(o);

export const FIXTURES: StreamFixture[] = [
  {
    name: 'vLLM: reasoning, a blank text preamble, one tool call (id chatcmpl-tool-…)',
    chunks: [
      vllm({ role: 'assistant', content: '' }),
      vllm({ reasoning: 'The user' }),
      vllm({ reasoning: ' wants the weather' }),
      vllm({ reasoning: ' in Paris.' }),
      vllm({ content: '\n\n' }),
      vllm({
        tool_calls: [{ id: VLLM_TOOL_ID, type: 'function', index: 0, function: { name: 'get_weather' } }],
      }),
      vllm({ tool_calls: [{ index: 0, function: { arguments: '{"city": "' } }] }),
      vllm({ tool_calls: [{ index: 0, function: { arguments: 'Paris"}' } }] }),
      vllm({ content: '' }, 'tool_calls'),
      vllmUsage,
    ],
    reply: reply({
      reasoning: 'The user wants the weather in Paris.',
      content: '\n\n',
      tool_calls: [{ id: VLLM_TOOL_ID, name: 'get_weather', arguments: '{"city": "Paris"}' }],
      usage: vllmUsage.usage,
    }),
    events: [
      ev.created,
      ev.inProgress,
      ev.rsAdded(0),
      ev.rsDelta(0, 'The user'),
      ev.rsDelta(0, ' wants the weather'),
      ev.rsDelta(0, ' in Paris.'),
      ev.rsDone(0, 'The user wants the weather in Paris.'),
      ev.msgAdded(1),
      ev.textPart(1),
      ev.textDelta(1, '\n\n'),
      ev.textDone(1, '\n\n'),
      ev.msgDone(1, [text('\n\n')]),
      ev.fcAdded(2, VLLM_TOOL_ID, 'get_weather'),
      ev.argsDelta(2, '{"city": "'),
      ev.argsDelta(2, 'Paris"}'),
      ev.fcDone(2, VLLM_TOOL_ID, 'get_weather', '{"city": "Paris"}'),
      ev.completed,
    ],
    status: 'completed',
    usage: usage(180, 34),
  },
  {
    name: 'llama.cpp: reasoning_content with content null, then text, usage-only last chunk',
    chunks: [
      llamacpp({ role: 'assistant', content: null }),
      llamacpp({ content: null, reasoning_content: 'Hmm' }),
      llamacpp({ content: null, reasoning_content: ', a greeting.' }),
      llamacpp({ content: 'Hello' }),
      llamacpp({ content: ' there!' }),
      llamacpp({}, 'stop'),
      llamacpp({}, null, {
        choices: [],
        usage: { completion_tokens: 12, prompt_tokens: 9, total_tokens: 21 },
        timings: { prompt_n: 9, prompt_ms: 20.1, predicted_n: 12, predicted_ms: 95.3 },
      }),
    ],
    reply: reply({
      reasoning_content: 'Hmm, a greeting.',
      content: 'Hello there!',
      usage: { completion_tokens: 12, prompt_tokens: 9, total_tokens: 21 },
    }),
    events: reasonThenAnswer(['Hmm', ', a greeting.'], ['Hello', ' there!']),
    status: 'completed',
    usage: usage(9, 12),
  },
  {
    name: 'Ollama: reasoning, then two whole tool calls in one chunk (ids call_abc123, call_def456)',
    chunks: [
      ollama({ reasoning: 'Need weather' }),
      ollama({ reasoning: ' and time.' }),
      ollama({
        tool_calls: [
          {
            id: 'call_abc123',
            index: 0,
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
          {
            id: 'call_def456',
            index: 1,
            type: 'function',
            function: { name: 'get_time', arguments: '{"timezone":"Europe/Paris"}' },
          },
        ],
      }),
      ollama({}, 'tool_calls'),
      {
        id: 'chatcmpl-412',
        object: 'chat.completion.chunk',
        created: CREATED,
        model: 'qwen3:8b',
        system_fingerprint: 'fp_ollama',
        choices: [],
        usage: { prompt_tokens: 60, completion_tokens: 31, total_tokens: 91 },
      },
    ],
    reply: reply({
      reasoning: 'Need weather and time.',
      content: '',
      tool_calls: [
        { id: 'call_abc123', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { id: 'call_def456', name: 'get_time', arguments: '{"timezone":"Europe/Paris"}' },
      ],
      usage: { prompt_tokens: 60, completion_tokens: 31, total_tokens: 91 },
    }),
    events: [
      ev.created,
      ev.inProgress,
      ev.rsAdded(0),
      ev.rsDelta(0, 'Need weather'),
      ev.rsDelta(0, ' and time.'),
      ev.rsDone(0, 'Need weather and time.'),
      ev.fcAdded(1, 'call_abc123', 'get_weather'),
      ev.argsDelta(1, '{"city":"Paris"}'),
      ev.fcDone(1, 'call_abc123', 'get_weather', '{"city":"Paris"}'),
      // The second call was buffered while the first was open, and follows it whole.
      ev.fcAdded(2, 'call_def456', 'get_time'),
      ev.argsDelta(2, '{"timezone":"Europe/Paris"}'),
      ev.fcDone(2, 'call_def456', 'get_time', '{"timezone":"Europe/Paris"}'),
      ev.completed,
    ],
    status: 'completed',
    usage: usage(60, 31),
  },
  {
    name: 'DeepSeek reasoner: reasoning_content then content, usage on the finish chunk',
    chunks: [
      deepseek('deepseek-reasoner', { role: 'assistant', content: null, reasoning_content: '' }),
      deepseek('deepseek-reasoner', { content: null, reasoning_content: '9.11 vs 9.9' }),
      deepseek('deepseek-reasoner', { content: null, reasoning_content: ': compare tenths.' }),
      deepseek('deepseek-reasoner', { content: '9.9', reasoning_content: null }),
      deepseek('deepseek-reasoner', { content: ' is larger.', reasoning_content: null }),
      deepseek('deepseek-reasoner', { content: '', reasoning_content: null }, 'stop', {
        prompt_tokens: 15,
        completion_tokens: 40,
        total_tokens: 55,
        prompt_tokens_details: { cached_tokens: 4 },
        completion_tokens_details: { reasoning_tokens: 30 },
        prompt_cache_hit_tokens: 4,
        prompt_cache_miss_tokens: 11,
      }),
    ],
    reply: reply({
      reasoning_content: '9.11 vs 9.9: compare tenths.',
      content: '9.9 is larger.',
      usage: {
        prompt_tokens: 15,
        completion_tokens: 40,
        total_tokens: 55,
        prompt_tokens_details: { cached_tokens: 4 },
        completion_tokens_details: { reasoning_tokens: 30 },
      },
    }),
    events: reasonThenAnswer(['9.11 vs 9.9', ': compare tenths.'], ['9.9', ' is larger.']),
    status: 'completed',
    usage: usage(15, 40, 4, 30),
  },
  {
    name: 'Mistral Magistral: thinking parts in content lists, then text as parts and as a string',
    chunks: [
      mistral({ role: 'assistant', content: thinking('The user') }),
      mistral({ content: thinking(' greets me.') }),
      // A part the Responses output has no place for (a citation reference) is skipped.
      mistral({ content: [{ type: 'reference', reference_ids: [1] }] }),
      mistral({ content: [{ type: 'text', text: 'Hello' }] }),
      mistral({ content: ' there!' }),
      mistral({ content: '' }, 'stop', { prompt_tokens: 7, completion_tokens: 21, total_tokens: 28 }),
    ],
    reply: {
      id: '6b1f0c3e2a5d4e7f9a8b7c6d5e4f3a2b',
      object: 'chat.completion',
      created: CREATED,
      model: 'magistral-medium-2509',
      choices: [
        {
          index: 0,
          message: {
            role: 'assistant',
            content: [
              {
                type: 'thinking',
                thinking: [
                  { type: 'text', text: 'The user' },
                  { type: 'text', text: ' greets me.' },
                ],
              },
              { type: 'reference', reference_ids: [1] },
              { type: 'text', text: 'Hello there!' },
            ],
            tool_calls: null,
          },
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 7, completion_tokens: 21, total_tokens: 28 },
    },
    events: reasonThenAnswer(['The user', ' greets me.'], ['Hello', ' there!']),
    status: 'completed',
    usage: usage(7, 21),
  },
  {
    name: 'DeepSeek chat: text preamble, one tool call whose id has no call_ prefix',
    chunks: [
      deepseek('deepseek-chat', { role: 'assistant', content: '' }),
      deepseek('deepseek-chat', { content: 'Let me check.' }),
      deepseek('deepseek-chat', {
        tool_calls: [
          {
            index: 0,
            id: DEEPSEEK_TOOL_ID,
            type: 'function',
            function: { name: 'get_weather', arguments: '' },
          },
        ],
      }),
      deepseek('deepseek-chat', { tool_calls: [{ index: 0, function: { arguments: '{"' } }] }),
      deepseek('deepseek-chat', { tool_calls: [{ index: 0, function: { arguments: 'city' } }] }),
      deepseek('deepseek-chat', { tool_calls: [{ index: 0, function: { arguments: '":"' } }] }),
      deepseek('deepseek-chat', { tool_calls: [{ index: 0, function: { arguments: 'Paris"}' } }] }),
      deepseek('deepseek-chat', { content: '' }, 'tool_calls', {
        prompt_tokens: 120,
        completion_tokens: 22,
        total_tokens: 142,
        prompt_tokens_details: { cached_tokens: 64 },
        prompt_cache_hit_tokens: 64,
        prompt_cache_miss_tokens: 56,
      }),
    ],
    reply: reply({
      content: 'Let me check.',
      tool_calls: [{ id: DEEPSEEK_TOOL_ID, name: 'get_weather', arguments: '{"city":"Paris"}' }],
      usage: {
        prompt_tokens: 120,
        completion_tokens: 22,
        total_tokens: 142,
        prompt_tokens_details: { cached_tokens: 64 },
      },
    }),
    events: [
      ev.created,
      ev.inProgress,
      ev.msgAdded(0),
      ev.textPart(0),
      ev.textDelta(0, 'Let me check.'),
      ev.textDone(0, 'Let me check.'),
      ev.msgDone(0, [text('Let me check.')]),
      ev.fcAdded(1, DEEPSEEK_TOOL_ID, 'get_weather'),
      ev.argsDelta(1, '{"'),
      ev.argsDelta(1, 'city'),
      ev.argsDelta(1, '":"'),
      ev.argsDelta(1, 'Paris"}'),
      ev.fcDone(1, DEEPSEEK_TOOL_ID, 'get_weather', '{"city":"Paris"}'),
      ev.completed,
    ],
    status: 'completed',
    usage: usage(120, 22, 64),
  },
  {
    name: 'OpenAI: role-only first chunk, text with multi-byte characters, usage-only last chunk',
    chunks: [
      openai({ role: 'assistant', content: '', refusal: null }),
      openai({ content: 'Hello' }),
      openai({ content: '! Café' }),
      openai({ content: ' time 😀.' }),
      openai({}, 'stop'),
      openaiUsage(8, 9),
    ],
    reply: reply({ content: 'Hello! Café time 😀.', usage: openaiUsage(8, 9).usage }),
    events: [
      ev.created,
      ev.inProgress,
      ev.msgAdded(0),
      ev.textPart(0),
      ev.textDelta(0, 'Hello'),
      ev.textDelta(0, '! Café'),
      ev.textDelta(0, ' time 😀.'),
      ev.textDone(0, 'Hello! Café time 😀.'),
      ev.msgDone(0, [text('Hello! Café time 😀.')]),
      ev.completed,
    ],
    status: 'completed',
    usage: usage(8, 9),
  },
  {
    name: 'OpenAI: two parallel tool calls, content "" on the first delta',
    chunks: [
      openai({
        role: 'assistant',
        content: '',
        tool_calls: [
          { index: 0, id: 'call_Wx1', type: 'function', function: { name: 'get_weather', arguments: '' } },
        ],
        refusal: null,
      }),
      openai({ tool_calls: [{ index: 0, function: { arguments: '{"ci' } }] }),
      openai({ tool_calls: [{ index: 0, function: { arguments: 'ty": "P' } }] }),
      openai({ tool_calls: [{ index: 0, function: { arguments: 'aris"}' } }] }),
      openai({
        tool_calls: [
          { index: 1, id: 'call_Tm2', type: 'function', function: { name: 'get_time', arguments: '' } },
        ],
      }),
      openai({ tool_calls: [{ index: 1, function: { arguments: '{"tz": ' } }] }),
      openai({ tool_calls: [{ index: 1, function: { arguments: '"CET"}' } }] }),
      openai({}, 'tool_calls'),
      openaiUsage(80, 50),
    ],
    reply: reply({
      content: null,
      tool_calls: [
        { id: 'call_Wx1', name: 'get_weather', arguments: '{"city": "Paris"}' },
        { id: 'call_Tm2', name: 'get_time', arguments: '{"tz": "CET"}' },
      ],
      usage: openaiUsage(80, 50).usage,
    }),
    events: [
      ev.created,
      ev.inProgress,
      ev.fcAdded(0, 'call_Wx1', 'get_weather'),
      ev.argsDelta(0, '{"ci'),
      ev.argsDelta(0, 'ty": "P'),
      ev.argsDelta(0, 'aris"}'),
      ev.fcDone(0, 'call_Wx1', 'get_weather', '{"city": "Paris"}'),
      ev.fcAdded(1, 'call_Tm2', 'get_time'),
      ev.argsDelta(1, '{"tz": "CET"}'),
      ev.fcDone(1, 'call_Tm2', 'get_time', '{"tz": "CET"}'),
      ev.completed,
    ],
    status: 'completed',
    usage: usage(80, 50),
  },
  {
    name: 'OpenAI: refusal',
    chunks: [
      openai({ role: 'assistant', content: null, refusal: '' }),
      openai({ refusal: "I'm sorry, " }),
      openai({ refusal: "I can't help with that." }),
      openai({}, 'stop'),
      openaiUsage(20, 10),
    ],
    reply: reply({ refusal: "I'm sorry, I can't help with that.", usage: openaiUsage(20, 10).usage }),
    events: [
      ev.created,
      ev.inProgress,
      ev.msgAdded(0),
      ev.refusalPart(0),
      ev.refusalDelta(0, "I'm sorry, "),
      ev.refusalDelta(0, "I can't help with that."),
      ev.refusalDone(0, "I'm sorry, I can't help with that."),
      ev.msgDone(0, [refusal("I'm sorry, I can't help with that.")]),
      ev.completed,
    ],
    status: 'completed',
    usage: usage(20, 10),
  },
  {
    name: 'OpenAI: finish_reason length -> response.incomplete (max_output_tokens)',
    chunks: [
      openai({ role: 'assistant', content: '', refusal: null }),
      openai({ content: 'Once upon' }),
      openai({ content: ' a time' }),
      openai({}, 'length'),
      openaiUsage(10, 4),
    ],
    reply: reply({ content: 'Once upon a time', finish_reason: 'length', usage: openaiUsage(10, 4).usage }),
    events: [
      ev.created,
      ev.inProgress,
      ev.msgAdded(0),
      ev.textPart(0),
      ev.textDelta(0, 'Once upon'),
      ev.textDelta(0, ' a time'),
      ev.textDone(0, 'Once upon a time'),
      ev.msgDone(0, [text('Once upon a time')], 'incomplete'),
      ev.incomplete,
    ],
    status: 'incomplete',
    usage: usage(10, 4),
  },
  {
    name: 'Azure OpenAI: prompt_filter_results first chunk, finish content_filter -> incomplete',
    chunks: [
      {
        choices: [],
        created: 0,
        id: '',
        model: '',
        object: '',
        prompt_filter_results: [
          { prompt_index: 0, content_filter_results: { hate: { filtered: false, severity: 'safe' } } },
        ],
      },
      openai({ role: 'assistant', content: '', refusal: null }),
      openai({ content: 'Here is' }),
      openai({}, 'content_filter'),
      openaiUsage(30, 3),
    ],
    reply: reply({ content: 'Here is', finish_reason: 'content_filter', usage: openaiUsage(30, 3).usage }),
    events: [
      ev.created,
      ev.inProgress,
      ev.msgAdded(0),
      ev.textPart(0),
      ev.textDelta(0, 'Here is'),
      ev.textDone(0, 'Here is'),
      ev.msgDone(0, [text('Here is')], 'incomplete'),
      ev.incomplete,
    ],
    status: 'incomplete',
    usage: usage(30, 3),
  },
  {
    name: 'interleaved tool calls (index 0,1,0,1): call 0 streamed, call 1 buffered until call 0 closes',
    chunks: [
      openai({ role: 'assistant', content: null }),
      openai({
        tool_calls: [
          { index: 0, id: 'call_1', type: 'function', function: { name: 'alpha', arguments: '' } },
        ],
      }),
      openai({
        tool_calls: [{ index: 1, id: 'call_2', type: 'function', function: { name: 'beta', arguments: '' } }],
      }),
      openai({ tool_calls: [{ index: 0, function: { arguments: '{"x":' } }] }),
      openai({ tool_calls: [{ index: 1, function: { arguments: '{"y":' } }] }),
      openai({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }),
      openai({ tool_calls: [{ index: 1, function: { arguments: '2}' } }] }),
      openai({}, 'tool_calls'),
      openaiUsage(5, 5),
    ],
    reply: reply({
      tool_calls: [
        { id: 'call_1', name: 'alpha', arguments: '{"x":1}' },
        { id: 'call_2', name: 'beta', arguments: '{"y":2}' },
      ],
      usage: openaiUsage(5, 5).usage,
    }),
    events: [
      ev.created,
      ev.inProgress,
      ev.fcAdded(0, 'call_1', 'alpha'),
      ev.argsDelta(0, '{"x":'),
      ev.argsDelta(0, '1}'),
      ev.fcDone(0, 'call_1', 'alpha', '{"x":1}'),
      ev.fcAdded(1, 'call_2', 'beta'),
      ev.argsDelta(1, '{"y":2}'),
      ev.fcDone(1, 'call_2', 'beta', '{"y":2}'),
      ev.completed,
    ],
    status: 'completed',
    usage: usage(5, 5),
  },
  {
    name: 'tool call whose name arrives only in a later delta (arguments before it are buffered)',
    chunks: [
      openai({ role: 'assistant', content: null }),
      openai({
        tool_calls: [{ index: 0, id: 'call_late', type: 'function', function: { arguments: '{"q":' } }],
      }),
      openai({ tool_calls: [{ index: 0, function: { name: 'lookup', arguments: '"a' } }] }),
      openai({ tool_calls: [{ index: 0, function: { name: 'lookup', arguments: 'b"}' } }] }),
      openai({}, 'tool_calls'),
    ],
    reply: reply({ tool_calls: [{ id: 'call_late', name: 'lookup', arguments: '{"q":"ab"}' }], usage: null }),
    events: [
      ev.created,
      ev.inProgress,
      ev.fcAdded(0, 'call_late', 'lookup'),
      ev.argsDelta(0, '{"q":"a'),
      ev.argsDelta(0, 'b"}'),
      ev.fcDone(0, 'call_late', 'lookup', '{"q":"ab"}'),
      ev.completed,
    ],
    status: 'completed',
    usage: usage(0, 0),
  },
  {
    name: 'text after tool calls opens a new message item',
    chunks: [
      openai({
        tool_calls: [
          { index: 0, id: 'call_t', type: 'function', function: { name: 'ping', arguments: '{}' } },
        ],
      }),
      openai({ content: 'Called ping.' }),
      openai({}, 'stop'),
      openaiUsage(3, 4),
    ],
    events: [
      ev.created,
      ev.inProgress,
      ev.fcAdded(0, 'call_t', 'ping'),
      ev.argsDelta(0, '{}'),
      ev.fcDone(0, 'call_t', 'ping', '{}'),
      ev.msgAdded(1),
      ev.textPart(1),
      ev.textDelta(1, 'Called ping.'),
      ev.textDone(1, 'Called ping.'),
      ev.msgDone(1, [text('Called ping.')]),
      ev.completed,
    ],
    status: 'completed',
    usage: usage(3, 4),
  },
  {
    name: 'EOF without finish_reason or [DONE] -> error + response.failed with the partial message',
    chunks: [openai({ role: 'assistant', content: '' }), openai({ content: 'Partial' })],
    done: false,
    events: [
      ev.created,
      ev.inProgress,
      ev.msgAdded(0),
      ev.textPart(0),
      ev.textDelta(0, 'Partial'),
      ev.textDone(0, 'Partial'),
      ev.msgDone(0, [text('Partial')], 'incomplete'),
      ev.error('upstream_error', 'the upstream stream ended unexpectedly'),
      ev.failed,
    ],
    status: 'failed',
    usage: usage(0, 0),
  },
  {
    name: 'data: {"error": …} mid-stream -> error + response.failed',
    chunks: [
      openai({ reasoning_content: 'Thinking' }),
      { error: { message: 'CUDA out of memory', type: 'InternalServerError', code: 500 } },
      openai({ content: 'never seen' }),
    ],
    events: [
      ev.created,
      ev.inProgress,
      ev.rsAdded(0),
      ev.rsDelta(0, 'Thinking'),
      ev.rsDone(0, 'Thinking', 'incomplete'),
      ev.error('upstream_error', 'upstream error: CUDA out of memory'),
      ev.failed,
    ],
    status: 'failed',
    usage: usage(0, 0),
  },
  {
    name: 'a tool call that never gets a name -> error + response.failed, no half-announced item',
    chunks: [
      openai({ content: 'Calling.' }),
      openai({
        tool_calls: [{ index: 0, id: 'call_anon', type: 'function', function: { arguments: '{}' } }],
      }),
      openai({}, 'tool_calls'),
    ],
    events: [
      ev.created,
      ev.inProgress,
      ev.msgAdded(0),
      ev.textPart(0),
      ev.textDelta(0, 'Calling.'),
      ev.textDone(0, 'Calling.'),
      ev.msgDone(0, [text('Calling.')]),
      ev.error('upstream_error', 'the upstream sent a tool call (id call_anon) without a name'),
      ev.failed,
    ],
    status: 'failed',
    usage: usage(0, 0),
  },
];

/** The fixtures that have an equivalent non-streaming reply. */
export const WITH_REPLY = FIXTURES.filter((f) => f.reply !== undefined);

/** The SSE body a Chat Completions server sends for a fixture. */
export function sseBody(f: Pick<StreamFixture, 'chunks' | 'done'>): string {
  let body = '';
  for (const c of f.chunks) body += `data: ${typeof c === 'string' ? c : JSON.stringify(c)}\n\n`;
  if (f.done !== false) body += 'data: [DONE]\n\n';
  return body;
}
