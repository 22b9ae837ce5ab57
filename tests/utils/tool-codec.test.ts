/**
 * ToolCodec: Responses tools <-> chat functions. Function tools pass; namespace members are
 * flattened to `NS__NAME` (sanitized, at most 64 characters, deterministic hash suffix) and map
 * back; custom tools become a function of one string `input`; hosted tools are refused (400
 * `tools[i].type`) or dropped and listed. Also tool_choice and the formatter's use of the codec.
 */
import { describe, expect, it } from 'vitest';
import type { Dialect } from '../../src/config.js';
import { InvalidRequestError, ProxyError, UnsupportedParameterError } from '../../src/errors.js';
import type { ResponsesRequest } from '../../src/types.js';
import { formatChatRequest } from '../../src/utils/request-formatter.js';
import { CUSTOM_INPUT_FIELD, customInput, namespacedName, ToolCodec } from '../../src/utils/tool-codec.js';

type Json = Record<string, unknown>;

const CHAT_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

const DIALECT: Dialect = {
  maxTokensField: 'max_tokens',
  systemRole: 'merge',
  reasoningField: 'reasoning_content',
  structuredOutput: 'json_schema',
};

function errorOf(fn: () => unknown): ProxyError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProxyError);
    return err as ProxyError;
  }
  throw new Error('expected the call to throw');
}

function expect400(fn: () => unknown, param: string, code: string): ProxyError {
  const err = errorOf(fn);
  expect({ status: err.status, type: err.type, param: err.param, code: err.code }).toEqual({
    status: 400,
    type: 'invalid_request_error',
    param,
    code,
  });
  return err;
}

const fn = (name: string, extra: Json = {}) => ({ type: 'function', name, ...extra });
const ns = (name: string, tools: Json[], description = `${name} tools`) => ({
  type: 'namespace',
  name,
  description,
  tools,
});
const PARAMS = { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] };

describe('ToolCodec: function tools', () => {
  it('passes a function tool through with its fields, and decodes its name to itself', () => {
    const codec = new ToolCodec([fn('search', { description: 'Search', parameters: PARAMS, strict: true })]);
    expect(codec.chatTools).toEqual([
      {
        type: 'function',
        function: { name: 'search', description: 'Search', parameters: PARAMS, strict: true },
      },
    ]);
    expect(codec.decode('search')).toEqual({ kind: 'function', name: 'search' });
    expect(codec.has('search')).toBe(true);
    expect(codec.dropped).toEqual([]);
  });

  it('omits fields the client left out or sent as null', () => {
    const codec = new ToolCodec([fn('f', { description: null, parameters: null, strict: null })]);
    expect(codec.chatTools).toEqual([{ type: 'function', function: { name: 'f' } }]);
  });

  it('decodes a name the upstream invented as a plain function of that name', () => {
    const codec = new ToolCodec([fn('a')]);
    expect(codec.has('made_up')).toBe(false);
    expect(codec.decode('made_up')).toEqual({ kind: 'function', name: 'made_up' });
  });

  it.each(['has.dot', 'with space', 'a'.repeat(65), ''])('refuses the function name %j', (name) => {
    expect400(() => new ToolCodec([fn('ok'), fn(name)]), 'tools[1].name', 'invalid_value');
  });

  it('refuses two tools with one name', () => {
    const err = expect400(() => new ToolCodec([fn('a'), fn('a')]), 'tools[1].name', 'invalid_value');
    expect(err.message).toContain("'a' is already defined");
  });
});

describe('ToolCodec: namespace tools', () => {
  it('flattens each member to NS__NAME and maps it back to {name, namespace}', () => {
    const codec = new ToolCodec([
      fn('exec_command'),
      ns('multi_agent_v1', [
        fn('spawn_agent', { description: 'Spawn', parameters: PARAMS, strict: false }),
        fn('close_agent'),
      ]),
    ]);
    expect(codec.chatTools.map((t) => t.function.name)).toEqual([
      'exec_command',
      'multi_agent_v1__spawn_agent',
      'multi_agent_v1__close_agent',
    ]);
    expect(codec.chatTools[1]).toEqual({
      type: 'function',
      function: {
        name: 'multi_agent_v1__spawn_agent',
        description: 'Spawn',
        parameters: PARAMS,
        strict: false,
      },
    });
    expect(codec.decode('multi_agent_v1__spawn_agent')).toEqual({
      kind: 'function',
      name: 'spawn_agent',
      namespace: 'multi_agent_v1',
    });
    expect(codec.decode('exec_command')).toEqual({ kind: 'function', name: 'exec_command' });
  });

  it('sanitizes characters chat names do not allow, and maps back to the names as sent', () => {
    const codec = new ToolCodec([ns('mcp.github/v2', [fn('list.repos'), fn('get issue')])]);
    const names = codec.chatTools.map((t) => t.function.name);
    expect(names).toEqual(['mcp_github_v2__list_repos', 'mcp_github_v2__get_issue']);
    for (const n of names) expect(n).toMatch(CHAT_NAME);
    expect(codec.decode('mcp_github_v2__list_repos')).toEqual({
      kind: 'function',
      name: 'list.repos',
      namespace: 'mcp.github/v2',
    });
  });

  it('keeps a name of exactly 64 characters as it is', () => {
    const name = namespacedName('n'.repeat(30), 'f'.repeat(32));
    expect(name).toBe(`${'n'.repeat(30)}__${'f'.repeat(32)}`);
    expect(name).toHaveLength(64);
  });

  it('shortens a longer name to 64 characters with a deterministic hash suffix', () => {
    const long = namespacedName('mcp_server_with_a_rather_long_name', 'a_tool_name_that_is_also_quite_long');
    expect(long).toHaveLength(64);
    expect(long).toMatch(CHAT_NAME);
    expect(long).toMatch(/^mcp_server_with_a_rather_long_name__a_tool_name_that_is_[0-9a-f]{8}$/);
    // Deterministic: history items sent on a later turn map to the same name.
    expect(namespacedName('mcp_server_with_a_rather_long_name', 'a_tool_name_that_is_also_quite_long')).toBe(
      long,
    );
    // Names sharing the kept prefix still differ.
    const sibling = namespacedName(
      'mcp_server_with_a_rather_long_name',
      'a_tool_name_that_is_also_quite_lonG',
    );
    expect(sibling).not.toBe(long);
    expect(sibling.slice(0, 55)).toBe(long.slice(0, 55));
    // The hash covers the real names, so two that sanitize alike are told apart once hashed.
    expect(namespacedName('x'.repeat(40), 'a.b'.repeat(10))).not.toBe(
      namespacedName('x'.repeat(40), 'a_b'.repeat(10)),
    );
  });

  it('maps a long namespaced name back through the codec', () => {
    const namespace = 'a_very_long_namespace_name_for_an_mcp_server';
    const codec = new ToolCodec([ns(namespace, [fn('with_an_equally_long_function_name')])]);
    const chat = codec.chatTools[0]?.function.name as string;
    expect(chat).toHaveLength(64);
    expect(codec.decode(chat)).toEqual({
      kind: 'function',
      name: 'with_an_equally_long_function_name',
      namespace,
    });
  });

  it('offers a custom tool inside a namespace as NS__NAME, mapped back with the namespace', () => {
    const codec = new ToolCodec([
      ns('editor', [{ type: 'custom', name: 'apply_patch', description: 'Patch' }]),
    ]);
    expect(codec.chatTools[0]?.function.name).toBe('editor__apply_patch');
    expect(codec.chatTools[0]?.function.parameters).toMatchObject({ required: [CUSTOM_INPUT_FIELD] });
    expect(codec.decode('editor__apply_patch')).toEqual({
      kind: 'custom',
      name: 'apply_patch',
      namespace: 'editor',
    });
  });

  it('refuses a flattened name that collides with another tool', () => {
    const err = expect400(
      () => new ToolCodec([fn('a__b'), ns('a', [fn('b')])]),
      'tools[1].tools[0].name',
      'invalid_value',
    );
    expect(err.message).toContain("'a__b' is already defined");
  });

  it.each([
    ['no name', { type: 'namespace', tools: [fn('f')] }, 'tools[0].name', 'invalid_value'],
    ['an empty name', ns('', [fn('f')]), 'tools[0].name', 'invalid_value'],
    ['a hosted member', ns('n', [{ type: 'web_search' }]), 'tools[0].tools[0].type', 'unsupported_value'],
    ['a nameless member', ns('n', [{ type: 'function' }]), 'tools[0].tools[0].name', 'invalid_value'],
  ])('refuses a namespace with %s', (_label, tool, param, code) => {
    expect400(() => new ToolCodec([tool]), param, code);
  });
});

describe('ToolCodec: custom tools', () => {
  it('becomes a function taking one string argument, input', () => {
    const codec = new ToolCodec([{ type: 'custom', name: 'run_sql', description: 'Runs SQL' }]);
    expect(codec.chatTools).toEqual([
      {
        type: 'function',
        function: {
          name: 'run_sql',
          description: 'Runs SQL',
          parameters: {
            type: 'object',
            properties: { input: { type: 'string', description: 'The raw text input for the tool.' } },
            required: ['input'],
            additionalProperties: false,
          },
        },
      },
    ]);
    expect(codec.decode('run_sql')).toEqual({ kind: 'custom', name: 'run_sql' });
  });

  it('puts a grammar into the input description as a hint', () => {
    const definition = 'start: "SELECT " NAME\nNAME: /[a-z]+/';
    const codec = new ToolCodec([
      { type: 'custom', name: 'sql', format: { type: 'grammar', syntax: 'lark', definition } },
    ]);
    const input = (codec.chatTools[0]?.function.parameters as Json | undefined)?.properties as Record<
      string,
      Json
    >;
    expect(input.input?.description).toBe(
      `The raw text input for the tool. It must follow this lark grammar:\n${definition}`,
    );
  });

  it('adds no hint for the text format', () => {
    const codec = new ToolCodec([{ type: 'custom', name: 'note', format: { type: 'text' } }]);
    const input = (codec.chatTools[0]?.function.parameters as Json | undefined)?.properties as Record<
      string,
      Json
    >;
    expect(input.input?.description).toBe('The raw text input for the tool.');
  });

  it.each(['bad name', 'a'.repeat(65)])('refuses the custom tool name %j', (name) => {
    expect400(() => new ToolCodec([{ type: 'custom', name }]), 'tools[0].name', 'invalid_value');
  });

  it.each([
    ['a JSON object with input', '{"input":"*** Begin Patch"}', '*** Begin Patch'],
    ['a JSON string', '"just text"', 'just text'],
    ['raw text (the model ignored the schema)', 'SELECT 1', 'SELECT 1'],
    ['a JSON object without input', '{"query":"x"}', '{"query":"x"}'],
    ['empty arguments', '', ''],
  ])('reads the input from %s', (_label, args, input) => {
    expect(customInput(args)).toBe(input);
  });
});

describe('ToolCodec: hosted tools', () => {
  const HOSTED = [
    { type: 'web_search', external_web_access: false },
    { type: 'file_search', vector_store_ids: ['vs_1'] },
    { type: 'code_interpreter', container: { type: 'auto' } },
    { type: 'image_generation' },
    { type: 'mcp', server_label: 'x' },
    { type: 'local_shell' },
    { type: 'apply_patch' },
  ];

  it.each(HOSTED)('reject (the default): $type is a 400 naming tools[i].type', (tool) => {
    const err = expect400(() => new ToolCodec([fn('f'), tool]), 'tools[1].type', 'unsupported_value');
    expect(err).toBeInstanceOf(UnsupportedParameterError);
    expect(err.message).toContain(`'${tool.type}'`);
    expect(err.message).toContain('hosted_tools = "drop"');
    expect400(() => new ToolCodec([tool], 'reject'), 'tools[0].type', 'unsupported_value');
  });

  it('drop: removes every hosted tool, lists their types in order, keeps the rest', () => {
    const codec = new ToolCodec([HOSTED[0], fn('exec_command'), ...HOSTED.slice(1)], 'drop');
    expect(codec.dropped).toEqual(HOSTED.map((t) => t.type));
    expect(codec.chatTools).toEqual([{ type: 'function', function: { name: 'exec_command' } }]);
  });

  it('drop leaves nothing when only hosted tools were sent', () => {
    const codec = new ToolCodec([{ type: 'web_search' }], 'drop');
    expect(codec.chatTools).toEqual([]);
    expect(codec.dropped).toEqual(['web_search']);
  });

  it('drop does not excuse a bad function or namespace', () => {
    expect400(
      () => new ToolCodec([{ type: 'web_search' }, fn('bad name')], 'drop'),
      'tools[1].name',
      'invalid_value',
    );
  });
});

describe('formatChatRequest with the codec', () => {
  const req = (body: Json) =>
    ({ model: 'client-model', input: 'hi', ...body }) as unknown as ResponsesRequest;
  const format = (body: Json, tools?: ToolCodec) =>
    formatChatRequest(req(body), {
      upstreamModel: 'up',
      dialect: DIALECT,
      ...(tools ? { tools } : {}),
    }) as unknown as Json;

  const TOOLS = [fn('get_weather'), { type: 'custom', name: 'apply_patch' }, ns('mcp', [fn('read_file')])];

  it('sends the flattened chat functions', () => {
    expect(
      (format({ tools: TOOLS }).tools as Array<{ function: { name: string } }>).map((t) => t.function.name),
    ).toEqual(['get_weather', 'apply_patch', 'mcp__read_file']);
  });

  it('uses the codec it is given (policy drop), and sends no tools when none are left', () => {
    const tools = [{ type: 'web_search' }];
    const chat = format({ tools, tool_choice: 'auto' }, new ToolCodec(tools, 'drop'));
    expect(chat).toEqual({ model: 'up', messages: [{ role: 'user', content: 'hi' }] });
  });

  it('tool_choice {type: "custom", name} chooses that function', () => {
    expect(
      format({ tools: TOOLS, tool_choice: { type: 'custom', name: 'apply_patch' } }).tool_choice,
    ).toEqual({
      type: 'function',
      function: { name: 'apply_patch' },
    });
  });

  it.each([
    ['an unknown tool', 'nope'],
    ['a function tool', 'get_weather'],
    ['no name', undefined],
  ])('tool_choice {type: "custom"} naming %s -> 400 tool_choice.name', (_label, name) => {
    const err = expect400(
      () => format({ tools: TOOLS, tool_choice: { type: 'custom', name } }),
      'tool_choice.name',
      'invalid_value',
    );
    expect(err).toBeInstanceOf(InvalidRequestError);
  });

  it('tool_choice allowed_tools may list custom tools', () => {
    const chat = format({
      tools: TOOLS,
      tool_choice: {
        type: 'allowed_tools',
        mode: 'required',
        tools: [
          { type: 'custom', name: 'apply_patch' },
          { type: 'function', name: 'get_weather' },
        ],
      },
    });
    expect(chat.tool_choice).toBe('required');
    expect((chat.tools as Array<{ function: { name: string } }>).map((t) => t.function.name)).toEqual([
      'get_weather',
      'apply_patch',
    ]);
  });
});

describe('ToolCodec.of', () => {
  it('shares one frozen, empty codec between requests without tools', () => {
    const a = ToolCodec.of(undefined);
    expect(ToolCodec.of([])).toBe(a);
    expect(ToolCodec.of([], 'drop')).toBe(a);
    expect(a.chatTools).toEqual([]);
    expect(a.dropped).toEqual([]);
    expect(Object.isFrozen(a) && Object.isFrozen(a.chatTools) && Object.isFrozen(a.dropped)).toBe(true);
    expect(a.decode('anything')).toEqual({ kind: 'function', name: 'anything' });
  });

  it('makes a codec of its own for a request with tools, with the hosted-tools policy', () => {
    const codec = ToolCodec.of([fn('lookup'), { type: 'web_search' }], 'drop');
    expect(codec).not.toBe(ToolCodec.of([]));
    expect(codec.chatTools.map((t) => t.function.name)).toEqual(['lookup']);
    expect(codec.dropped).toEqual(['web_search']);
    expect(() => ToolCodec.of([{ type: 'web_search' }])).toThrow();
  });
});
