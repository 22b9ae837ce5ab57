/**
 * validateRequestBody: each bad body is one 400 naming the deepest offending field in OpenAI's
 * `param` style, with the OpenAI code; valid bodies (with unknown fields and new enum strings) pass.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../src/errors.js';
import { responsesRequestSchema } from '../../src/http/request-schema.js';
import {
  compileSchema,
  interpretSchema,
  type Schema,
  validateRequestBody,
} from '../../src/http/request-validator.js';

const M = { model: 'test-model' };

interface Expected {
  param: string;
  code: 'missing_required_parameter' | 'invalid_type' | 'invalid_value';
  message: string;
}

function errorOf(body: unknown): InvalidRequestError {
  try {
    validateRequestBody(body);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidRequestError);
    return err as InvalidRequestError;
  }
  throw new Error(`expected a 400 for ${JSON.stringify(body)}`);
}

const BAD: Array<[string, unknown, Expected]> = [
  [
    'missing model',
    { input: 'Hi' },
    {
      param: 'model',
      code: 'missing_required_parameter',
      message: "Missing required parameter: 'model'.",
    },
  ],
  [
    'model ""',
    { model: '' },
    {
      param: 'model',
      code: 'invalid_value',
      message: "Invalid value for 'model': must NOT have fewer than 1 characters.",
    },
  ],
  [
    'model 5',
    { model: 5 },
    { param: 'model', code: 'invalid_type', message: "Invalid value for 'model': must be string." },
  ],
  [
    'temperature "hot"',
    { ...M, temperature: 'hot' },
    {
      param: 'temperature',
      code: 'invalid_type',
      message: "Invalid type for 'temperature': expected number or null.",
    },
  ],
  [
    'temperature 3',
    { ...M, temperature: 3 },
    {
      param: 'temperature',
      code: 'invalid_value',
      message: "Invalid value for 'temperature': must be <= 2.",
    },
  ],
  [
    'temperature -1',
    { ...M, temperature: -1 },
    {
      param: 'temperature',
      code: 'invalid_value',
      message: "Invalid value for 'temperature': must be >= 0.",
    },
  ],
  [
    'top_p 1.5',
    { ...M, top_p: 1.5 },
    { param: 'top_p', code: 'invalid_value', message: "Invalid value for 'top_p': must be <= 1." },
  ],
  [
    'max_output_tokens 0',
    { ...M, max_output_tokens: 0 },
    {
      param: 'max_output_tokens',
      code: 'invalid_value',
      message: "Invalid value for 'max_output_tokens': must be >= 1.",
    },
  ],
  [
    'max_output_tokens 1.5',
    { ...M, max_output_tokens: 1.5 },
    {
      param: 'max_output_tokens',
      code: 'invalid_type',
      message: "Invalid type for 'max_output_tokens': expected integer or null.",
    },
  ],
  [
    'top_logprobs 21',
    { ...M, top_logprobs: 21 },
    {
      param: 'top_logprobs',
      code: 'invalid_value',
      message: "Invalid value for 'top_logprobs': must be <= 20.",
    },
  ],
  [
    'input 5',
    { ...M, input: 5 },
    { param: 'input', code: 'invalid_type', message: "Invalid type for 'input': expected string or array." },
  ],
  [
    'input [5]',
    { ...M, input: [5] },
    { param: 'input[0]', code: 'invalid_type', message: "Invalid value for 'input[0]': must be object." },
  ],
  [
    'input [{…}, "x"]',
    { ...M, input: [{ role: 'user', content: 'Hi' }, 'x'] },
    { param: 'input[1]', code: 'invalid_type', message: "Invalid value for 'input[1]': must be object." },
  ],
  [
    'tools [{}]',
    { ...M, tools: [{}] },
    {
      param: 'tools[0].type',
      code: 'missing_required_parameter',
      message: "Missing required parameter: 'tools[0].type'.",
    },
  ],
  [
    'tools {}',
    { ...M, tools: {} },
    { param: 'tools', code: 'invalid_type', message: "Invalid value for 'tools': must be array." },
  ],
  [
    'tool_choice 5',
    { ...M, tool_choice: 5 },
    {
      param: 'tool_choice',
      code: 'invalid_type',
      message: "Invalid type for 'tool_choice': expected string or object.",
    },
  ],
  [
    'metadata {a: 1}',
    { ...M, metadata: { a: 1 } },
    { param: 'metadata.a', code: 'invalid_type', message: "Invalid value for 'metadata.a': must be string." },
  ],
  [
    'include ["x", 1]',
    { ...M, include: ['x', 1] },
    { param: 'include[1]', code: 'invalid_type', message: "Invalid value for 'include[1]': must be string." },
  ],
  [
    "a metadata key with '/'",
    { ...M, metadata: { 'a/b': 2 } },
    {
      param: 'metadata.a/b',
      code: 'invalid_type',
      message: "Invalid value for 'metadata.a/b': must be string.",
    },
  ],
  [
    "a metadata key with '~'",
    { ...M, metadata: { 'x~1y': true } },
    {
      param: 'metadata.x~1y',
      code: 'invalid_type',
      message: "Invalid value for 'metadata.x~1y': must be string.",
    },
  ],
  [
    "a metadata key with '~/' and '~0'",
    { ...M, metadata: { '~/~0': null } },
    {
      param: 'metadata.~/~0',
      code: 'invalid_type',
      message: "Invalid value for 'metadata.~/~0': must be string.",
    },
  ],
  [
    'stream "yes"',
    { ...M, stream: 'yes' },
    {
      param: 'stream',
      code: 'invalid_type',
      message: "Invalid type for 'stream': expected boolean or null.",
    },
  ],
  [
    'text.format without type',
    { ...M, text: { format: {} } },
    {
      param: 'text.format.type',
      code: 'missing_required_parameter',
      message: "Missing required parameter: 'text.format.type'.",
    },
  ],
  [
    'user null (not nullable)',
    { ...M, user: null },
    { param: 'user', code: 'invalid_type', message: "Invalid value for 'user': must be string." },
  ],
  [
    'the deepest of several errors wins',
    { model: 5, temperature: 'hot', metadata: { ok: 'x', deep: 1 }, tools: [{ type: 'function' }] },
    {
      param: 'metadata.deep',
      code: 'invalid_type',
      message: "Invalid value for 'metadata.deep': must be string.",
    },
  ],
  [
    'the deepest wins over a missing model',
    { tools: [{ type: 'function' }, { type: 7 }] },
    {
      param: 'tools[1].type',
      code: 'invalid_type',
      message: "Invalid value for 'tools[1].type': must be string.",
    },
  ],
];

describe('validateRequestBody: bad bodies', () => {
  it.each(BAD)('%s', (_name, body, expected) => {
    const err = errorOf(body);
    expect({
      status: err.status,
      type: err.type,
      param: err.param,
      code: err.code,
      message: err.message,
    }).toEqual({
      status: 400,
      type: 'invalid_request_error',
      ...expected,
    });
  });

  it.each([
    ['null', null],
    ['an array', [{ model: 'x' }]],
    ['a string', 'model'],
    ['a number', 5],
  ])('a body that is %s is a 400 too', (_name, body) => {
    const err = errorOf(body);
    expect(err.status).toBe(400);
    expect(err.code).toBe('invalid_type');
    expect(err.param).toBeNull();
    expect(err.message).toBe("Invalid value for 'body': must be object.");
  });
});

describe('validateRequestBody: valid bodies', () => {
  it.each([
    ['just a model', { ...M }],
    ['string input', { ...M, input: 'Hi' }],
    ['item input', { ...M, input: [{ role: 'user', content: 'Hi' }, { type: 'function_call_output' }] }],
    ['temperature null', { ...M, temperature: null }],
    ['temperature bounds', { ...M, temperature: 0, top_p: 1, top_logprobs: 0 }],
    ['temperature 2, top_logprobs 20', { ...M, temperature: 2, top_logprobs: 20, max_output_tokens: 1 }],
    [
      'every nullable field null',
      {
        ...M,
        instructions: null,
        stream: null,
        stream_options: null,
        parallel_tool_calls: null,
        max_output_tokens: null,
        max_tool_calls: null,
        top_p: null,
        top_logprobs: null,
        reasoning: null,
        metadata: null,
        store: null,
        background: null,
        previous_response_id: null,
        include: null,
        safety_identifier: null,
        prompt_cache_key: null,
        service_tier: null,
        truncation: null,
      },
    ],
    [
      'unknown extra fields',
      { ...M, foo: 1, bar: { nested: [1, 2] }, text: { verbosity: 'low', extra: true } },
    ],
    [
      'new enum strings',
      {
        ...M,
        tool_choice: 'some-new-choice',
        tools: [{ type: 'brand_new_tool', whatever: 1 }],
        reasoning: { effort: 'ultra', summary: 'auto' },
        service_tier: 'galactic',
        truncation: 'maybe',
        include: ['future.field', 'reasoning.encrypted_content'],
        text: { format: { type: 'new_format' } },
      },
    ],
    ['tool_choice object', { ...M, tool_choice: { type: 'function', name: 'f' } }],
    ['metadata strings', { ...M, metadata: { 'a/b': 'x', '~': 'y', '': 'z' } }],
  ])('%s', (_name, body) => {
    expect(() => validateRequestBody(body)).not.toThrow();
  });
});

describe('the compiled schema test', () => {
  /** Values of every JSON type, some in range for the schema's fields and some not. */
  const json = fc.oneof(
    fc.constantFrom(null, true, false, 0, 1, -1, 2.5, 21, 'x', '', 'auto'),
    fc.constant([]),
    fc.constant({}),
    fc.constant({ type: 'function' }),
    fc.constant({ type: 1 }),
    fc.array(fc.constantFrom({ type: 'function' }, 'x', 1, { a: 1 }), { maxLength: 3 }),
    fc.array(fc.constantFrom('a', 1), { maxLength: 3 }),
    fc.dictionary(
      fc.constantFrom('type', 'format', 'effort', 'k'),
      fc.constantFrom('s', 1, null, { type: 'text' }),
    ),
  );
  const field = fc.constantFrom(...Object.keys(responsesRequestSchema.properties), 'unknown_field');
  const body = fc.oneof(
    fc.dictionary(field, json, { maxKeys: 6 }),
    fc.dictionary(field, json, { maxKeys: 6 }).map((b) => ({ model: 'm', ...b })),
    json,
  );

  it('accepts exactly the bodies the interpreter accepts', () => {
    const compiled = compileSchema(responsesRequestSchema as Schema);
    fc.assert(
      fc.property(body, (value) => {
        expect(compiled(value)).toBe(interpretSchema(responsesRequestSchema as Schema, value));
      }),
      { numRuns: 5000 },
    );
  });
});
