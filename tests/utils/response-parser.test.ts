import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChatCompletion, ResponsesRequest } from '../../src/types.js';
import {
  buildResponse,
  createResponseContext,
  mapUsage,
  type ResponseObject,
  type ResponseState,
  statusFromFinishReason,
} from '../../src/utils/response-envelope.js';
import {
  ChatReplyShapeError,
  mapLogprobs,
  parseChatCompletion,
  readReasoning,
} from '../../src/utils/response-parser.js';
import { assertValidResponse, schemaErrors } from '../helpers/spec-validator.js';

const NOW_MS = 1_800_000_123_456;
const NOW_S = 1_800_000_123;

const RESP_ID = expect.stringMatching(/^resp_[0-9a-f]{32}$/);
const MSG_ID = expect.stringMatching(/^msg_[0-9a-f]{32}$/);
const RS_ID = expect.stringMatching(/^rs_[0-9a-f]{32}$/);
const FC_ID = expect.stringMatching(/^fc_[0-9a-f]{32}$/);
const CALL_ID = expect.stringMatching(/^call_[0-9a-f]{32}$/);

/** The fields of a Response, in the order the proxy sends them. */
const FIELD_ORDER = [
  'id',
  'object',
  'created_at',
  'status',
  'background',
  'completed_at',
  'error',
  'incomplete_details',
  'instructions',
  'max_output_tokens',
  'max_tool_calls',
  'model',
  'output',
  'parallel_tool_calls',
  'previous_response_id',
  'prompt_cache_key',
  'reasoning',
  'safety_identifier',
  'service_tier',
  'store',
  'temperature',
  'text',
  'tool_choice',
  'tools',
  'top_logprobs',
  'top_p',
  'truncation',
  'usage',
  'metadata',
  'presence_penalty',
  'frequency_penalty',
];

/** `user`, when the request has one, comes just before `metadata`. */
function fieldOrder(withUser: boolean): string[] {
  if (!withUser) return FIELD_ORDER;
  const order = [...FIELD_ORDER];
  order.splice(order.indexOf('metadata'), 0, 'user');
  return order;
}

function request(fields: Record<string, unknown> = {}): ResponsesRequest {
  return { model: 'gpt-test', input: 'Hi', ...fields } as unknown as ResponsesRequest;
}

const ctx = () => createResponseContext(request());

const USAGE_IN = { prompt_tokens: 10, completion_tokens: 4, total_tokens: 14 };
const USAGE_OUT = {
  input_tokens: 10,
  input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
  output_tokens: 4,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: 14,
};
const ZERO_USAGE = {
  input_tokens: 0,
  input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
  output_tokens: 0,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: 0,
};

/** A chat completion with one choice carrying `message` (role added). */
function reply(
  message: Record<string, unknown>,
  finishReason: string | null = 'stop',
  extra: Record<string, unknown> = {},
  choiceExtra: Record<string, unknown> = {},
): ChatCompletion {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1_700_000_000,
    model: 'upstream-model-name',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', ...message },
        logprobs: null,
        finish_reason: finishReason,
        ...choiceExtra,
      },
    ],
    usage: USAGE_IN,
    ...extra,
  } as unknown as ChatCompletion;
}

function toolCall(id: string | undefined, name: string, args: string | undefined) {
  return {
    ...(id === undefined ? {} : { id }),
    type: 'function',
    function: { name, ...(args === undefined ? {} : { arguments: args }) },
  };
}

// Expected output items (ids are matched by shape).
const text = (t: string, logprobs: unknown[] = []) => ({
  type: 'output_text',
  text: t,
  annotations: [],
  logprobs,
});
const refusal = (r: string) => ({ type: 'refusal', refusal: r });
const message = (status: string, content: unknown[]) => ({
  id: MSG_ID,
  type: 'message',
  status,
  role: 'assistant',
  content,
});
const reasoningItem = (status: string, t: string) => ({
  id: RS_ID,
  type: 'reasoning',
  status,
  summary: [],
  content: [{ type: 'reasoning_text', text: t }],
});
const functionCall = (status: string, callId: unknown, name: string, args: string) => ({
  id: FC_ID,
  type: 'function_call',
  status,
  arguments: args,
  call_id: callId,
  name,
});

/** Parses, checks both specs and the field order, and checks the ids of the items are distinct. */
function parse(r: ChatCompletion, options?: { logprobs: boolean }, c = ctx()): ResponseObject {
  const response = parseChatCompletion(r, c, options);
  assertValidResponse(response);
  expect(Object.keys(response)).toEqual(fieldOrder(response.user !== undefined));
  const ids = response.output.map((item) => item.id);
  expect(new Set(ids).size).toBe(ids.length);
  return response;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date(NOW_MS));
});

afterEach(() => {
  vi.useRealTimers();
});

describe('createResponseContext', () => {
  it('applies the spec defaults when the request sets nothing', () => {
    expect(createResponseContext(request())).toStrictEqual({
      id: RESP_ID,
      object: 'response',
      created_at: NOW_S,
      background: false,
      instructions: null,
      max_output_tokens: null,
      max_tool_calls: null,
      model: 'gpt-test',
      parallel_tool_calls: true,
      previous_response_id: null,
      prompt_cache_key: null,
      reasoning: { effort: null, summary: null },
      safety_identifier: null,
      service_tier: 'default',
      store: false,
      temperature: 1,
      text: { format: { type: 'text' } },
      tool_choice: 'auto',
      tools: [],
      top_logprobs: 0,
      top_p: 1,
      truncation: 'disabled',
      metadata: {},
      presence_penalty: 0,
      frequency_penalty: 0,
    });
  });

  it('applies the same defaults when the request sends explicit nulls', () => {
    const c = createResponseContext(
      request({
        instructions: null,
        max_output_tokens: null,
        max_tool_calls: null,
        parallel_tool_calls: null,
        previous_response_id: null,
        prompt_cache_key: null,
        reasoning: null,
        safety_identifier: null,
        service_tier: null,
        store: null,
        temperature: null,
        text: null,
        tool_choice: null,
        tools: null,
        top_logprobs: null,
        top_p: null,
        truncation: null,
        metadata: null,
      }),
    );
    expect(c).toStrictEqual({ ...createResponseContext(request()), id: RESP_ID });
  });

  it('uses the clock passed in, in whole seconds', () => {
    expect(createResponseContext(request(), 1_234_567_999).created_at).toBe(1_234_567);
  });

  it('gives every response a fresh resp_ id', () => {
    const ids = new Set(Array.from({ length: 50 }, () => createResponseContext(request()).id));
    expect(ids.size).toBe(50);
  });

  it('echoes every request field it is given', () => {
    const tools = [
      {
        type: 'function',
        name: 'get_weather',
        description: 'Weather for a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        strict: true,
      },
    ];
    const c = createResponseContext(
      request({
        model: 'qwen3:8b',
        instructions: 'Be terse.',
        max_output_tokens: 256,
        max_tool_calls: 3,
        parallel_tool_calls: false,
        previous_response_id: 'resp_prev',
        prompt_cache_key: 'cache-key',
        reasoning: { effort: 'high', summary: 'auto' },
        safety_identifier: 'user-hash',
        service_tier: 'flex',
        store: true,
        temperature: 0.2,
        top_p: 0.5,
        text: { format: { type: 'json_object' }, verbosity: 'low' },
        tool_choice: { type: 'function', name: 'get_weather' },
        tools,
        top_logprobs: 3,
        truncation: 'auto',
        metadata: { session: 'abc' },
        user: 'user-1',
      }),
    );
    expect(c).toStrictEqual({
      id: RESP_ID,
      object: 'response',
      created_at: NOW_S,
      background: false,
      instructions: 'Be terse.',
      max_output_tokens: 256,
      max_tool_calls: 3,
      model: 'qwen3:8b',
      parallel_tool_calls: false,
      previous_response_id: 'resp_prev',
      prompt_cache_key: 'cache-key',
      reasoning: { effort: 'high', summary: 'auto' },
      safety_identifier: 'user-hash',
      service_tier: 'flex',
      // Nothing is stored, whatever the request asked.
      store: false,
      temperature: 0.2,
      text: { format: { type: 'json_object' }, verbosity: 'low' },
      tool_choice: { type: 'function', name: 'get_weather' },
      tools,
      top_logprobs: 3,
      top_p: 0.5,
      truncation: 'auto',
      metadata: { session: 'abc' },
      presence_penalty: 0,
      frequency_penalty: 0,
      user: 'user-1',
    });
    assertValidResponse(buildResponse(c, { status: 'completed', output: [], usage: mapUsage(undefined) }));
  });

  it.each([
    [{ verbosity: 'high' }, { verbosity: 'high', format: { type: 'text' } }],
    [{ format: { type: 'text' } }, { format: { type: 'text' } }],
    [{ format: { type: 'json_object' } }, { format: { type: 'json_object' } }],
  ])('echoes text %j as %j', (sent, echoed) => {
    const c = createResponseContext(request({ text: sent }));
    expect(c.text).toStrictEqual(echoed);
    assertValidResponse(buildResponse(c, { status: 'completed', output: [], usage: mapUsage(undefined) }));
  });

  it('echoes a json_schema text format as sent', () => {
    const format = {
      type: 'json_schema',
      name: 'answer',
      description: 'The answer',
      schema: { type: 'object', properties: { a: { type: 'string' } } },
      strict: true,
    };
    const c = createResponseContext(request({ text: { format } }));
    expect(c.text).toStrictEqual({ format });
    // Only OpenAI's schema: the Open Responses copy allows a json_schema format's `schema` to be null only.
    const r = buildResponse(c, { status: 'completed', output: [], usage: mapUsage(undefined) });
    expect(schemaErrors('openai', 'Response', r)).toEqual([]);
  });

  it.each([
    ['auto', 'auto'],
    ['none', 'none'],
    ['required', 'required'],
    [undefined, 'auto'],
  ])('echoes tool_choice %j as %j', (sent, echoed) => {
    expect(createResponseContext(request({ tool_choice: sent })).tool_choice).toBe(echoed);
  });

  it.each([
    [{ effort: 'low' }, { effort: 'low', summary: null }],
    [{ summary: 'detailed' }, { effort: null, summary: 'detailed' }],
    [{}, { effort: null, summary: null }],
  ])('echoes reasoning %j as %j', (sent, echoed) => {
    expect(createResponseContext(request({ reasoning: sent })).reasoning).toStrictEqual(echoed);
  });

  it('echoes function tools with description, parameters and strict null when absent', () => {
    const c = createResponseContext(
      request({
        tools: [
          { type: 'function', name: 'now' },
          { type: 'function', name: 'add', parameters: { type: 'object', properties: {} } },
          { type: 'function', name: 'sub', description: 'Subtracts', strict: false },
        ],
      }),
    );
    expect(c.tools).toStrictEqual([
      { type: 'function', name: 'now', description: null, parameters: null, strict: null },
      {
        type: 'function',
        name: 'add',
        description: null,
        parameters: { type: 'object', properties: {} },
        strict: null,
      },
      { type: 'function', name: 'sub', description: 'Subtracts', parameters: null, strict: false },
    ]);
    assertValidResponse(buildResponse(c, { status: 'completed', output: [], usage: mapUsage(undefined) }));
  });

  it('leaves user out unless the request has one', () => {
    expect('user' in createResponseContext(request())).toBe(false);
    expect(createResponseContext(request({ user: 'u' })).user).toBe('u');
  });

  it('uses an empty model name when the request has none', () => {
    expect(createResponseContext({ input: 'x' } as unknown as ResponsesRequest).model).toBe('');
  });
});

describe('buildResponse', () => {
  const base: ResponseState = { status: 'completed', output: [], usage: ZERO_USAGE };

  it.each([
    ['completed', NOW_S],
    ['incomplete', null],
    ['in_progress', null],
    ['failed', null],
  ] as const)('status %s has completed_at %j', (status, completedAt) => {
    const r = buildResponse(ctx(), { ...base, status });
    expect(r.status).toBe(status);
    expect(r.completed_at).toBe(completedAt);
    assertValidResponse(r);
  });

  it('uses the clock passed in for completed_at', () => {
    expect(buildResponse(ctx(), { ...base, now: 1_900_000_000_999 }).completed_at).toBe(1_900_000_000);
  });

  it('builds an in_progress snapshot with usage null', () => {
    const r = buildResponse(ctx(), { status: 'in_progress', output: [], usage: null });
    expect(r.usage).toBeNull();
    expect(r.error).toBeNull();
    expect(r.incomplete_details).toBeNull();
    expect(r.output).toEqual([]);
    // Open Responses requires `usage` (nullable); OpenAI's schema allows it absent but not null.
    expect(schemaErrors('open-responses', 'ResponseResource', r)).toEqual([]);
    expect(schemaErrors('openai', 'Response', r)).toEqual([
      'openai:Response/usage must be object {"type":"object"}',
    ]);
  });

  it('carries an error on a failed response', () => {
    const error = { code: 'server_error', message: 'upstream stream ended unexpectedly' };
    const r = buildResponse(ctx(), { status: 'failed', output: [], usage: ZERO_USAGE, error });
    expect(r.error).toStrictEqual(error);
    expect(r.completed_at).toBeNull();
    assertValidResponse(r);
  });

  it('carries incomplete_details on an incomplete response', () => {
    const r = buildResponse(ctx(), {
      status: 'incomplete',
      output: [],
      usage: ZERO_USAGE,
      incompleteDetails: { reason: 'content_filter' },
    });
    expect(r.incomplete_details).toStrictEqual({ reason: 'content_filter' });
    assertValidResponse(r);
  });

  it.each([
    [undefined, 'default'],
    [null, 'default'],
    ['flex', 'flex'],
    ['priority', 'priority'],
    ['default', 'default'],
    // Not a tier either spec knows (Groq sends this): keep the Response spec-valid.
    ['on_demand', 'default'],
  ])('upstream service_tier %j gives %j', (tier, expected) => {
    const r = buildResponse(ctx(), { ...base, serviceTier: tier });
    expect(r.service_tier).toBe(expected);
    assertValidResponse(r);
  });

  it('falls back to the request service_tier', () => {
    const c = createResponseContext(request({ service_tier: 'auto' }));
    expect(buildResponse(c, base).service_tier).toBe('auto');
    expect(buildResponse(c, { ...base, serviceTier: 'flex' }).service_tier).toBe('flex');
  });

  it('keeps the context fields and the field order, with user just before metadata', () => {
    const c = createResponseContext(request({ user: 'u-1', instructions: 'x' }));
    const r = buildResponse(c, base);
    expect(r.id).toBe(c.id);
    expect(r.created_at).toBe(c.created_at);
    expect(r.instructions).toBe('x');
    expect(Object.keys(r)).toEqual(fieldOrder(true));
    assertValidResponse(r);
  });
});

describe('mapUsage', () => {
  it.each([
    ['absent', undefined, ZERO_USAGE],
    ['null', null, ZERO_USAGE],
    ['empty', {}, ZERO_USAGE],
    ['plain', USAGE_IN, USAGE_OUT],
    [
      'without total_tokens (sum)',
      { prompt_tokens: 7, completion_tokens: 5 },
      { ...ZERO_USAGE, input_tokens: 7, output_tokens: 5, total_tokens: 12 },
    ],
    [
      'with a total that is not the sum (kept)',
      { prompt_tokens: 7, completion_tokens: 5, total_tokens: 20 },
      { ...ZERO_USAGE, input_tokens: 7, output_tokens: 5, total_tokens: 20 },
    ],
    ['with only prompt_tokens', { prompt_tokens: 9 }, { ...ZERO_USAGE, input_tokens: 9, total_tokens: 9 }],
    [
      'with every detail',
      {
        prompt_tokens: 100,
        completion_tokens: 50,
        total_tokens: 150,
        prompt_tokens_details: { cached_tokens: 64, cache_write_tokens: 16, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 30, audio_tokens: 0 },
      },
      {
        input_tokens: 100,
        input_tokens_details: { cached_tokens: 64, cache_write_tokens: 16 },
        output_tokens: 50,
        output_tokens_details: { reasoning_tokens: 30 },
        total_tokens: 150,
      },
    ],
    [
      'with cached_tokens only',
      {
        prompt_tokens: 10,
        completion_tokens: 1,
        total_tokens: 11,
        prompt_tokens_details: { cached_tokens: 8 },
      },
      {
        ...USAGE_OUT,
        output_tokens: 1,
        total_tokens: 11,
        input_tokens_details: { cached_tokens: 8, cache_write_tokens: 0 },
      },
    ],
    [
      'with null details',
      { ...USAGE_IN, prompt_tokens_details: null, completion_tokens_details: null },
      USAGE_OUT,
    ],
    [
      'with null inside the details',
      {
        ...USAGE_IN,
        prompt_tokens_details: { cached_tokens: null, cache_write_tokens: null },
        completion_tokens_details: { reasoning_tokens: null },
      },
      USAGE_OUT,
    ],
  ])('maps usage %s', (_name, usage, expected) => {
    expect(mapUsage(usage as Parameters<typeof mapUsage>[0])).toStrictEqual(expected);
  });
});

describe('statusFromFinishReason', () => {
  it.each([
    ['stop', 'completed', null],
    ['tool_calls', 'completed', null],
    ['function_call', 'completed', null],
    [null, 'completed', null],
    [undefined, 'completed', null],
    ['eos', 'completed', null],
    ['length', 'incomplete', { reason: 'max_output_tokens' }],
    ['content_filter', 'incomplete', { reason: 'content_filter' }],
  ])('%j -> %s %j', (reason, status, incompleteDetails) => {
    expect(statusFromFinishReason(reason)).toStrictEqual({ status, incompleteDetails });
  });
});

describe('readReasoning', () => {
  it.each([
    ['reasoning_content (DeepSeek, llama.cpp)', { reasoning_content: 'think' }, 'think'],
    ['reasoning (vLLM, Ollama)', { reasoning: 'ponder' }, 'ponder'],
    ['both: reasoning_content wins', { reasoning_content: 'a', reasoning: 'b' }, 'a'],
    ['empty reasoning_content falls back', { reasoning_content: '', reasoning: 'b' }, 'b'],
    ['null reasoning_content falls back', { reasoning_content: null, reasoning: 'b' }, 'b'],
    ['neither', {}, ''],
    ['both null', { reasoning_content: null, reasoning: null }, ''],
    ['both empty', { reasoning_content: '', reasoning: '' }, ''],
    ['not strings', { reasoning_content: 42, reasoning: { text: 'x' } }, ''],
  ])('%s', (_name, message, expected) => {
    expect(readReasoning(message)).toBe(expected);
  });
});

describe('mapLogprobs', () => {
  it.each([
    [undefined, undefined],
    [null, undefined],
    [[], []],
  ])('maps %j to %j', (input, expected) => {
    expect(mapLogprobs(input)).toStrictEqual(expected);
  });

  it('maps tokens, filling missing bytes and top_logprobs with []', () => {
    const input = [
      {
        token: 'Hel',
        logprob: -0.1,
        bytes: [72, 101, 108],
        top_logprobs: [
          { token: 'Hel', logprob: -0.1, bytes: [72, 101, 108] },
          { token: 'Hi', logprob: -2.5, bytes: null },
        ],
      },
      { token: 'lo', logprob: -0.02, bytes: null, top_logprobs: null },
      { token: '!', logprob: 0 },
    ];
    expect(mapLogprobs(input as unknown as Parameters<typeof mapLogprobs>[0])).toStrictEqual([
      {
        token: 'Hel',
        logprob: -0.1,
        bytes: [72, 101, 108],
        top_logprobs: [
          { token: 'Hel', logprob: -0.1, bytes: [72, 101, 108] },
          { token: 'Hi', logprob: -2.5, bytes: [] },
        ],
      },
      { token: 'lo', logprob: -0.02, bytes: [], top_logprobs: [] },
      { token: '!', logprob: 0, bytes: [], top_logprobs: [] },
    ]);
  });
});

describe('parseChatCompletion: the Response', () => {
  it('builds a complete spec-valid Response with the defaults echoed', () => {
    const r = parse(reply({ content: 'Hello!' }));
    expect(r).toStrictEqual({
      id: RESP_ID,
      object: 'response',
      created_at: NOW_S,
      status: 'completed',
      background: false,
      completed_at: NOW_S,
      error: null,
      incomplete_details: null,
      instructions: null,
      max_output_tokens: null,
      max_tool_calls: null,
      model: 'gpt-test',
      output: [message('completed', [text('Hello!')])],
      parallel_tool_calls: true,
      previous_response_id: null,
      prompt_cache_key: null,
      reasoning: { effort: null, summary: null },
      safety_identifier: null,
      service_tier: 'default',
      store: false,
      temperature: 1,
      text: { format: { type: 'text' } },
      tool_choice: 'auto',
      tools: [],
      top_logprobs: 0,
      top_p: 1,
      truncation: 'disabled',
      usage: USAGE_OUT,
      metadata: {},
      presence_penalty: 0,
      frequency_penalty: 0,
    });
  });

  it("uses the request's model, not the upstream's", () => {
    const r = parse(
      reply({ content: 'x' }, 'stop', { model: 'other-name' }),
      undefined,
      createResponseContext(request({ model: 'alias' })),
    );
    expect(r.model).toBe('alias');
  });

  it('keeps the id and created_at of its context', () => {
    const c = ctx();
    const r = parse(reply({ content: 'x' }), undefined, c);
    expect(r.id).toBe(c.id);
    expect(r.created_at).toBe(c.created_at);
  });

  it('echoes the request fields from the context', () => {
    const c = createResponseContext(
      request({
        instructions: 'Be terse.',
        temperature: 0.3,
        top_p: 0.9,
        max_output_tokens: 64,
        parallel_tool_calls: false,
        tool_choice: 'required',
        tools: [{ type: 'function', name: 'f' }],
        metadata: { k: 'v' },
        user: 'someone',
        reasoning: { effort: 'medium' },
      }),
    );
    const r = parse(
      reply({ content: null, tool_calls: [toolCall('call_1', 'f', '{}')] }, 'tool_calls'),
      undefined,
      c,
    );
    expect(r).toMatchObject({
      instructions: 'Be terse.',
      temperature: 0.3,
      top_p: 0.9,
      max_output_tokens: 64,
      parallel_tool_calls: false,
      tool_choice: 'required',
      tools: [{ type: 'function', name: 'f', description: null, parameters: null, strict: null }],
      metadata: { k: 'v' },
      user: 'someone',
      reasoning: { effort: 'medium', summary: null },
      store: false,
    });
  });

  it.each([
    [undefined, 'default'],
    [null, 'default'],
    ['flex', 'flex'],
    ['on_demand', 'default'],
  ])("takes the upstream's service_tier %j as %j", (tier, expected) => {
    expect(parse(reply({ content: 'x' }, 'stop', { service_tier: tier })).service_tier).toBe(expected);
  });

  it('maps the usage', () => {
    const usage = {
      prompt_tokens: 30,
      completion_tokens: 20,
      total_tokens: 50,
      prompt_tokens_details: { cached_tokens: 12, cache_write_tokens: 3 },
      completion_tokens_details: { reasoning_tokens: 15 },
    };
    expect(parse(reply({ content: 'x' }, 'stop', { usage })).usage).toStrictEqual({
      input_tokens: 30,
      input_tokens_details: { cached_tokens: 12, cache_write_tokens: 3 },
      output_tokens: 20,
      output_tokens_details: { reasoning_tokens: 15 },
      total_tokens: 50,
    });
  });

  it.each([
    ['absent', undefined],
    ['null', null],
  ])('gives zero usage when the upstream usage is %s', (_name, usage) => {
    expect(parse(reply({ content: 'x' }, 'stop', { usage })).usage).toStrictEqual(ZERO_USAGE);
  });

  it('sums total_tokens when the upstream omits it', () => {
    const usage = { prompt_tokens: 3, completion_tokens: 4 };
    expect(parse(reply({ content: 'x' }, 'stop', { usage })).usage?.total_tokens).toBe(7);
  });
});

describe('parseChatCompletion: output items', () => {
  it.each([
    ['plain text', { content: 'Hello!' }, 'stop', [message('completed', [text('Hello!')])]],
    [
      'text with whitespace kept',
      { content: '  two\nlines  ' },
      'stop',
      [message('completed', [text('  two\nlines  ')])],
    ],
    [
      'reasoning_content first, then the message',
      { reasoning_content: 'Let me think.', content: '42' },
      'stop',
      [reasoningItem('completed', 'Let me think.'), message('completed', [text('42')])],
    ],
    [
      'reasoning (vLLM/Ollama field) first, then the message',
      { reasoning: 'Hmm.', content: '42' },
      'stop',
      [reasoningItem('completed', 'Hmm.'), message('completed', [text('42')])],
    ],
    [
      'reasoning_content preferred over reasoning',
      { reasoning_content: 'A', reasoning: 'B', content: 'x' },
      'stop',
      [reasoningItem('completed', 'A'), message('completed', [text('x')])],
    ],
    [
      'empty reasoning makes no reasoning item',
      { reasoning_content: '', reasoning: '', content: 'x' },
      'stop',
      [message('completed', [text('x')])],
    ],
    [
      'reasoning only: no message',
      { reasoning_content: 'thinking', content: null },
      'stop',
      [reasoningItem('completed', 'thinking')],
    ],
    [
      'refusal only',
      { content: null, refusal: "I can't help." },
      'stop',
      [message('completed', [refusal("I can't help.")])],
    ],
    [
      'text and a refusal in one message',
      { content: 'Partly.', refusal: 'No more.' },
      'stop',
      [message('completed', [text('Partly.'), refusal('No more.')])],
    ],
    ['empty refusal is ignored', { content: 'x', refusal: '' }, 'stop', [message('completed', [text('x')])]],
    [
      'null content, no tool calls: one empty message',
      { content: null },
      'stop',
      [message('completed', [text('')])],
    ],
    [
      'empty content, no tool calls: one empty message',
      { content: '' },
      'stop',
      [message('completed', [text('')])],
    ],
    ['missing content: one empty message', {}, 'stop', [message('completed', [text('')])]],
    [
      'empty tool_calls list: one empty message',
      { content: null, tool_calls: [] },
      'stop',
      [message('completed', [text('')])],
    ],
    [
      'null tool_calls: one empty message',
      { content: null, tool_calls: null },
      'stop',
      [message('completed', [text('')])],
    ],
    [
      'empty content with tool calls: no message',
      { content: '', tool_calls: [toolCall('call_abc', 'get_weather', '{"city":"Paris"}')] },
      'tool_calls',
      [functionCall('completed', 'call_abc', 'get_weather', '{"city":"Paris"}')],
    ],
    [
      'null content with tool calls: no message',
      { content: null, tool_calls: [toolCall('call_abc', 'get_weather', '{"city":"Paris"}')] },
      'tool_calls',
      [functionCall('completed', 'call_abc', 'get_weather', '{"city":"Paris"}')],
    ],
    [
      'text then tool calls',
      { content: 'Checking.', tool_calls: [toolCall('call_1', 'lookup', '{"q":1}')] },
      'tool_calls',
      [message('completed', [text('Checking.')]), functionCall('completed', 'call_1', 'lookup', '{"q":1}')],
    ],
    [
      'reasoning, text and two tool calls, in that order',
      {
        reasoning_content: 'Two lookups.',
        content: 'On it.',
        tool_calls: [toolCall('call_1', 'a', '{"x":1}'), toolCall('call_2', 'b', '{"y":2}')],
      },
      'tool_calls',
      [
        reasoningItem('completed', 'Two lookups.'),
        message('completed', [text('On it.')]),
        functionCall('completed', 'call_1', 'a', '{"x":1}'),
        functionCall('completed', 'call_2', 'b', '{"y":2}'),
      ],
    ],
    [
      'call ids without a call_ prefix kept verbatim (Mistral-style)',
      {
        content: null,
        tool_calls: [toolCall('aB3dE5gH7', 'f', '{}'), toolCall('chatcmpl-tool-9f', 'g', '{}')],
      },
      'tool_calls',
      [
        functionCall('completed', 'aB3dE5gH7', 'f', '{}'),
        functionCall('completed', 'chatcmpl-tool-9f', 'g', '{}'),
      ],
    ],
    [
      'a tool call without an id gets a call_ id',
      { content: null, tool_calls: [toolCall(undefined, 'f', '{"a":1}')] },
      'tool_calls',
      [functionCall('completed', CALL_ID, 'f', '{"a":1}')],
    ],
    [
      'empty arguments become "{}"',
      { content: null, tool_calls: [toolCall('call_1', 'now', '')] },
      'tool_calls',
      [functionCall('completed', 'call_1', 'now', '{}')],
    ],
    [
      'missing arguments become "{}"',
      { content: null, tool_calls: [toolCall('call_1', 'now', undefined)] },
      'tool_calls',
      [functionCall('completed', 'call_1', 'now', '{}')],
    ],
    [
      'arguments are passed through as the upstream wrote them',
      { content: null, tool_calls: [toolCall('call_1', 'f', '{ "b": 2,\n "a": [1, "x"] }')] },
      'tool_calls',
      [functionCall('completed', 'call_1', 'f', '{ "b": 2,\n "a": [1, "x"] }')],
    ],
    [
      'a tool call without a type is taken as a function',
      { content: null, tool_calls: [{ id: 'call_1', function: { name: 'f', arguments: '{}' } }] },
      'tool_calls',
      [functionCall('completed', 'call_1', 'f', '{}')],
    ],
    [
      'tool calls with finish_reason stop are still function_call items',
      { content: null, tool_calls: [toolCall('call_1', 'f', '{}')] },
      'stop',
      [functionCall('completed', 'call_1', 'f', '{}')],
    ],
  ])('%s', (_name, msg, finishReason, expected) => {
    const r = parse(reply(msg, finishReason));
    expect(r.output).toStrictEqual(expected);
    expect(r.status).toBe('completed');
    expect(r.incomplete_details).toBeNull();
    expect(r.completed_at).toBe(NOW_S);
  });

  it('gives each item a fresh id', () => {
    const msg = {
      reasoning: 'r',
      content: 't',
      tool_calls: [toolCall('call_1', 'a', '{}'), toolCall('call_2', 'b', '{}')],
    };
    const a = parse(reply(msg, 'tool_calls'));
    const b = parse(reply(msg, 'tool_calls'));
    const ids = [...a.output, ...b.output].map((i) => i.id);
    expect(new Set(ids).size).toBe(8);
  });

  it('reads the choice with index 0 even when it is not first', () => {
    const r = reply({ content: 'zero' });
    const first = r.choices[0] as unknown as Record<string, unknown>;
    r.choices = [
      { ...first, index: 1, message: { role: 'assistant', content: 'one' } },
      first,
    ] as unknown as ChatCompletion['choices'];
    expect(parse(r).output).toStrictEqual([message('completed', [text('zero')])]);
  });

  it('reads the first choice when none has index 0', () => {
    const r = reply({ content: 'only' });
    (r.choices[0] as unknown as Record<string, unknown>).index = undefined;
    expect(parse(r).output).toStrictEqual([message('completed', [text('only')])]);
  });
});

describe('parseChatCompletion: finish_reason', () => {
  it.each([
    [
      'length with text',
      { content: 'Once upon a' },
      'length',
      'incomplete',
      { reason: 'max_output_tokens' },
      [message('incomplete', [text('Once upon a')])],
    ],
    [
      'length inside the reasoning',
      { reasoning_content: 'Let me' },
      'length',
      'incomplete',
      { reason: 'max_output_tokens' },
      [reasoningItem('incomplete', 'Let me')],
    ],
    [
      'length after reasoning: only the last item is incomplete',
      { reasoning_content: 'Done thinking.', content: 'The answer is' },
      'length',
      'incomplete',
      { reason: 'max_output_tokens' },
      [reasoningItem('completed', 'Done thinking.'), message('incomplete', [text('The answer is')])],
    ],
    [
      'length inside a tool call: truncated arguments kept, last call incomplete',
      {
        content: 'Calling.',
        tool_calls: [toolCall('call_1', 'a', '{"x":1}'), toolCall('call_2', 'b', '{"y":')],
      },
      'length',
      'incomplete',
      { reason: 'max_output_tokens' },
      [
        message('completed', [text('Calling.')]),
        functionCall('completed', 'call_1', 'a', '{"x":1}'),
        functionCall('incomplete', 'call_2', 'b', '{"y":'),
      ],
    ],
    [
      'length with no content at all',
      { content: null },
      'length',
      'incomplete',
      { reason: 'max_output_tokens' },
      [message('incomplete', [text('')])],
    ],
    [
      'content_filter',
      { content: 'I was say' },
      'content_filter',
      'incomplete',
      { reason: 'content_filter' },
      [message('incomplete', [text('I was say')])],
    ],
    [
      'content_filter with no content',
      { content: null },
      'content_filter',
      'incomplete',
      { reason: 'content_filter' },
      [message('incomplete', [text('')])],
    ],
    ['stop', { content: 'x' }, 'stop', 'completed', null, [message('completed', [text('x')])]],
    ['null finish_reason', { content: 'x' }, null, 'completed', null, [message('completed', [text('x')])]],
    [
      'tool_calls',
      { content: null, tool_calls: [toolCall('c', 'f', '{}')] },
      'tool_calls',
      'completed',
      null,
      [functionCall('completed', 'c', 'f', '{}')],
    ],
    [
      'unknown finish_reason',
      { content: 'x' },
      'eos',
      'completed',
      null,
      [message('completed', [text('x')])],
    ],
  ])('%s', (_name, msg, finishReason, status, incompleteDetails, output) => {
    const r = parse(reply(msg, finishReason));
    expect(r.status).toBe(status);
    expect(r.incomplete_details).toStrictEqual(incompleteDetails);
    expect(r.completed_at).toBe(status === 'completed' ? NOW_S : null);
    expect(r.error).toBeNull();
    expect(r.output).toStrictEqual(output);
  });

  it('treats a missing finish_reason as stop', () => {
    const r = reply({ content: 'x' });
    delete (r.choices[0] as unknown as Record<string, unknown>).finish_reason;
    expect(parse(r).status).toBe('completed');
  });
});

describe('parseChatCompletion: logprobs', () => {
  const upstreamLogprobs = {
    content: [
      {
        token: 'Hi',
        logprob: -0.25,
        bytes: [72, 105],
        top_logprobs: [{ token: 'Hi', logprob: -0.25, bytes: [72, 105] }],
      },
      { token: '!', logprob: -1.5, bytes: null, top_logprobs: [] },
    ],
    refusal: null,
  };
  const mapped = [
    {
      token: 'Hi',
      logprob: -0.25,
      bytes: [72, 105],
      top_logprobs: [{ token: 'Hi', logprob: -0.25, bytes: [72, 105] }],
    },
    { token: '!', logprob: -1.5, bytes: [], top_logprobs: [] },
  ];

  it('keeps them on the output_text part when asked', () => {
    const r = parse(reply({ content: 'Hi!' }, 'stop', {}, { logprobs: upstreamLogprobs }), {
      logprobs: true,
    });
    expect(r.output).toStrictEqual([message('completed', [text('Hi!', mapped)])]);
  });

  it('drops them when not asked', () => {
    const r = parse(reply({ content: 'Hi!' }, 'stop', {}, { logprobs: upstreamLogprobs }), {
      logprobs: false,
    });
    expect(r.output).toStrictEqual([message('completed', [text('Hi!')])]);
  });

  it('drops them by default', () => {
    const r = parse(reply({ content: 'Hi!' }, 'stop', {}, { logprobs: upstreamLogprobs }));
    expect(r.output).toStrictEqual([message('completed', [text('Hi!')])]);
  });

  it.each([
    ['null', null],
    ['absent content', { refusal: null }],
    ['null content', { content: null }],
  ])('gives [] when asked but the upstream logprobs are %s', (_name, logprobs) => {
    const r = parse(reply({ content: 'Hi!' }, 'stop', {}, { logprobs }), { logprobs: true });
    expect(r.output).toStrictEqual([message('completed', [text('Hi!')])]);
  });
});

describe('parseChatCompletion: malformed replies', () => {
  const c = ctx();
  it.each([
    ['null', null, /no "choices" list/],
    ['a string', 'oops', /no "choices" list/],
    ['an empty object', {}, /no "choices" list/],
    ['choices not a list', { choices: { 0: { message: { content: 'x' } } } }, /no "choices" list/],
    ['choices empty', { choices: [] }, /no choice with a message/],
    [
      'choice without message',
      { choices: [{ index: 0, finish_reason: 'stop' }] },
      /no choice with a message/,
    ],
    ['message null', { choices: [{ index: 0, message: null }] }, /no choice with a message/],
    ['message a string', { choices: [{ index: 0, message: 'hello' }] }, /no choice with a message/],
    ['choice null', { choices: [null] }, /no choice with a message/],
    [
      'tool_calls not a list',
      { choices: [{ index: 0, message: { content: null, tool_calls: { id: 'c' } } }] },
      /tool_calls/,
    ],
    [
      'a tool call that is null',
      { choices: [{ index: 0, message: { content: null, tool_calls: [null] } }] },
      /tool call 0/,
    ],
    [
      'a tool call of an unsupported type',
      {
        choices: [
          {
            index: 0,
            message: {
              content: null,
              tool_calls: [
                toolCall('c1', 'f', '{}'),
                { id: 'c2', type: 'custom', custom: { name: 'g', input: 'x' } },
              ],
            },
          },
        ],
      },
      /tool call 1 has unsupported type "custom"/,
    ],
  ])('throws ChatReplyShapeError for %s', (_name, body, message) => {
    const run = () => parseChatCompletion(body as unknown as ChatCompletion, c);
    expect(run).toThrow(ChatReplyShapeError);
    expect(run).toThrow(message);
  });

  it('names the error ChatReplyShapeError', () => {
    try {
      parseChatCompletion({} as ChatCompletion, c);
      expect.unreachable();
    } catch (err) {
      expect((err as Error).name).toBe('ChatReplyShapeError');
      expect(err).toBeInstanceOf(Error);
    }
  });

  it('rejects a tool call without a name', () => {
    const body = reply({
      content: null,
      tool_calls: [{ id: 'c1', type: 'function', function: { arguments: '{}' } }],
    });
    expect(() => parseChatCompletion(body, c)).toThrow(/without a name/);
  });
});
