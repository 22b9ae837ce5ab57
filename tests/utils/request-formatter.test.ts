import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Dialect } from '../../src/config.js';
import { InvalidRequestError, ProxyError, UnsupportedParameterError } from '../../src/errors.js';
import type { ResponsesRequest } from '../../src/types.js';
import {
  assertSupported,
  type FormatOptions,
  formatChatRequest,
  KNOWN_REQUEST_FIELDS,
  unknownFields,
  wantsLogprobs,
} from '../../src/utils/request-formatter.js';
import { OPENAI_SPEC_FILE } from '../helpers/spec-validator.js';

type Body = Record<string, unknown>;

/** The default dialect, spelled out: each test overrides only what it is about. */
const DIALECT: Dialect = {
  maxTokensField: 'max_tokens',
  systemRole: 'merge',
  reasoningField: 'reasoning_content',
  structuredOutput: 'json_schema',
};

const req = (body: Body) => ({ model: 'client-model', ...body }) as unknown as ResponsesRequest;

function format(body: Body, dialect: Partial<Dialect> = {}, stream?: boolean): Body {
  const options: FormatOptions = { upstreamModel: 'up-model', dialect: { ...DIALECT, ...dialect } };
  return formatChatRequest(req(body), options, stream) as unknown as Body;
}

function errorOf(fn: () => unknown): ProxyError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProxyError);
    return err as ProxyError;
  }
  throw new Error('expected the call to throw');
}

function expectFormatError(body: Body, param: string, code: string): ProxyError {
  const err = errorOf(() => format(body));
  expect({ status: err.status, type: err.type, param: err.param, code: err.code }).toEqual({
    status: 400,
    type: 'invalid_request_error',
    param,
    code,
  });
  return err;
}

const USER = [{ role: 'user', content: 'hi' }];
const BASE_MESSAGES = [{ role: 'user', content: 'hi' }];

const fnTool = (name: string, extra: Body = {}) => ({ type: 'function', name, ...extra });
const chatTool = (name: string, fn: Body = {}) => ({ type: 'function', function: { name, ...fn } });

const WEATHER = fnTool('get_weather', {
  description: 'Weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: true,
});
const WEATHER_CHAT = chatTool('get_weather', {
  description: 'Weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: true,
});

describe('formatChatRequest: basics', () => {
  it('sends the upstream model and a string input as one user message, nothing else', () => {
    expect(format({ input: 'Hello' })).toEqual({
      model: 'up-model',
      messages: [{ role: 'user', content: 'Hello' }],
    });
  });

  it('puts instructions first as a system message', () => {
    expect(format({ input: 'Hello', instructions: 'Be terse.' })).toEqual({
      model: 'up-model',
      messages: [
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: 'Hello' },
      ],
    });
  });

  it('translates an item list, merging instructions and developer messages into one system message', () => {
    expect(
      format({
        instructions: 'A',
        input: [
          { role: 'developer', content: 'B' },
          { role: 'user', content: [{ type: 'input_text', text: 'q' }] },
          { role: 'system', content: 'C' },
        ],
      }),
    ).toEqual({
      model: 'up-model',
      messages: [
        { role: 'system', content: 'A\n\nB\n\nC' },
        { role: 'user', content: 'q' },
      ],
    });
  });

  it('adds stream and stream_options.include_usage when streaming', () => {
    expect(format({ input: 'Hi' }, {}, true)).toEqual({
      model: 'up-model',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it.each([
    [false, { stream: true }],
    [undefined, { stream: true }],
  ])('sends no stream fields when the stream argument is %s (whatever the body says)', (stream, extra) => {
    expect(
      format({ input: 'Hi', ...extra, stream_options: { include_obfuscation: true } }, {}, stream),
    ).toEqual({
      model: 'up-model',
      messages: [{ role: 'user', content: 'Hi' }],
    });
  });

  it('passes reasoningField through to the message builder', () => {
    const input = [
      { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'why' }] },
      { role: 'assistant', content: 'a' },
      { role: 'user', content: 'b' },
    ];
    expect(format({ input }, { reasoningField: 'reasoning' }).messages).toEqual([
      { role: 'assistant', content: 'a', reasoning: 'why' },
      { role: 'user', content: 'b' },
    ]);
    expect(format({ input }).messages).toEqual([
      { role: 'assistant', content: 'a', reasoning_content: 'why' },
      { role: 'user', content: 'b' },
    ]);
  });

  it('does not mutate the request', () => {
    const body = {
      input: [
        { role: 'user', content: 'x' },
        { type: 'function_call', call_id: 'c', name: 'f', arguments: '' },
        { type: 'function_call_output', call_id: 'c', output: 'r' },
      ],
      tools: [WEATHER],
      text: { format: { type: 'json_object' } },
    };
    const copy = structuredClone(body);
    format(body);
    expect(body).toEqual(copy);
  });
});

describe('formatChatRequest: tools', () => {
  it('nests a flat function tool under function', () => {
    expect(format({ input: USER, tools: [WEATHER] })).toEqual({
      model: 'up-model',
      messages: BASE_MESSAGES,
      tools: [WEATHER_CHAT],
    });
  });

  it.each([
    ['only a name', fnTool('f'), chatTool('f')],
    ['null fields', fnTool('f', { description: null, parameters: null, strict: null }), chatTool('f')],
    ['strict false', fnTool('f', { strict: false }), chatTool('f', { strict: false })],
    [
      'a description and no parameters',
      fnTool('f', { description: 'does f' }),
      chatTool('f', { description: 'does f' }),
    ],
    [
      'parameters and no description',
      fnTool('f', { parameters: { type: 'object', properties: {} } }),
      chatTool('f', { parameters: { type: 'object', properties: {} } }),
    ],
  ])('maps a function tool with %s, omitting null or absent fields', (_label, tool, expected) => {
    expect(format({ input: USER, tools: [tool] }).tools).toEqual([expected]);
  });

  it('keeps the order of several tools', () => {
    expect(format({ input: USER, tools: [fnTool('a'), fnTool('b'), fnTool('c')] }).tools).toEqual([
      chatTool('a'),
      chatTool('b'),
      chatTool('c'),
    ]);
  });

  it('accepts names of 64 letters, digits, _ and -', () => {
    const name = `${'a'.repeat(60)}_-9Z`;
    expect(format({ input: USER, tools: [fnTool(name)] }).tools).toEqual([chatTool(name)]);
  });

  it.each([
    ['empty', ''],
    ['with a space', 'get weather'],
    ['with a dot', 'ns.tool'],
    ['with a slash', 'a/b'],
    ['65 characters', 'a'.repeat(65)],
    ['not a string', 42],
    ['missing', undefined],
  ])('rejects a function name that is %s', (_label, name) => {
    const err = expectFormatError(
      { input: USER, tools: [fnTool('ok'), { type: 'function', name }] },
      'tools[1].name',
      'invalid_value',
    );
    expect(err).toBeInstanceOf(InvalidRequestError);
  });

  it.each([
    'web_search',
    'web_search_preview',
    'web_search_preview_2025_03_11',
    'file_search',
    'computer',
    'computer_use_preview',
    'code_interpreter',
    'image_generation',
    'mcp',
    'local_shell',
    'shell',
    'apply_patch',
    'tool_search',
  ])('rejects the hosted tool type %s (the default policy of formatChatRequest)', (type) => {
    const err = expectFormatError(
      { input: USER, tools: [fnTool('ok'), { type, name: 'x' }] },
      'tools[1].type',
      'unsupported_value',
    );
    expect(err).toBeInstanceOf(UnsupportedParameterError);
    expect(err.message).toContain(type);
  });

  it('omits tools and tool_choice for an empty tools list', () => {
    expect(format({ input: USER, tools: [], tool_choice: 'auto', parallel_tool_calls: true })).toEqual({
      model: 'up-model',
      messages: BASE_MESSAGES,
    });
  });
});

describe('formatChatRequest: tool_choice', () => {
  it('sends no tool_choice when none is given', () => {
    const chat = format({ input: USER, tools: [WEATHER] });
    expect(chat).toEqual({ model: 'up-model', messages: BASE_MESSAGES, tools: [WEATHER_CHAT] });
    expect('tool_choice' in chat).toBe(false);
  });

  it.each(['none', 'auto', 'required'])('passes the string %s through', (choice) => {
    expect(format({ input: USER, tools: [WEATHER], tool_choice: choice })).toEqual({
      model: 'up-model',
      messages: BASE_MESSAGES,
      tools: [WEATHER_CHAT],
      tool_choice: choice,
    });
  });

  it('treats a null tool_choice as absent', () => {
    expect(format({ input: USER, tools: [WEATHER], tool_choice: null })).toEqual({
      model: 'up-model',
      messages: BASE_MESSAGES,
      tools: [WEATHER_CHAT],
    });
  });

  it.each(['none', 'auto'])('omits tool_choice %s when there are no tools', (choice) => {
    expect(format({ input: USER, tool_choice: choice })).toEqual({
      model: 'up-model',
      messages: BASE_MESSAGES,
    });
  });

  it.each([
    ['absent', undefined],
    ['empty', []],
  ])('rejects required when the tools list is %s', (_label, tools) => {
    expectFormatError({ input: USER, tools, tool_choice: 'required' }, 'tool_choice', 'invalid_value');
  });

  it('rejects an unknown string', () => {
    expectFormatError(
      { input: USER, tools: [WEATHER], tool_choice: 'always' },
      'tool_choice',
      'invalid_value',
    );
  });

  it('nests a named function choice', () => {
    expect(
      format({
        input: USER,
        tools: [fnTool('a'), WEATHER],
        tool_choice: { type: 'function', name: 'get_weather' },
      }),
    ).toEqual({
      model: 'up-model',
      messages: BASE_MESSAGES,
      tools: [chatTool('a'), WEATHER_CHAT],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
  });

  it.each([
    ['a name not among the tools', [WEATHER], { type: 'function', name: 'other' }],
    ['no tools at all', undefined, { type: 'function', name: 'get_weather' }],
    ['no name', [WEATHER], { type: 'function' }],
  ])('rejects a function choice with %s', (_label, tools, choice) => {
    expectFormatError({ input: USER, tools, tool_choice: choice }, 'tool_choice.name', 'invalid_value');
  });

  it('filters the tools to allowed_tools and sends the mode', () => {
    expect(
      format({
        input: USER,
        tools: [fnTool('a'), fnTool('b'), fnTool('c')],
        tool_choice: {
          type: 'allowed_tools',
          mode: 'required',
          tools: [
            { type: 'function', name: 'c' },
            { type: 'function', name: 'a' },
          ],
        },
      }),
    ).toEqual({
      model: 'up-model',
      messages: BASE_MESSAGES,
      tools: [chatTool('a'), chatTool('c')],
      tool_choice: 'required',
    });
  });

  it('sends auto for allowed_tools in auto mode', () => {
    expect(
      format({
        input: USER,
        tools: [fnTool('a'), fnTool('b')],
        tool_choice: { type: 'allowed_tools', mode: 'auto', tools: [{ type: 'function', name: 'b' }] },
        parallel_tool_calls: false,
      }),
    ).toEqual({
      model: 'up-model',
      messages: BASE_MESSAGES,
      tools: [chatTool('b')],
      tool_choice: 'auto',
      parallel_tool_calls: false,
    });
  });

  it.each([
    ['an unknown function', { type: 'function', name: 'zzz' }],
    ['a hosted tool', { type: 'web_search' }],
    ['a nameless entry', { type: 'function' }],
  ])('rejects allowed_tools naming %s', (_label, entry) => {
    expectFormatError(
      {
        input: USER,
        tools: [fnTool('a')],
        tool_choice: { type: 'allowed_tools', mode: 'auto', tools: [{ type: 'function', name: 'a' }, entry] },
      },
      'tool_choice.tools[1]',
      'invalid_value',
    );
  });

  it.each([
    { type: 'web_search' },
    { type: 'web_search_preview' },
    { type: 'file_search' },
    { type: 'computer_use_preview' },
    { type: 'code_interpreter' },
    { type: 'image_generation' },
    { type: 'mcp', server_label: 'srv' },
    { type: 'apply_patch' },
    { type: 'shell' },
    { type: 'programmatic_tool_calling' },
  ])('rejects the hosted tool_choice $type', (choice) => {
    const err = expectFormatError(
      { input: USER, tools: [fnTool('a')], tool_choice: choice },
      'tool_choice.type',
      'unsupported_value',
    );
    expect(err).toBeInstanceOf(UnsupportedParameterError);
  });
});

describe('formatChatRequest: parallel_tool_calls', () => {
  it.each([true, false])('sends parallel_tool_calls %s when there are tools', (value) => {
    expect(format({ input: USER, tools: [WEATHER], parallel_tool_calls: value })).toEqual({
      model: 'up-model',
      messages: BASE_MESSAGES,
      tools: [WEATHER_CHAT],
      parallel_tool_calls: value,
    });
  });

  it('omits parallel_tool_calls without tools', () => {
    expect(format({ input: USER, parallel_tool_calls: false })).toEqual({
      model: 'up-model',
      messages: BASE_MESSAGES,
    });
  });

  it('omits a null parallel_tool_calls', () => {
    expect(format({ input: USER, tools: [WEATHER], parallel_tool_calls: null })).toEqual({
      model: 'up-model',
      messages: BASE_MESSAGES,
      tools: [WEATHER_CHAT],
    });
  });
});

describe('formatChatRequest: text.format', () => {
  const schema = {
    type: 'object',
    properties: { a: { type: 'number' } },
    required: ['a'],
    additionalProperties: false,
  };

  it.each([
    [
      'json_schema with every field',
      { type: 'json_schema', name: 'answer', schema, strict: true, description: 'The answer' },
      {
        type: 'json_schema',
        json_schema: { name: 'answer', schema, strict: true, description: 'The answer' },
      },
    ],
    [
      'json_schema with name and schema only',
      { type: 'json_schema', name: 'answer', schema },
      { type: 'json_schema', json_schema: { name: 'answer', schema } },
    ],
    [
      'json_schema with null strict and description',
      { type: 'json_schema', name: 'answer', schema, strict: null, description: null },
      { type: 'json_schema', json_schema: { name: 'answer', schema } },
    ],
    [
      'json_schema with strict false',
      { type: 'json_schema', name: 'answer', schema, strict: false },
      { type: 'json_schema', json_schema: { name: 'answer', schema, strict: false } },
    ],
    ['json_object', { type: 'json_object' }, { type: 'json_object' }],
  ])('maps %s to response_format', (_label, fmt, expected) => {
    expect(format({ input: USER, text: { format: fmt } })).toEqual({
      model: 'up-model',
      messages: BASE_MESSAGES,
      response_format: expected,
    });
  });

  it.each([
    ['text', { format: { type: 'text' } }],
    ['null', { format: null }],
    ['absent (verbosity only)', { verbosity: 'low' }],
  ])('omits response_format for format %s', (_label, text) => {
    expect(format({ input: USER, text })).toEqual({ model: 'up-model', messages: BASE_MESSAGES });
  });

  it.each(['grammar', 'xml', undefined])('rejects format type %s', (type) => {
    expectFormatError({ input: USER, text: { format: { type } } }, 'text.format.type', 'invalid_value');
  });

  it.each([
    ['no name', { type: 'json_schema', schema }],
    ['no schema', { type: 'json_schema', name: 'n' }],
    ['a null schema', { type: 'json_schema', name: 'n', schema: null }],
  ])('rejects json_schema with %s', (_label, fmt) => {
    expectFormatError({ input: USER, text: { format: fmt } }, 'text.format', 'invalid_value');
  });
});

describe('formatChatRequest: structured output per dialect', () => {
  const schema = { type: 'object', properties: { a: { type: 'string' } } };
  const text = { format: { type: 'json_schema', name: 'out', schema } };
  const instruction = `Respond only with a JSON object that conforms to this JSON schema (out):\n${JSON.stringify(schema)}`;

  it.each([
    ['merge', 'system'],
    ['system', 'system'],
    ['developer', 'developer'],
  ] as const)('json_object, system_role %s, nothing leading: adds a %s message', (systemRole, role) => {
    expect(format({ input: USER, text }, { structuredOutput: 'json_object', systemRole })).toEqual({
      model: 'up-model',
      messages: [{ role, content: instruction }, ...BASE_MESSAGES],
      response_format: { type: 'json_object' },
    });
  });

  it('json_object: appends to leading instructions', () => {
    expect(
      format(
        { instructions: 'X', input: USER, text },
        { structuredOutput: 'json_object', systemRole: 'system' },
      ).messages,
    ).toEqual([{ role: 'system', content: `X\n\n${instruction}` }, ...BASE_MESSAGES]);
  });

  it.each(['json_schema', 'json_object'])('none: %s is a 400 on text.format', (type) => {
    const fmt = type === 'json_schema' ? text.format : { type };
    const err = errorOf(() => format({ input: USER, text: { format: fmt } }, { structuredOutput: 'none' }));
    expect(err).toBeInstanceOf(UnsupportedParameterError);
    expect({ status: err.status, param: err.param, code: err.code }).toEqual({
      status: 400,
      param: 'text.format',
      code: 'unsupported_value',
    });
  });
});

describe('formatChatRequest: sampling and limits', () => {
  it.each([
    ['max_tokens', { max_tokens: 256 }],
    ['max_completion_tokens', { max_completion_tokens: 256 }],
  ] as const)('maps max_output_tokens to %s only', (field, expected) => {
    expect(format({ input: USER, max_output_tokens: 256 }, { maxTokensField: field })).toEqual({
      model: 'up-model',
      messages: BASE_MESSAGES,
      ...expected,
    });
  });

  it.each(['max_tokens', 'max_completion_tokens'] as const)(
    'sends no token limit when max_output_tokens is null (%s)',
    (field) => {
      expect(format({ input: USER, max_output_tokens: null }, { maxTokensField: field })).toEqual({
        model: 'up-model',
        messages: BASE_MESSAGES,
      });
    },
  );

  it('forwards temperature and top_p when set, including 0', () => {
    expect(format({ input: USER, temperature: 0, top_p: 0.9 })).toEqual({
      model: 'up-model',
      messages: BASE_MESSAGES,
      temperature: 0,
      top_p: 0.9,
    });
    expect(format({ input: USER, temperature: 1.3, top_p: 0 })).toEqual({
      model: 'up-model',
      messages: BASE_MESSAGES,
      temperature: 1.3,
      top_p: 0,
    });
  });

  it('does not forward null temperature or top_p', () => {
    expect(format({ input: USER, temperature: null, top_p: null })).toEqual({
      model: 'up-model',
      messages: BASE_MESSAGES,
    });
  });

  it.each([
    ['top_logprobs 3', { top_logprobs: 3 }, { logprobs: true, top_logprobs: 3 }],
    ['top_logprobs 20', { top_logprobs: 20 }, { logprobs: true, top_logprobs: 20 }],
    ['top_logprobs 0', { top_logprobs: 0 }, {}],
    ['top_logprobs null', { top_logprobs: null }, {}],
    ['include output_text logprobs', { include: ['message.output_text.logprobs'] }, { logprobs: true }],
    [
      'include logprobs and top_logprobs 0',
      { include: ['message.output_text.logprobs'], top_logprobs: 0 },
      { logprobs: true },
    ],
    [
      'include logprobs and top_logprobs 5',
      { include: ['reasoning.encrypted_content', 'message.output_text.logprobs'], top_logprobs: 5 },
      { logprobs: true, top_logprobs: 5 },
    ],
    ['include without logprobs', { include: ['reasoning.encrypted_content'] }, {}],
  ])('maps %s', (_label, body, expected) => {
    expect(format({ input: USER, ...body })).toEqual({
      model: 'up-model',
      messages: BASE_MESSAGES,
      ...expected,
    });
  });

  it.each(['none', 'minimal', 'low', 'medium', 'high', 'xhigh'])(
    'maps reasoning.effort %s to reasoning_effort',
    (effort) => {
      expect(format({ input: USER, reasoning: { effort, summary: 'auto' } })).toEqual({
        model: 'up-model',
        messages: BASE_MESSAGES,
        reasoning_effort: effort,
      });
    },
  );

  it.each([
    ['null', null],
    ['summary only', { summary: 'detailed' }],
    ['effort null', { effort: null }],
  ])('sends no reasoning_effort for reasoning %s', (_label, reasoning) => {
    expect(format({ input: USER, reasoning })).toEqual({ model: 'up-model', messages: BASE_MESSAGES });
  });
});

describe('formatChatRequest: accepted but not forwarded', () => {
  it('drops tagging and proxy-side fields from the upstream payload', () => {
    expect(
      format({
        input: USER,
        user: 'u-1',
        safety_identifier: 'sid',
        prompt_cache_key: 'pck',
        prompt_cache_retention: '24h',
        service_tier: 'flex',
        metadata: { a: 'b' },
        store: true,
        truncation: 'auto',
        include: ['reasoning.encrypted_content', 'file_search_call.results'],
        client_metadata: { session: 'x' },
        max_tool_calls: 3,
        context_management: [{ type: 'compaction' }],
        stream_options: { include_obfuscation: false },
        background: false,
        conversation: null,
        prompt: null,
        previous_response_id: null,
        foo: 'bar',
      }),
    ).toEqual({ model: 'up-model', messages: BASE_MESSAGES });
  });
});

describe('assertSupported and formatChatRequest: unsupported fields', () => {
  it.each([
    ['background true', { background: true }, 'background', 'unsupported_parameter'],
    ['a conversation id', { conversation: 'conv_123' }, 'conversation', 'unsupported_parameter'],
    ['a conversation object', { conversation: { id: 'conv_123' } }, 'conversation', 'unsupported_parameter'],
    ['a prompt', { prompt: { id: 'pmpt_1', version: '2' } }, 'prompt', 'unsupported_parameter'],
    ['a missing input', { input: undefined }, 'input', 'missing_required_parameter'],
    ['a null input', { input: null }, 'input', 'missing_required_parameter'],
    [
      'a missing input with a null previous_response_id',
      { input: undefined, previous_response_id: null },
      'input',
      'missing_required_parameter',
    ],
  ])('rejects %s', (_label, extra, param, code) => {
    const body = { input: 'hi', ...extra };
    const direct = errorOf(() => assertSupported(req(body)));
    expect({ status: direct.status, param: direct.param, code: direct.code }).toEqual({
      status: 400,
      param,
      code,
    });
    const viaFormat = expectFormatError(body, param, code);
    expect(viaFormat.message).toBe(direct.message);
  });

  it('rejects a missing input with the OpenAI message', () => {
    const err = errorOf(() => assertSupported(req({})));
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.message).toBe("Missing required parameter: 'input'.");
  });

  it('accepts previous_response_id, with or without input (the stored context is the input)', () => {
    expect(() => assertSupported(req({ input: 'x', previous_response_id: 'resp_9' }))).not.toThrow();
    expect(() => assertSupported(req({ previous_response_id: 'resp_9' }))).not.toThrow();
    expect(() => assertSupported(req({ input: null, previous_response_id: 'resp_9' }))).not.toThrow();
  });

  it('never forwards previous_response_id upstream (the service resolves it into the input)', () => {
    expect(format({ input: USER, previous_response_id: 'resp_9' })).toEqual({
      model: 'up-model',
      messages: BASE_MESSAGES,
    });
    expect(format({ previous_response_id: 'resp_9', instructions: 'Be brief.' })).toEqual({
      model: 'up-model',
      messages: [{ role: 'system', content: 'Be brief.' }],
    });
  });

  it.each([
    ['background false', { background: false }],
    ['background null', { background: null }],
    [
      'null conversation, prompt and previous_response_id',
      { conversation: null, prompt: null, previous_response_id: null },
    ],
    ['an empty item list', { input: [] }],
  ])('accepts %s', (_label, extra) => {
    expect(() => assertSupported(req({ input: 'hi', ...extra }))).not.toThrow();
  });
});

describe('wantsLogprobs', () => {
  it.each([
    [{ top_logprobs: 1 }, true],
    [{ top_logprobs: 0 }, false],
    [{ top_logprobs: null }, false],
    [{ include: ['message.output_text.logprobs'] }, true],
    [{ include: ['message.input_image.image_url'] }, false],
    [{ include: null }, false],
    [{}, false],
  ])('%j -> %s', (body, expected) => {
    expect(wantsLogprobs(req({ input: 'x', ...body }))).toBe(expected);
  });
});

describe('unknownFields and KNOWN_REQUEST_FIELDS', () => {
  it('lists only fields that are not in the spec, in body order', () => {
    expect(
      unknownFields({
        model: 'm',
        foo: 1,
        input: 'x',
        temperature: 1,
        bar_baz: null,
        tools: [],
        client_metadata: {},
      }),
    ).toEqual(['foo', 'bar_baz']);
  });

  it('lists nothing for a body of spec fields only', () => {
    const body = Object.fromEntries([...KNOWN_REQUEST_FIELDS].map((k) => [k, null]));
    expect(unknownFields(body)).toEqual([]);
  });

  it('lists nothing for an empty body', () => {
    expect(unknownFields({})).toEqual([]);
  });

  it("knows every top-level field of the spec's CreateResponse, plus the few real clients add", () => {
    // Read from the spec (not copied), so a field the spec adds makes this test fail until it is handled.
    const doc = JSON.parse(readFileSync(OPENAI_SPEC_FILE, 'utf8'));
    const schemas = doc.components.schemas;
    const props = new Set<string>();
    const collect = (name: string): void => {
      const schema = schemas[name];
      for (const part of schema.allOf ?? []) {
        if (part.$ref) collect(part.$ref.split('/').pop());
        for (const key of Object.keys(part.properties ?? {})) props.add(key);
      }
      for (const key of Object.keys(schema.properties ?? {})) props.add(key);
    };
    collect('CreateResponse');
    expect(props.size).toBeGreaterThan(20);
    for (const field of props) expect(KNOWN_REQUEST_FIELDS.has(field), field).toBe(true);
    // Beyond the spec: openai 7.x's access_programs and image, and Codex's client_metadata.
    const extra = [...KNOWN_REQUEST_FIELDS].filter((f) => !props.has(f)).sort();
    expect(extra).toEqual(['access_programs', 'client_metadata', 'image']);
  });

  it.each(['messages', 'max_tokens', 'response_format', 'n', 'stop', 'seed'])(
    'treats the Chat Completions field %s as unknown',
    (field) => {
      expect(unknownFields({ model: 'm', [field]: 1 })).toEqual([field]);
    },
  );
});

describe('formatChatRequest: realistic Codex-like request', () => {
  it('produces the exact chat payload with a valid ordering', () => {
    const chat = format(
      {
        model: 'gpt-5-codex',
        instructions: 'You are Codex, a coding agent.',
        input: [
          {
            type: 'message',
            role: 'developer',
            content: [{ type: 'input_text', text: '<permissions>workspace-write</permissions>' }],
          },
          { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Run the tests.' }] },
          {
            type: 'reasoning',
            id: 'rs_1',
            summary: [{ type: 'summary_text', text: 'Run npm test.' }],
            content: [{ type: 'reasoning_text', text: 'I will run npm test.' }],
            encrypted_content: null,
          },
          {
            type: 'message',
            id: 'msg_1',
            role: 'assistant',
            status: 'completed',
            content: [{ type: 'output_text', text: 'Running tests.', annotations: [] }],
          },
          {
            type: 'function_call',
            id: 'fc_1',
            call_id: 'call_1',
            name: 'shell',
            arguments: '{"command":["npm","test"]}',
          },
          { type: 'function_call_output', call_id: 'call_1', output: 'All 3 tests passed.' },
          { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Thanks, now lint.' }] },
        ],
        tools: [
          {
            type: 'function',
            name: 'shell',
            description: 'Runs a shell command',
            strict: false,
            parameters: {
              type: 'object',
              properties: { command: { type: 'array', items: { type: 'string' } } },
              required: ['command'],
            },
          },
        ],
        tool_choice: 'auto',
        parallel_tool_calls: false,
        reasoning: { effort: 'medium', summary: 'auto' },
        store: false,
        stream: true,
        include: ['reasoning.encrypted_content'],
        prompt_cache_key: 'session-1',
      },
      { maxTokensField: 'max_completion_tokens' },
      true,
    );
    expect(chat).toEqual({
      model: 'up-model',
      messages: [
        {
          role: 'system',
          content: 'You are Codex, a coding agent.\n\n<permissions>workspace-write</permissions>',
        },
        { role: 'user', content: 'Run the tests.' },
        {
          role: 'assistant',
          content: 'Running tests.',
          reasoning_content: 'I will run npm test.',
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'shell', arguments: '{"command":["npm","test"]}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'All 3 tests passed.' },
        { role: 'user', content: 'Thanks, now lint.' },
      ],
      stream: true,
      stream_options: { include_usage: true },
      tools: [
        {
          type: 'function',
          function: {
            name: 'shell',
            description: 'Runs a shell command',
            strict: false,
            parameters: {
              type: 'object',
              properties: { command: { type: 'array', items: { type: 'string' } } },
              required: ['command'],
            },
          },
        },
      ],
      tool_choice: 'auto',
      parallel_tool_calls: false,
      reasoning_effort: 'medium',
    });
  });
});
