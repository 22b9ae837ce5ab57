/**
 * Per-target dialects end to end: the same Responses request, sent through the real proxy to
 * differently configured targets (all on one mock upstream, chosen with `NAME/model`), must reach
 * the upstream exactly as each target's settings say; reasoning comes back from either field.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MockUpstream, sendJson, sendSse } from '../helpers/mock-upstream.js';
import { startProxy, type TestProxy } from '../helpers/proxy.js';
import { assertValidResponse } from '../helpers/spec-validator.js';
import { outputText, postResponses, replyText, textChunks } from '../helpers/targets.js';
import { checkStream, parseSseText } from '../stream/fixtures.js';

let upstream: MockUpstream;
let proxy: TestProxy;

const DIALECTS: Record<string, string> = {
  plain: '',
  openai: 'max_tokens_field = "max_completion_tokens"\nsystem_role = "developer"\nreasoning_field = "none"',
  sys: 'system_role = "system"\nreasoning_field = "both"',
  vllm: 'reasoning_field = "reasoning"',
  jsonobj: 'structured_output = "json_object"',
  jsonobjdev: 'structured_output = "json_object"\nsystem_role = "developer"',
  nojson: 'structured_output = "none"',
};

beforeAll(async () => {
  upstream = await MockUpstream.start();
  const targets = Object.entries(DIALECTS)
    .map(([name, extra]) => `[targets.${name}]\nbase_url = "${upstream.baseUrl}"\n${extra}\n`)
    .join('\n');
  proxy = await startProxy(`[defaults]\nretries = { max = 0 }\n\n${targets}`);
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

beforeEach(() => {
  upstream.requests.length = 0;
  upstream.handler = (req, res) => replyText(req, res, 'ok');
});

/** Sends `body` to target `name` and returns the chat payload the upstream received. */
async function outbound(name: string, body: Record<string, unknown>) {
  const r = await postResponses(proxy.url, { model: `${name}/m1`, ...body });
  expect(r.status, r.text).toBe(200);
  expect(r.body.model).toBe(`${name}/m1`);
  expect(upstream.requests).toHaveLength(1);
  return upstream.last.body;
}

const HISTORY = {
  instructions: 'Be terse.',
  input: [
    { role: 'developer', content: 'Answer in English.' },
    { role: 'user', content: 'Hi' },
    { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'A greeting.' }] },
    { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Hello!' }] },
    { role: 'user', content: 'Weather in Paris?' },
  ],
  max_output_tokens: 100,
};

const MERGED_SYSTEM = { role: 'system', content: 'Be terse.\n\nAnswer in English.' };
const USERS = [
  { role: 'user', content: 'Hi' },
  { role: 'user', content: 'Weather in Paris?' },
];

describe('the same request, four dialects', () => {
  it.each([
    [
      'plain (defaults)',
      'plain',
      {
        model: 'm1',
        messages: [
          MERGED_SYSTEM,
          USERS[0],
          { role: 'assistant', content: 'Hello!', reasoning_content: 'A greeting.' },
          USERS[1],
        ],
        max_tokens: 100,
      },
    ],
    [
      'max_completion_tokens, developer messages in place, no reasoning passback',
      'openai',
      {
        model: 'm1',
        messages: [
          { role: 'developer', content: 'Be terse.' },
          { role: 'developer', content: 'Answer in English.' },
          USERS[0],
          { role: 'assistant', content: 'Hello!' },
          USERS[1],
        ],
        max_completion_tokens: 100,
      },
    ],
    [
      'system messages in place, reasoning on both fields',
      'sys',
      {
        model: 'm1',
        messages: [
          { role: 'system', content: 'Be terse.' },
          { role: 'system', content: 'Answer in English.' },
          USERS[0],
          {
            role: 'assistant',
            content: 'Hello!',
            reasoning_content: 'A greeting.',
            reasoning: 'A greeting.',
          },
          USERS[1],
        ],
        max_tokens: 100,
      },
    ],
    [
      'reasoning passed back as "reasoning"',
      'vllm',
      {
        model: 'm1',
        messages: [
          MERGED_SYSTEM,
          USERS[0],
          { role: 'assistant', content: 'Hello!', reasoning: 'A greeting.' },
          USERS[1],
        ],
        max_tokens: 100,
      },
    ],
  ])('%s', async (_label, name, expected) => {
    expect(await outbound(name, HISTORY)).toStrictEqual(expected);
  });

  it('keeps developer and system messages in their place between other turns', async () => {
    const input = [
      { role: 'user', content: 'a' },
      { role: 'system', content: 'mid-rule' },
      { role: 'user', content: 'b' },
    ];
    expect((await outbound('openai', { input })).messages).toStrictEqual([
      { role: 'user', content: 'a' },
      { role: 'developer', content: 'mid-rule' },
      { role: 'user', content: 'b' },
    ]);
    upstream.requests.length = 0;
    expect((await outbound('plain', { input })).messages).toStrictEqual([
      { role: 'system', content: 'mid-rule' },
      { role: 'user', content: 'a' },
      { role: 'user', content: 'b' },
    ]);
  });
});

describe('structured output per target', () => {
  const SCHEMA = {
    type: 'object',
    properties: { city: { type: 'string' }, celsius: { type: 'number' } },
    required: ['city', 'celsius'],
    additionalProperties: false,
  };
  const JSON_SCHEMA = { format: { type: 'json_schema', name: 'weather', schema: SCHEMA, strict: true } };
  const INSTRUCTION = `Respond only with a JSON object that conforms to this JSON schema (weather):\n${JSON.stringify(SCHEMA)}`;
  const USER = [{ role: 'user', content: 'Weather?' }];

  it('json_schema target: response_format json_schema, messages untouched', async () => {
    expect(
      await outbound('plain', { instructions: 'Be terse.', input: USER, text: JSON_SCHEMA }),
    ).toStrictEqual({
      model: 'm1',
      messages: [{ role: 'system', content: 'Be terse.' }, ...USER],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'weather', schema: SCHEMA, strict: true },
      },
    });
  });

  it('json_object target: json_object plus the schema appended to the leading system message', async () => {
    expect(
      await outbound('jsonobj', { instructions: 'Be terse.', input: USER, text: JSON_SCHEMA }),
    ).toStrictEqual({
      model: 'm1',
      messages: [{ role: 'system', content: `Be terse.\n\n${INSTRUCTION}` }, ...USER],
      response_format: { type: 'json_object' },
    });
  });

  it('json_object target without instructions: the schema becomes the leading system message', async () => {
    expect(await outbound('jsonobj', { input: USER, text: JSON_SCHEMA })).toStrictEqual({
      model: 'm1',
      messages: [{ role: 'system', content: INSTRUCTION }, ...USER],
      response_format: { type: 'json_object' },
    });
  });

  it('json_object target with developer messages: appended to the leading developer message', async () => {
    expect(
      await outbound('jsonobjdev', { instructions: 'Be terse.', input: USER, text: JSON_SCHEMA }),
    ).toStrictEqual({
      model: 'm1',
      messages: [{ role: 'developer', content: `Be terse.\n\n${INSTRUCTION}` }, ...USER],
      response_format: { type: 'json_object' },
    });
  });

  it('json_object target with developer messages and none leading: the instruction uses the developer role', async () => {
    const input = [...USER, { role: 'developer', content: 'later rule' }];
    expect((await outbound('jsonobjdev', { input, text: JSON_SCHEMA })).messages).toStrictEqual([
      { role: 'developer', content: INSTRUCTION },
      ...USER,
      { role: 'developer', content: 'later rule' },
    ]);
  });

  it('json_object target: a json_object request passes as it is, without an instruction', async () => {
    expect(
      await outbound('jsonobj', { input: USER, text: { format: { type: 'json_object' } } }),
    ).toStrictEqual({
      model: 'm1',
      messages: USER,
      response_format: { type: 'json_object' },
    });
  });

  it.each([
    ['json_schema', JSON_SCHEMA],
    ['json_object', { format: { type: 'json_object' } }],
  ])(
    'structured_output = "none": %s is a 400 text.format and nothing goes upstream',
    async (_label, text) => {
      const r = await postResponses(proxy.url, { model: 'nojson/m1', input: USER, text });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({
        type: 'invalid_request_error',
        param: 'text.format',
        code: 'unsupported_value',
      });
      expect(r.body.error.message).toMatch(/does not support structured output/);
      expect(upstream.requests).toHaveLength(0);
    },
  );

  it('structured_output = "none": plain text format still passes', async () => {
    expect(await outbound('nojson', { input: USER, text: { format: { type: 'text' } } })).toStrictEqual({
      model: 'm1',
      messages: USER,
    });
  });

  it('the same json_schema request goes to the json_schema target while the none target refuses it', async () => {
    const body = { input: USER, text: JSON_SCHEMA };
    expect((await postResponses(proxy.url, { model: 'nojson/m1', ...body })).status).toBe(400);
    expect((await postResponses(proxy.url, { model: 'plain/m1', ...body })).status).toBe(200);
    expect(upstream.requests.map((r) => r.body.response_format.type)).toStrictEqual(['json_schema']);
  });
});

describe('reasoning read back from the upstream', () => {
  it.each(['reasoning', 'reasoning_content'])(
    'reads a JSON reply that carries it in "%s" into a reasoning item',
    async (field) => {
      upstream.handler = (_req, res) =>
        sendJson(res, 200, {
          id: 'chatcmpl-r',
          object: 'chat.completion',
          created: 1_800_000_000,
          model: 'test-model',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: 'Sunny.', [field]: 'Look it up.' },
              finish_reason: 'stop',
            },
          ],
          usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 },
        });
      const r = await postResponses(proxy.url, { model: 'plain/m1', input: 'Weather?' });
      expect(r.status).toBe(200);
      assertValidResponse(r.body);
      expect(r.body.output.map((i: { type: string }) => i.type)).toStrictEqual(['reasoning', 'message']);
      expect(r.body.output[0].content).toStrictEqual([{ type: 'reasoning_text', text: 'Look it up.' }]);
      expect(outputText(r.body)).toBe('Sunny.');
    },
  );

  it.each(['reasoning', 'reasoning_content'])('reads stream deltas that carry it in "%s"', async (field) => {
    upstream.handler = (_req, res) => {
      const [first, ...rest] = textChunks('Sunny.') as Array<{ choices: Array<{ delta: object }> }>;
      const thinking = {
        id: 'chatcmpl-stream',
        object: 'chat.completion.chunk',
        created: 1_800_000_000,
        model: 'test-model',
        choices: [{ index: 0, delta: { [field]: 'Look it up.' }, finish_reason: null }],
      };
      sendSse(res, [first, thinking, ...rest]);
    };
    const r = await postResponses(proxy.url, { model: 'vllm/m1', input: 'Weather?', stream: true });
    expect(r.status).toBe(200);
    const { events } = parseSseText(r.text);
    const final = checkStream(events);
    expect(final.status).toBe('completed');
    expect(
      events.filter((e) => e.type === 'response.reasoning_text.delta').map((e) => e.delta),
    ).toStrictEqual(['Look it up.']);
    expect(final.output[0]).toMatchObject({
      type: 'reasoning',
      content: [{ type: 'reasoning_text', text: 'Look it up.' }],
    });
    expect(outputText(final)).toBe('Sunny.');
  });

  it('sends the reasoning of a previous Response back on the field the target wants', async () => {
    upstream.handler = (_req, res) =>
      sendJson(res, 200, {
        id: 'chatcmpl-r',
        object: 'chat.completion',
        created: 1_800_000_000,
        model: 'test-model',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: 'Sunny.', reasoning: 'Think.' },
            finish_reason: 'stop',
          },
        ],
      });
    const first = await postResponses(proxy.url, { model: 'vllm/m1', input: 'Weather?' });
    expect(first.status).toBe(200);
    const history = [
      { role: 'user', content: 'Weather?' },
      ...first.body.output,
      { role: 'user', content: 'Sure?' },
    ];
    for (const [name, fields] of [
      ['vllm', { reasoning: 'Think.' }],
      ['plain', { reasoning_content: 'Think.' }],
      ['sys', { reasoning_content: 'Think.', reasoning: 'Think.' }],
      ['openai', {}],
    ] as const) {
      upstream.requests.length = 0;
      const r = await postResponses(proxy.url, { model: `${name}/m1`, input: history });
      expect(r.status, r.text).toBe(200);
      expect(upstream.last.body.messages[1], name).toStrictEqual({
        role: 'assistant',
        content: 'Sunny.',
        ...fields,
      });
    }
  });
});
