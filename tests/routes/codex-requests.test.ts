/**
 * What Codex CLI and the Agents SDKs really send (tests/fixtures/client-captures, replayed as sent)
 * through the real proxy and a real HTTP mock upstream: hosted tools dropped by default (one
 * warning per request) or refused with `hosted_tools = "reject"`; namespace and custom tool calls
 * over JSON and SSE, read by the official client; reasoning sealed into `encrypted_content` with
 * `store: false` and replayed on the next turn, across proxies sharing `[auth] reasoning_key_env`.
 */
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ChatScript } from '../helpers/conversation.js';
import { MockUpstream } from '../helpers/mock-upstream.js';
import { oneTarget, startProxy, type TestProxy } from '../helpers/proxy.js';
import { assertValidResponse } from '../helpers/spec-validator.js';
import { checkStream, type Json, parseSseText } from '../stream/fixtures.js';

/** Copies of ../shared/reference/client-captures (tests/spec-copies.test.ts checks they match). */
const CAPTURES = new URL('../fixtures/client-captures/', import.meta.url);
const capture = (name: string): Array<{ headers: Json; body: Json }> =>
  JSON.parse(readFileSync(new URL(name, CAPTURES), 'utf8'));

const PATCH = '*** Begin Patch\n*** Add File: hello.txt\n+hello\n*** End Patch\n';

let upstream: MockUpstream;
let proxy: TestProxy;
let client: OpenAI;
const script = new ChatScript();

beforeAll(async () => {
  upstream = await MockUpstream.start(script.handler);
  proxy = await startProxy(oneTarget(upstream.baseUrl, 'retries = { max = 0 }'), {}, 'info');
  client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'k', maxRetries: 0 });
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

beforeEach(() => {
  upstream.requests.length = 0;
  script.clear();
});

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json: Json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // an SSE body
  }
  return { status: res.status, text, json };
}

/** A non-streaming copy of a request. */
const json = (body: Json) => ({ ...body, stream: false });

describe('the captured Codex CLI requests', () => {
  const [turn1, turn2] = capture('codex-request.json') as unknown as [{ body: Json }, { body: Json }];

  it('turn 1 (stream, store: false, web_search, a namespace) streams a valid reply', async () => {
    script.reply({
      reasoning_content: 'Run it.',
      tool_calls: [{ id: 'call_c1', name: 'exec_command', arguments: '{"cmd":"echo codex-tool-ok"}' }],
    });
    const res = await post(proxy.url, turn1.body, { 'x-request-id': 'codex-turn-1' });
    expect(res.status, res.text.slice(0, 500)).toBe(200);
    const final = checkStream(parseSseText(res.text).events);
    expect(final.output.map((i: Json) => i.type)).toEqual(['reasoning', 'function_call']);
    expect(final.output[0].encrypted_content).toMatch(/^llmproxy\.v1\./);
    expect(final.output[1]).toMatchObject({ name: 'exec_command', call_id: 'call_c1' });

    const sent = upstream.last.body;
    const names = sent.tools.map((t: Json) => t.function.name);
    expect(names).toEqual([
      'exec_command',
      'write_stdin',
      'request_user_input',
      'view_image',
      ...turn1.body.tools[4].tools.map((t: Json) => `multi_agent_v1__${t.name}`),
      'get_goal',
      'create_goal',
      'update_goal',
    ]);
    // The developer messages are merged into one leading system message.
    expect(sent.messages.map((m: Json) => m.role)).toEqual(['system', 'user', 'user']);
    expect(sent.messages[2]).toEqual({ role: 'user', content: 'Run echo' });

    const warnings = proxy.logs.filter((l) => l.msg === 'dropped hosted tools the upstream cannot run');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'warn', dropped: ['web_search'], target: 'mock' });
  });

  it('turn 2 (the call and its output) reaches the upstream paired; one warning per request', async () => {
    const before = proxy.logs.filter((l) => l.msg === 'dropped hosted tools the upstream cannot run').length;
    script.reply({ content: 'It printed codex-tool-ok.' }, { content: 'Again.' });
    expect((await post(proxy.url, turn2.body)).status).toBe(200);
    expect((await post(proxy.url, json(turn2.body))).status).toBe(200);
    const messages = upstream.last.body.messages;
    expect(messages.slice(-2)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_4e118f8405b14d4cbeae3dda',
            type: 'function',
            function: { name: 'exec_command', arguments: '{"cmd": "echo codex-tool-ok && uname -s"}' },
          },
        ],
      },
      { role: 'tool', tool_call_id: 'call_4e118f8405b14d4cbeae3dda', content: turn2.body.input[5].output },
    ]);
    const after = proxy.logs.filter((l) => l.msg === 'dropped hosted tools the upstream cannot run').length;
    expect(after - before).toBe(2);
  });

  it('with hosted_tools = "reject", the same request is a 400 naming the web_search tool', async () => {
    const strict = await startProxy(oneTarget(upstream.baseUrl, 'hosted_tools = "reject"'), {}, 'info');
    try {
      const res = await post(strict.url, turn1.body);
      const index = turn1.body.tools.findIndex((t: Json) => t.type === 'web_search');
      expect(res.status).toBe(400);
      expect(res.json.error).toMatchObject({
        type: 'invalid_request_error',
        param: `tools[${index}].type`,
        code: 'unsupported_value',
      });
      expect(upstream.requests).toHaveLength(0);
    } finally {
      await strict.close();
    }
  });

  it('a fallback target sends the tools the request was accepted with, whatever its own policy', async () => {
    const down = await MockUpstream.start((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"overloaded"}}');
    });
    const toml = `[targets.primary]\nbase_url = "${down.baseUrl}"\nretries = { max = 0 }\nfallbacks = ["backup"]\n\n[targets.backup]\nbase_url = "${upstream.baseUrl}"\nmodels = ["never-*"]\nhosted_tools = "reject"\n`;
    const p = await startProxy(`[defaults]\ntarget = "primary"\n\n${toml}`, {}, 'info');
    try {
      script.reply({ content: 'from the backup' });
      const res = await post(p.url, json(turn1.body));
      expect(res.status, res.text).toBe(200);
      expect(res.json.output[0].content[0].text).toBe('from the backup');
      expect(down.requests).toHaveLength(1);
      expect(upstream.last.body.tools.map((t: Json) => t.function.name)).toEqual(
        down.requests[0]?.body.tools.map((t: Json) => t.function.name),
      );
    } finally {
      await p.close();
      await down.close();
    }
  });

  it('[defaults] hosted_tools applies to every target; a target overrides it', async () => {
    const toml = `[defaults]\nhosted_tools = "reject"\n\n[targets.a]\nbase_url = "${upstream.baseUrl}"\nmodels = ["a-*"]\n\n[targets.b]\nbase_url = "${upstream.baseUrl}"\nmodels = ["b-*"]\nhosted_tools = "drop"\n`;
    const p = await startProxy(toml, {}, 'info');
    try {
      script.reply({ content: 'ok' });
      const tools = [{ type: 'web_search' }];
      expect((await post(p.url, { model: 'a-1', input: 'hi', tools })).status).toBe(400);
      expect((await post(p.url, { model: 'b-1', input: 'hi', tools })).status).toBe(200);
    } finally {
      await p.close();
    }
  });
});

describe('the captured Agents SDK requests (JS and Python)', () => {
  it.each(['agents_js-request.json', 'agents_py-request.json'])(
    '%s: every request is answered',
    async (file) => {
      for (const { body } of capture(file)) {
        script.reply({ tool_calls: [{ id: 'call_w', name: 'get_weather', arguments: '{"city":"Paris"}' }] });
        const res = await post(proxy.url, body);
        expect(res.status, res.text.slice(0, 300)).toBe(200);
        if (body.stream === true) checkStream(parseSseText(res.text).events);
        else assertValidResponse(res.json);
      }
      expect(upstream.requests.length).toBe(capture(file).length);
    },
  );
});

describe('namespace and custom tool calls through the proxy', () => {
  const TOOLS = [
    { type: 'custom', name: 'apply_patch', description: 'Edit files' },
    {
      type: 'namespace',
      name: 'mcp__fs',
      description: 'Files',
      tools: [
        {
          type: 'function',
          name: 'read_file',
          parameters: { type: 'object', properties: { path: { type: 'string' } } },
        },
      ],
    },
  ];

  it.each([false, true])('a custom tool call comes back as custom_tool_call (stream %s)', async (stream) => {
    script.reply({
      tool_calls: [{ id: 'call_p', name: 'apply_patch', arguments: JSON.stringify({ input: PATCH }) }],
    });
    const res = await post(proxy.url, { model: 'test-model', input: 'Add hello.txt', tools: TOOLS, stream });
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    let response: Json;
    if (stream) {
      const { events } = parseSseText(res.text);
      response = checkStream(events);
      expect(events.slice(2, -1).map((e: Json) => e.type)).toEqual([
        'response.output_item.added',
        'response.custom_tool_call_input.delta',
        'response.custom_tool_call_input.done',
        'response.output_item.done',
      ]);
      expect(events[2].item).toMatchObject({ type: 'custom_tool_call', name: 'apply_patch', input: '' });
    } else {
      response = res.json;
      assertValidResponse(response);
    }
    expect(response.output).toEqual([
      {
        id: expect.stringMatching(/^ctc_/),
        type: 'custom_tool_call',
        call_id: 'call_p',
        name: 'apply_patch',
        input: PATCH,
      },
    ]);
    expect(upstream.last.body.tools[0].function).toMatchObject({
      name: 'apply_patch',
      parameters: { properties: { input: { type: 'string' } }, required: ['input'] },
    });
  });

  it('the official client reads a streamed custom tool call (responses.stream)', async () => {
    script.reply({
      tool_calls: [{ id: 'call_p2', name: 'apply_patch', arguments: JSON.stringify({ input: PATCH }) }],
    });
    const types: string[] = [];
    const s = client.responses.stream({ model: 'test-model', input: 'Add hello.txt', tools: TOOLS as never });
    for await (const e of s) types.push(e.type);
    const final = await s.finalResponse();
    expect(types).toContain('response.custom_tool_call_input.done');
    expect(final.output[0]).toMatchObject({ type: 'custom_tool_call', name: 'apply_patch', input: PATCH });
  });

  it.each([false, true])(
    'a namespaced call comes back with its namespace, and round-trips (stream %s)',
    async (stream) => {
      script.reply(
        { tool_calls: [{ id: 'call_r', name: 'mcp__fs__read_file', arguments: '{"path":"a.txt"}' }] },
        { content: 'It says hi.' },
      );
      const first = await post(proxy.url, {
        model: 'test-model',
        input: 'Read a.txt',
        tools: TOOLS,
        stream,
        store: false,
      });
      expect(first.status).toBe(200);
      const response = stream ? checkStream(parseSseText(first.text).events) : first.json;
      if (!stream) assertValidResponse(response);
      expect(response.output[0]).toMatchObject({
        type: 'function_call',
        call_id: 'call_r',
        name: 'read_file',
        namespace: 'mcp__fs',
        arguments: '{"path":"a.txt"}',
      });
      // Codex sends the call back as it received it, with its output.
      const second = await post(proxy.url, {
        model: 'test-model',
        tools: TOOLS,
        stream,
        store: false,
        input: [
          { role: 'user', content: 'Read a.txt' },
          response.output[0],
          { type: 'function_call_output', call_id: 'call_r', output: 'hi' },
        ],
      });
      expect(second.status, second.text.slice(0, 300)).toBe(200);
      expect(upstream.last.body.messages.slice(1)).toEqual([
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_r',
              type: 'function',
              function: { name: 'mcp__fs__read_file', arguments: '{"path":"a.txt"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_r', content: 'hi' },
      ]);
    },
  );

  it('a custom_tool_call and its custom_tool_call_output round-trip', async () => {
    script.reply({ content: 'Done.' });
    const res = await post(proxy.url, {
      model: 'test-model',
      tools: TOOLS,
      input: [
        { role: 'user', content: 'Add hello.txt' },
        { type: 'custom_tool_call', id: 'ctc_1', call_id: 'call_p', name: 'apply_patch', input: PATCH },
        { type: 'custom_tool_call_output', call_id: 'call_p', output: 'Success.' },
      ],
    });
    expect(res.status, res.text).toBe(200);
    expect(upstream.last.body.messages.slice(1)).toEqual([
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
      { role: 'tool', tool_call_id: 'call_p', content: 'Success.' },
    ]);
  });
});

describe('include: ["reasoning.encrypted_content"] with store: false', () => {
  const TOOL = { type: 'function', name: 'exec_command', parameters: { type: 'object', properties: {} } };
  const base = { model: 'test-model', store: false, include: ['reasoning.encrypted_content'], tools: [TOOL] };
  const turn1Reply = {
    reasoning_content: 'List the files first.',
    tool_calls: [{ id: 'call_ls', name: 'exec_command', arguments: '{"cmd":"ls"}' }],
  };

  /** Turn 2 as Codex sends it: the reasoning item reduced to its blob, the call, the output. */
  const turn2 = (reasoning: Json, call: Json) => ({
    ...base,
    input: [
      { role: 'user', content: 'What is here?' },
      { type: 'reasoning', id: reasoning.id, summary: [], encrypted_content: reasoning.encrypted_content },
      call,
      { type: 'function_call_output', call_id: 'call_ls', output: 'a.py b.py' },
    ],
  });

  it.each([false, true])(
    'reasoning items carry the blob; sent back, it is replayed (stream %s)',
    async (stream) => {
      script.reply(turn1Reply, { content: 'Two Python files.' });
      const first = await post(proxy.url, { ...base, stream, input: 'What is here?' });
      expect(first.status).toBe(200);
      let response: Json;
      if (stream) {
        const { events } = parseSseText(first.text);
        response = checkStream(events);
        const done = events.find(
          (e: Json) => e.type === 'response.output_item.done' && e.item.type === 'reasoning',
        );
        expect(done.item.encrypted_content).toBe(response.output[0].encrypted_content);
      } else {
        response = first.json;
        assertValidResponse(response);
      }
      const [reasoning, call] = response.output;
      expect(reasoning).toMatchObject({
        type: 'reasoning',
        encrypted_content: expect.stringMatching(/^llmproxy\.v1\./),
      });
      expect(reasoning.encrypted_content).not.toContain('List the files');

      const second = await post(proxy.url, { ...turn2(reasoning, call), stream });
      expect(second.status, second.text.slice(0, 300)).toBe(200);
      expect(upstream.last.body.messages[1]).toEqual({
        role: 'assistant',
        content: null,
        reasoning_content: 'List the files first.',
        tool_calls: [
          { id: 'call_ls', type: 'function', function: { name: 'exec_command', arguments: '{"cmd":"ls"}' } },
        ],
      });
    },
  );

  it('without the include, reasoning items carry no blob', async () => {
    script.reply(turn1Reply);
    const res = await post(proxy.url, { ...base, include: [], input: 'What is here?' });
    expect(res.json.output[0].type).toBe('reasoning');
    expect(res.json.output[0]).not.toHaveProperty('encrypted_content');
  });

  it('a blob from another proxy (another key) is ignored, and the request still succeeds', async () => {
    const other = await startProxy(oneTarget(upstream.baseUrl), {}, 'info');
    try {
      script.reply(turn1Reply, { content: 'ok' });
      const first = await post(other.url, { ...base, input: 'What is here?' });
      const [reasoning, call] = first.json.output;
      const second = await post(proxy.url, turn2(reasoning, call));
      expect(second.status, second.text).toBe(200);
      expect(upstream.last.body.messages[1]).not.toHaveProperty('reasoning_content');
      expect(upstream.last.body.messages[1].tool_calls[0].id).toBe('call_ls');
    } finally {
      await other.close();
    }
  });

  it("an OpenAI blob (not this proxy's) is ignored too", async () => {
    script.reply({ content: 'ok' });
    const res = await post(
      proxy.url,
      turn2(
        { id: 'rs_openai', encrypted_content: 'gAAAAABo-fake-openai-blob==' },
        { type: 'function_call', call_id: 'call_ls', name: 'exec_command', arguments: '{}' },
      ),
    );
    expect(res.status, res.text).toBe(200);
    expect(upstream.last.body.messages[1]).not.toHaveProperty('reasoning_content');
  });

  it('[auth] reasoning_key_env: proxies sharing the key read each other’s blobs (a restart, replicas)', async () => {
    const toml = `[auth]\nreasoning_key_env = "LLM_PROXY_REASONING_KEY"\n\n${oneTarget(upstream.baseUrl)}`;
    const env = { LLM_PROXY_REASONING_KEY: 'a long random secret 7f3e' };
    const a = await startProxy(toml, env, 'info');
    const b = await startProxy(toml, env, 'info');
    try {
      script.reply(turn1Reply, { content: 'ok' });
      const first = await post(a.url, { ...base, input: 'What is here?' });
      const [reasoning, call] = first.json.output;
      await a.close();
      expect((await post(b.url, turn2(reasoning, call))).status).toBe(200);
      expect(upstream.last.body.messages[1].reasoning_content).toBe('List the files first.');
      // With a configured key there is no warning about a per-process key.
      expect(a.logs.some((l) => /random per-process key/.test(l.msg))).toBe(false);
    } finally {
      await b.close();
    }
  });

  it('without reasoning_key_env, the per-process key is warned about once, not per request', async () => {
    const p = await startProxy(oneTarget(upstream.baseUrl), {}, 'info');
    try {
      script.reply(turn1Reply, turn1Reply);
      await post(p.url, { ...base, input: 'one' });
      await post(p.url, { ...base, input: 'two' });
      const warnings = p.logs.filter((l) => /random per-process key/.test(l.msg));
      expect(warnings).toHaveLength(1);
      expect(warnings[0].msg).toContain('reasoning_key_env');
    } finally {
      await p.close();
    }
  });

  it('an unset reasoning_key_env variable is a configuration error', async () => {
    await expect(
      startProxy(
        `[auth]\nreasoning_key_env = "NOT_SET_ANYWHERE"\n\n${oneTarget(upstream.baseUrl)}`,
        {},
        'info',
      ),
    ).rejects.toThrow(/auth\.reasoning_key_env.*NOT_SET_ANYWHERE is not set/);
  });
});
