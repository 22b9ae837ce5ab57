/**
 * The item shapes Codex (and other Responses-native agents) send and expect, translated without
 * the network: history items (`function_call` with `namespace`, `custom_tool_call`,
 * `custom_tool_call_output`, reasoning with only `encrypted_content`) -> chat messages; chat tool
 * calls -> `function_call` with `namespace` or `custom_tool_call` items, whole and streamed.
 */
import { describe, expect, it } from 'vitest';
import type { Dialect } from '../../src/config.js';
import { ProxyError } from '../../src/errors.js';
import { StreamTranslator } from '../../src/stream/stream-translator.js';
import type { ResponsesRequest } from '../../src/types.js';
import { ReasoningSealer } from '../../src/utils/reasoning-sealer.js';
import { formatChatRequest } from '../../src/utils/request-formatter.js';
import { createResponseContext } from '../../src/utils/response-envelope.js';
import { parseChatCompletion } from '../../src/utils/response-parser.js';
import { ToolCodec } from '../../src/utils/tool-codec.js';
import { chatCompletion } from '../helpers/mock-upstream.js';
import { assertValidEvent, assertValidResponse } from '../helpers/spec-validator.js';
import { checkStream, type Json, normalizeEvents } from '../stream/fixtures.js';

const DIALECT: Dialect = {
  maxTokensField: 'max_tokens',
  systemRole: 'merge',
  reasoningField: 'reasoning_content',
  structuredOutput: 'json_schema',
};

const TOOLS = [
  { type: 'function', name: 'exec_command', parameters: { type: 'object', properties: {} } },
  {
    type: 'namespace',
    name: 'multi_agent_v1',
    description: 'Sub-agents',
    tools: [{ type: 'function', name: 'spawn_agent', parameters: { type: 'object', properties: {} } }],
  },
  {
    type: 'custom',
    name: 'apply_patch',
    description: 'Edit files',
    format: { type: 'grammar', syntax: 'lark', definition: 'start: /.+/' },
  },
  { type: 'web_search', external_web_access: false },
];

const sealer = new ReasoningSealer('test secret');

function format(
  input: unknown[],
  extra: Json = {},
  decrypt: ((b: string) => string | null) | null = null,
): Json {
  const req = { model: 'm', input, tools: TOOLS, ...extra } as unknown as ResponsesRequest;
  return formatChatRequest(req, {
    upstreamModel: 'up',
    dialect: DIALECT,
    tools: new ToolCodec(TOOLS, 'drop'),
    ...(decrypt ? { decryptReasoning: decrypt } : {}),
  }) as Json;
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

const USER = { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Fix the bug' }] };
const PATCH = '*** Begin Patch\n*** Update File: a.py\n@@\n-x = 1\n+x = 2\n*** End Patch\n';

describe('history items -> chat messages', () => {
  it('a function_call with a namespace becomes a call to NS__NAME, its output a tool message', () => {
    const chat = format([
      USER,
      {
        type: 'function_call',
        id: 'fc_1',
        call_id: 'call_1',
        name: 'spawn_agent',
        namespace: 'multi_agent_v1',
        arguments: '{"task":"tests"}',
        status: 'completed',
      },
      { type: 'function_call_output', call_id: 'call_1', output: 'agent started' },
    ]);
    expect(chat.messages).toEqual([
      { role: 'user', content: 'Fix the bug' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_1',
            type: 'function',
            function: { name: 'multi_agent_v1__spawn_agent', arguments: '{"task":"tests"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'agent started' },
    ]);
    // The name matches the flattened tool offered in the same request.
    expect(chat.tools.map((t: Json) => t.function.name)).toContain('multi_agent_v1__spawn_agent');
  });

  it('a long namespaced history call maps to the same hashed name as the tool', () => {
    const namespace = 'mcp_server_with_a_rather_long_name_indeed';
    const tools = [
      {
        type: 'namespace',
        name: namespace,
        description: 'd',
        tools: [{ type: 'function', name: 'and_a_long_tool_name_too' }],
      },
    ];
    const req = {
      model: 'm',
      tools,
      input: [
        USER,
        { type: 'function_call', call_id: 'c', name: 'and_a_long_tool_name_too', namespace, arguments: '{}' },
        { type: 'function_call_output', call_id: 'c', output: 'ok' },
      ],
    } as unknown as ResponsesRequest;
    const chat = formatChatRequest(req, { upstreamModel: 'up', dialect: DIALECT }) as Json;
    const offered = chat.tools[0].function.name;
    expect(offered).toHaveLength(64);
    expect(chat.messages[1].tool_calls[0].function.name).toBe(offered);
  });

  it('a custom_tool_call becomes a call with {"input": …}, its output a tool message', () => {
    const chat = format([
      USER,
      {
        type: 'custom_tool_call',
        id: 'ctc_1',
        call_id: 'call_p',
        name: 'apply_patch',
        input: PATCH,
        status: 'completed',
      },
      { type: 'custom_tool_call_output', call_id: 'call_p', output: 'Success. Updated a.py' },
    ]);
    expect(chat.messages.slice(1)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_p',
            type: 'function',
            function: { name: 'apply_patch', arguments: JSON.stringify({ input: PATCH }) },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_p', content: 'Success. Updated a.py' },
    ]);
  });

  it('a custom_tool_call_output given as text parts is joined', () => {
    const chat = format([
      USER,
      { type: 'custom_tool_call', call_id: 'call_p', name: 'apply_patch', input: PATCH },
      {
        type: 'custom_tool_call_output',
        call_id: 'call_p',
        output: [
          { type: 'input_text', text: 'Success. ' },
          { type: 'input_text', text: 'Updated a.py' },
        ],
      },
    ]);
    expect(chat.messages.at(-1)).toEqual({
      role: 'tool',
      tool_call_id: 'call_p',
      content: 'Success. Updated a.py',
    });
  });

  it('a custom tool inside a namespace is called as NS__NAME', () => {
    const tools = [
      {
        type: 'namespace',
        name: 'editor',
        description: 'd',
        tools: [{ type: 'custom', name: 'apply_patch' }],
      },
    ];
    const req = {
      model: 'm',
      tools,
      input: [
        USER,
        { type: 'custom_tool_call', call_id: 'c', name: 'apply_patch', namespace: 'editor', input: PATCH },
        { type: 'custom_tool_call_output', call_id: 'c', output: 'ok' },
      ],
    } as unknown as ResponsesRequest;
    const chat = formatChatRequest(req, { upstreamModel: 'up', dialect: DIALECT }) as Json;
    expect(chat.messages[1].tool_calls[0].function).toEqual({
      name: 'editor__apply_patch',
      arguments: JSON.stringify({ input: PATCH }),
    });
  });

  it('parallel function and custom calls share one assistant message, results follow in order', () => {
    const chat = format([
      USER,
      { type: 'function_call', call_id: 'a', name: 'exec_command', arguments: '{"cmd":"ls"}' },
      { type: 'custom_tool_call', call_id: 'b', name: 'apply_patch', input: PATCH },
      { type: 'function_call_output', call_id: 'a', output: 'a.py' },
      { type: 'custom_tool_call_output', call_id: 'b', output: 'done' },
    ]);
    expect(chat.messages[1].tool_calls.map((c: Json) => c.id)).toEqual(['a', 'b']);
    expect(chat.messages.slice(2)).toEqual([
      { role: 'tool', tool_call_id: 'a', content: 'a.py' },
      { role: 'tool', tool_call_id: 'b', content: 'done' },
    ]);
  });

  it.each([
    [
      'a custom_tool_call without its output',
      [USER, { type: 'custom_tool_call', call_id: 'c', name: 'apply_patch', input: 'x' }],
      'input[1]',
      'missing_tool_output',
    ],
    [
      'a custom_tool_call_output without its call',
      [USER, { type: 'custom_tool_call_output', call_id: 'nope', output: 'x' }],
      'input[1].call_id',
      'missing_tool_call',
    ],
    [
      'a custom_tool_call whose input is not a string',
      [USER, { type: 'custom_tool_call', call_id: 'c', name: 'apply_patch', input: { patch: 1 } }],
      'input[1].input',
      'invalid_type',
    ],
  ])('refuses %s', (_label, input, param, code) => {
    const err = errorOf(() => format(input));
    expect({ status: err.status, param: err.param, code: err.code }).toEqual({ status: 400, param, code });
  });

  describe('reasoning items with encrypted_content', () => {
    const call = [
      { type: 'function_call', call_id: 'c1', name: 'exec_command', arguments: '{"cmd":"ls"}' },
      { type: 'function_call_output', call_id: 'c1', output: 'a.py' },
    ];
    const open = (b: string) => sealer.open(b);

    it("replays a blob this proxy sealed as the next assistant message's reasoning_content", () => {
      // Codex's shape: no text, only the blob.
      const item = {
        type: 'reasoning',
        id: 'rs_1',
        summary: [],
        encrypted_content: sealer.seal('I should list files.'),
      };
      const chat = format([USER, item, ...call], {}, open);
      expect(chat.messages[1]).toMatchObject({
        role: 'assistant',
        reasoning_content: 'I should list files.',
      });
    });

    it('ignores a blob it cannot open (another key, or OpenAI’s own)', () => {
      for (const blob of [new ReasoningSealer('other').seal('secret'), 'gAAAAABfake']) {
        const chat = format(
          [USER, { type: 'reasoning', summary: [], encrypted_content: blob }, ...call],
          {},
          open,
        );
        expect(chat.messages[1]).not.toHaveProperty('reasoning_content');
        expect(chat.messages[1].tool_calls).toHaveLength(1);
      }
    });

    it('prefers reasoning text the item carries over its blob', () => {
      const item = {
        type: 'reasoning',
        summary: [],
        content: [{ type: 'reasoning_text', text: 'visible text' }],
        encrypted_content: sealer.seal('sealed text'),
      };
      expect(format([USER, item, ...call], {}, open).messages[1].reasoning_content).toBe('visible text');
    });

    it('ignores the blob when no decryptor is configured', () => {
      const item = { type: 'reasoning', summary: [], encrypted_content: sealer.seal('x') };
      expect(format([USER, item, ...call]).messages[1]).not.toHaveProperty('reasoning_content');
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Output

const REQUEST = { model: 'test-model', input: 'hi', tools: TOOLS } as unknown as ResponsesRequest;
const codec = () => new ToolCodec(TOOLS, 'drop');

describe('chat tool calls -> output items (non-streaming)', () => {
  it('a call to NS__NAME comes back as a function_call with name and namespace', () => {
    const reply = chatCompletion({
      tool_calls: [{ id: 'call_n', name: 'multi_agent_v1__spawn_agent', arguments: '{"task":"x"}' }],
    });
    const r = parseChatCompletion(reply as never, createResponseContext(REQUEST), {
      logprobs: false,
      tools: codec(),
    });
    assertValidResponse(r);
    expect(r.output).toEqual([
      {
        id: expect.stringMatching(/^fc_/),
        type: 'function_call',
        status: 'completed',
        call_id: 'call_n',
        name: 'spawn_agent',
        namespace: 'multi_agent_v1',
        arguments: '{"task":"x"}',
      },
    ]);
  });

  it('a call to a custom tool comes back as a custom_tool_call with the unwrapped input', () => {
    const reply = chatCompletion({
      content: 'Patching.',
      tool_calls: [
        { id: 'call_p', name: 'apply_patch', arguments: JSON.stringify({ input: PATCH }) },
        { id: 'call_x', name: 'exec_command', arguments: '{"cmd":"pytest"}' },
      ],
    });
    const r = parseChatCompletion(reply as never, createResponseContext(REQUEST), {
      logprobs: false,
      tools: codec(),
    });
    assertValidResponse(r);
    expect(r.output.map((i) => i.type)).toEqual(['message', 'custom_tool_call', 'function_call']);
    expect(r.output[1]).toEqual({
      id: expect.stringMatching(/^ctc_/),
      type: 'custom_tool_call',
      call_id: 'call_p',
      name: 'apply_patch',
      input: PATCH,
    });
    expect(r.output[2]).toMatchObject({ name: 'exec_command', arguments: '{"cmd":"pytest"}' });
    expect(r.output[2]).not.toHaveProperty('namespace');
  });

  it('without the codec a flattened name is returned as it is (nothing to map it back with)', () => {
    const reply = chatCompletion({
      tool_calls: [{ id: 'c', name: 'multi_agent_v1__spawn_agent', arguments: '{}' }],
    });
    const r = parseChatCompletion(reply as never, createResponseContext(REQUEST), { logprobs: false });
    expect(r.output[0]).toMatchObject({ type: 'function_call', name: 'multi_agent_v1__spawn_agent' });
  });

  it('seals reasoning into encrypted_content only when asked', () => {
    const reply = chatCompletion({ reasoning_content: 'Think.', content: 'Done.' });
    const sealed = parseChatCompletion(reply as never, createResponseContext(REQUEST), {
      logprobs: false,
      sealReasoning: (t) => sealer.seal(t),
    });
    assertValidResponse(sealed);
    const blob = (sealed.output[0] as { encrypted_content?: string }).encrypted_content as string;
    expect(sealer.open(blob)).toBe('Think.');
    const plain = parseChatCompletion(reply as never, createResponseContext(REQUEST), { logprobs: false });
    expect(plain.output[0]).not.toHaveProperty('encrypted_content');
  });
});

const chunk = (delta: Json, finish: string | null = null) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1,
  model: 'm',
  choices: [{ index: 0, delta, finish_reason: finish }],
});

function stream(chunks: Json[], seal = false): { events: Json[]; final: Json } {
  const translator = new StreamTranslator(createResponseContext(REQUEST), {
    logprobs: false,
    tools: codec(),
    sealReasoning: seal ? (t) => sealer.seal(t) : null,
  });
  const events: Json[] = [...translator.start()];
  for (const c of chunks) events.push(...translator.chunk(c));
  if (!translator.finished) events.push(...translator.end(true));
  for (const e of events) assertValidEvent(e);
  const final = checkStream(events);
  expect(final).toBe(translator.final);
  return { events, final };
}

describe('chat tool calls -> output items (streaming)', () => {
  it('a custom call: added with input "", then input delta, input done, item done', () => {
    const args = JSON.stringify({ input: PATCH });
    const { events, final } = stream([
      chunk({ role: 'assistant', content: null }),
      chunk({
        tool_calls: [
          { index: 0, id: 'call_p', type: 'function', function: { name: 'apply_patch', arguments: '' } },
        ],
      }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(0, 7) } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(7, 30) } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: args.slice(30) } }] }),
      chunk({}, 'tool_calls'),
    ]);
    const item = { id: 'ctc@0', type: 'custom_tool_call', call_id: 'call_p', name: 'apply_patch' };
    expect(normalizeEvents(events)).toEqual([
      { type: 'response.created', status: 'in_progress' },
      { type: 'response.in_progress', status: 'in_progress' },
      { type: 'response.output_item.added', output_index: 0, item: { ...item, input: '' } },
      { type: 'response.custom_tool_call_input.delta', item_id: 'ctc@0', output_index: 0, delta: PATCH },
      { type: 'response.custom_tool_call_input.done', item_id: 'ctc@0', output_index: 0, input: PATCH },
      { type: 'response.output_item.done', output_index: 0, item: { ...item, input: PATCH } },
      { type: 'response.completed', status: 'completed' },
    ]);
    expect(final.output).toEqual([{ ...item, id: expect.stringMatching(/^ctc_/), input: PATCH }]);
  });

  it('a namespaced call streams as a function_call carrying its namespace', () => {
    const { events, final } = stream([
      chunk({ role: 'assistant', content: '' }),
      chunk({
        tool_calls: [
          {
            index: 0,
            id: 'call_n',
            type: 'function',
            function: { name: 'multi_agent_v1__spawn_agent', arguments: '{"ta' },
          },
        ],
      }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: 'sk":"x"}' } }] }),
      chunk({}, 'tool_calls'),
    ]);
    const added = events.find((e) => e.type === 'response.output_item.added');
    expect(added.item).toMatchObject({
      type: 'function_call',
      name: 'spawn_agent',
      namespace: 'multi_agent_v1',
    });
    expect(events.find((e) => e.type === 'response.function_call_arguments.done')).toMatchObject({
      name: 'spawn_agent',
      arguments: '{"task":"x"}',
    });
    expect(final.output[0]).toMatchObject({
      type: 'function_call',
      call_id: 'call_n',
      name: 'spawn_agent',
      namespace: 'multi_agent_v1',
      arguments: '{"task":"x"}',
    });
  });

  it('reasoning, then a custom and a function call in one turn; the reasoning item is sealed', () => {
    const { events, final } = stream(
      [
        chunk({ role: 'assistant', reasoning_content: 'Patch, then test.' }),
        chunk({
          tool_calls: [
            {
              index: 0,
              id: 'p',
              type: 'function',
              function: { name: 'apply_patch', arguments: '{"input":"x"}' },
            },
            { index: 1, id: 'f', type: 'function', function: { name: 'exec_command', arguments: '{}' } },
          ],
        }),
        chunk({}, 'tool_calls'),
      ],
      true,
    );
    expect(final.output.map((i: Json) => i.type)).toEqual(['reasoning', 'custom_tool_call', 'function_call']);
    const reasoningDone = events.find(
      (e) => e.type === 'response.output_item.done' && e.item.type === 'reasoning',
    );
    expect(sealer.open(reasoningDone.item.encrypted_content)).toBe('Patch, then test.');
    expect(final.output[0].encrypted_content).toBe(reasoningDone.item.encrypted_content);
  });

  it('a custom call with raw (non-JSON) arguments keeps them as the input', () => {
    const { final } = stream([
      chunk({
        tool_calls: [
          { index: 0, id: 'p', type: 'function', function: { name: 'apply_patch', arguments: 'raw text' } },
        ],
      }),
      chunk({}, 'tool_calls'),
    ]);
    expect(final.output[0]).toMatchObject({ type: 'custom_tool_call', input: 'raw text' });
  });
});
