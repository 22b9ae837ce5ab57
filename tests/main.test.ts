import { connect, createServer } from 'node:net';
import OpenAI from 'openai';
import OpenAI6 from 'openai6';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { chatCompletion, MockUpstream, sendJson } from './helpers/mock-upstream.js';
import { oneTarget, startProxy, type TestProxy } from './helpers/proxy.js';
import { assertValidResponse, schemaErrors } from './helpers/spec-validator.js';

let upstream: MockUpstream;
let proxy: TestProxy;
let client: OpenAI;
let client6: OpenAI;

beforeAll(async () => {
  upstream = await MockUpstream.start();
  // The request-error tests expect hosted tools refused (the default is to drop them).
  proxy = await startProxy(oneTarget(upstream.baseUrl, 'hosted_tools = "reject"'));
  client = new OpenAI({ baseURL: `${proxy.url}/v1`, apiKey: 'client-key', maxRetries: 0 });
  // The 6.x client has its own (older) types; the calls used here are the same in both.
  client6 = new OpenAI6({
    baseURL: `${proxy.url}/v1`,
    apiKey: 'client-key',
    maxRetries: 0,
  }) as unknown as OpenAI;
});

afterAll(async () => {
  await proxy?.close();
  await upstream?.close();
});

beforeEach(() => {
  upstream.requests.length = 0;
  upstream.handler = (_req, res) => sendJson(res, 200, chatCompletion({ content: 'Hello!' }));
});

/** Posts raw text to the proxy, for requests the SDK would refuse to build. */
async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${proxy.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  // biome-ignore lint/suspicious/noExplicitAny: replies are inspected as arbitrary JSON
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    // left null: the assertion on `json` reports it
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A port nothing listens on: bind one, then close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const clients = [
  ['openai 7.x', () => client],
  ['openai 6.x', () => client6],
] as const;

describe.each(clients)('non-streaming end to end (%s)', (_name, sdk) => {
  it('answers a text request', async () => {
    const response = await sdk().responses.create({
      model: 'test-model',
      input: 'Hi',
      instructions: 'Be terse.',
    });
    expect(response.output_text).toBe('Hello!');
    expect(response.status).toBe('completed');
    expect(response.model).toBe('test-model');
    expect(response.instructions).toBe('Be terse.');
    expect(response.usage).toEqual({
      input_tokens: 12,
      input_tokens_details: { cached_tokens: 2, cache_write_tokens: 0 },
      output_tokens: 5,
      output_tokens_details: { reasoning_tokens: 1 },
      total_tokens: 17,
    });
    expect(response.output).toHaveLength(1);
    expect(response.output[0]).toMatchObject({
      type: 'message',
      role: 'assistant',
      status: 'completed',
      content: [{ type: 'output_text', text: 'Hello!', annotations: [] }],
    });
    expect(response.id).toMatch(/^resp_/);
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.last.method).toBe('POST');
    expect(upstream.last.path).toBe('/v1/chat/completions');
    expect(upstream.last.body).toEqual({
      model: 'test-model',
      messages: [
        { role: 'system', content: 'Be terse.' },
        { role: 'user', content: 'Hi' },
      ],
    });
    assertValidResponse(response);
  });

  it('merges instructions and developer/system messages into one leading system message', async () => {
    const response = await sdk().responses.create({
      model: 'test-model',
      instructions: 'Be terse.',
      input: [
        { role: 'developer', content: 'Answer in French.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Bonjour.' },
        { role: 'user', content: [{ type: 'input_text', text: 'Again' }] },
      ],
      temperature: 0.5,
      max_output_tokens: 50,
    });
    expect(response.output_text).toBe('Hello!');
    expect(response.temperature).toBe(0.5);
    expect(response.max_output_tokens).toBe(50);
    expect(upstream.last.body).toEqual({
      model: 'test-model',
      messages: [
        { role: 'system', content: 'Be terse.\n\nAnswer in French.' },
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Bonjour.' },
        { role: 'user', content: 'Again' },
      ],
      temperature: 0.5,
      max_tokens: 50,
    });
    assertValidResponse(response);
  });

  it('turns upstream tool_calls into function_call items', async () => {
    upstream.handler = (_req, res) =>
      sendJson(
        res,
        200,
        chatCompletion({
          content: null,
          tool_calls: [
            { id: 'call_abc123', name: 'get_weather', arguments: '{"city":"Paris"}' },
            { id: 'call_def456', name: 'get_time', arguments: '{"tz":"CET"}' },
          ],
        }),
      );
    const tools = [
      {
        type: 'function' as const,
        name: 'get_weather',
        description: 'Weather for a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        strict: false,
      },
      {
        type: 'function' as const,
        name: 'get_time',
        description: null,
        parameters: { type: 'object', properties: { tz: { type: 'string' } } },
        strict: null,
      },
    ];
    const response = await sdk().responses.create({
      model: 'test-model',
      input: 'Weather and time in Paris?',
      tools,
      tool_choice: 'auto',
    });
    expect(upstream.last.body).toEqual({
      model: 'test-model',
      messages: [{ role: 'user', content: 'Weather and time in Paris?' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather for a city',
            parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
            strict: false,
          },
        },
        {
          type: 'function',
          function: {
            name: 'get_time',
            parameters: { type: 'object', properties: { tz: { type: 'string' } } },
          },
        },
      ],
      tool_choice: 'auto',
    });
    expect(response.status).toBe('completed');
    expect(response.output_text).toBe('');
    expect(response.output).toHaveLength(2);
    expect(response.output[0]).toMatchObject({
      type: 'function_call',
      call_id: 'call_abc123',
      name: 'get_weather',
      arguments: '{"city":"Paris"}',
      status: 'completed',
    });
    expect(response.output[1]).toMatchObject({
      type: 'function_call',
      call_id: 'call_def456',
      name: 'get_time',
      arguments: '{"tz":"CET"}',
      status: 'completed',
    });
    expect((response.output[0] as { id: string }).id).toMatch(/^fc_/);
    assertValidResponse(response);
  });

  it('sends a function_call_output continuation as assistant tool_calls + a tool message', async () => {
    upstream.handler = (_req, res) =>
      sendJson(
        res,
        200,
        chatCompletion({
          content: null,
          tool_calls: [{ id: 'call_w1', name: 'get_weather', arguments: '{"city":"Paris"}' }],
        }),
      );
    const tools = [
      {
        type: 'function' as const,
        name: 'get_weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } } },
        strict: false,
      },
    ];
    const first = await sdk().responses.create({ model: 'test-model', input: 'Weather in Paris?', tools });
    assertValidResponse(first);
    const call = first.output[0];
    expect(call?.type).toBe('function_call');

    upstream.handler = (_req, res) => sendJson(res, 200, chatCompletion({ content: 'It is sunny, 21°C.' }));
    const second = await sdk().responses.create({
      model: 'test-model',
      tools,
      input: [
        { role: 'user', content: 'Weather in Paris?' },
        ...(first.output as OpenAI.Responses.ResponseInputItem[]),
        { type: 'function_call_output', call_id: 'call_w1', output: '{"sky":"sunny","celsius":21}' },
      ],
    });
    expect(upstream.requests).toHaveLength(2);
    expect(upstream.last.body).toEqual({
      model: 'test-model',
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_w1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_w1', content: '{"sky":"sunny","celsius":21}' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
            strict: false,
          },
        },
      ],
    });
    expect(second.output_text).toBe('It is sunny, 21°C.');
    expect(second.status).toBe('completed');
    assertValidResponse(second);
  });

  it('puts upstream reasoning_content in a reasoning item before the message', async () => {
    upstream.handler = (_req, res) =>
      sendJson(res, 200, chatCompletion({ reasoning_content: 'The user greets me.', content: 'Hi there.' }));
    const response = await sdk().responses.create({
      model: 'test-model',
      input: 'Hello',
      reasoning: { effort: 'low' },
    });
    expect(upstream.last.body).toEqual({
      model: 'test-model',
      messages: [{ role: 'user', content: 'Hello' }],
      reasoning_effort: 'low',
    });
    expect(response.output.map((o) => o.type)).toEqual(['reasoning', 'message']);
    expect(response.output[0]).toMatchObject({
      type: 'reasoning',
      summary: [],
      content: [{ type: 'reasoning_text', text: 'The user greets me.' }],
    });
    expect((response.output[0] as { id: string }).id).toMatch(/^rs_/);
    expect(response.output_text).toBe('Hi there.');
    expect(response.reasoning).toEqual({ effort: 'low', summary: null });
    assertValidResponse(response);
  });

  it('reports finish_reason length as incomplete (max_output_tokens)', async () => {
    upstream.handler = (_req, res) =>
      sendJson(res, 200, chatCompletion({ content: 'Once upon a', finish_reason: 'length' }));
    const response = await sdk().responses.create({
      model: 'test-model',
      input: 'A story',
      max_output_tokens: 3,
    });
    expect(upstream.last.body).toEqual({
      model: 'test-model',
      messages: [{ role: 'user', content: 'A story' }],
      max_tokens: 3,
    });
    expect(response.status).toBe('incomplete');
    expect(response.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(response.completed_at).toBeNull();
    expect(response.output_text).toBe('Once upon a');
    expect(response.output[0]).toMatchObject({ type: 'message', status: 'incomplete' });
    assertValidResponse(response);
  });

  it('sends text.format json_schema upstream as a nested response_format', async () => {
    upstream.handler = (_req, res) =>
      sendJson(res, 200, chatCompletion({ content: '{"name":"Ada","age":36}' }));
    const schema = {
      type: 'object',
      properties: { name: { type: 'string' }, age: { type: 'integer' } },
      required: ['name', 'age'],
      additionalProperties: false,
    };
    const response = await sdk().responses.create({
      model: 'test-model',
      input: 'Who?',
      text: {
        format: { type: 'json_schema', name: 'person', schema, strict: true, description: 'A person' },
      },
    });
    expect(upstream.last.body).toEqual({
      model: 'test-model',
      messages: [{ role: 'user', content: 'Who?' }],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'person', schema, strict: true, description: 'A person' },
      },
    });
    expect(JSON.parse(response.output_text)).toEqual({ name: 'Ada', age: 36 });
    expect(response.text?.format).toEqual({
      type: 'json_schema',
      name: 'person',
      schema,
      strict: true,
      description: 'A person',
    });
    // The two specs disagree here: OpenAI's TextResponseFormatJsonSchema requires `schema` to be an
    // object, Open Responses' JsonSchemaResponseFormat requires it to be null. The echo follows
    // OpenAI (what api.openai.com returns); everything else must satisfy both specs.
    expect(schemaErrors('openai', 'Response', response)).toEqual([]);
    assertValidResponse({ ...response, text: { ...response.text, format: { type: 'text' } } });
  });
});

describe('routes and request ids', () => {
  it('serves the POST /response alias', async () => {
    const res = await post('/response', { model: 'test-model', input: 'Hi' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.json.object).toBe('response');
    expect(res.json.output[0].content[0].text).toBe('Hello!');
    expect(upstream.last.body).toEqual({ model: 'test-model', messages: [{ role: 'user', content: 'Hi' }] });
    assertValidResponse(res.json);
  });

  it('answers GET /healthz with 200', async () => {
    const res = await fetch(`${proxy.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('answers an unknown route with a 404 envelope', async () => {
    const res = await fetch(`${proxy.url}/v1/nothing-here`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({
      error: {
        message: 'No route for GET /v1/nothing-here.',
        type: 'invalid_request_error',
        param: null,
        code: 'not_found',
      },
    });
    expect(upstream.requests).toHaveLength(0);
  });

  it('echoes the client x-request-id', async () => {
    const res = await post(
      '/v1/responses',
      { model: 'test-model', input: 'Hi' },
      { 'x-request-id': 'client-id-42' },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('client-id-42');
    const err = await post('/v1/responses', '{', { 'x-request-id': 'client-id-43' });
    expect(err.status).toBe(400);
    expect(err.headers.get('x-request-id')).toBe('client-id-43');
  });

  it('generates an x-request-id when none (or an unusable one) is given', async () => {
    const res = await post('/v1/responses', { model: 'test-model', input: 'Hi' });
    expect(res.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    const other = await post('/v1/responses', { model: 'test-model', input: 'Hi' });
    expect(other.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    expect(other.headers.get('x-request-id')).not.toBe(res.headers.get('x-request-id'));
    const bad = await post(
      '/v1/responses',
      { model: 'test-model', input: 'Hi' },
      { 'x-request-id': 'has spaces' },
    );
    expect(bad.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    const notFound = await fetch(`${proxy.url}/nope`);
    expect(notFound.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
  });

  it('the SDK sees the request id on the returned response', async () => {
    const { response, request_id } = await client.responses
      .create({ model: 'test-model', input: 'Hi' })
      .withResponse();
    expect(request_id).toMatch(/^req_/);
    expect(response.headers.get('x-request-id')).toBe(request_id);
  });
});

describe('request errors', () => {
  it('invalid JSON -> 400 invalid_json', async () => {
    const res = await post('/v1/responses', '{"model": "test-model", "input": ');
    expect(res.status).toBe(400);
    expect(Object.keys(res.json)).toEqual(['error']);
    expect(res.json.error).toEqual({
      message: expect.stringMatching(/^We could not parse the JSON body of your request/),
      type: 'invalid_request_error',
      param: null,
      code: 'invalid_json',
    });
    expect(upstream.requests).toHaveLength(0);
  });

  it('wrong field type -> 400 naming the field', async () => {
    const res = await post('/v1/responses', { model: 'test-model', input: 'Hi', temperature: 'hot' });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      error: {
        message: "Invalid type for 'temperature': expected number or null.",
        type: 'invalid_request_error',
        param: 'temperature',
        code: 'invalid_type',
      },
    });
    expect(upstream.requests).toHaveLength(0);
  });

  it('out-of-range value -> 400 invalid_value naming the field', async () => {
    const res = await post('/v1/responses', { model: 'test-model', input: 'Hi', temperature: 3 });
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({
      type: 'invalid_request_error',
      param: 'temperature',
      code: 'invalid_value',
    });
  });

  it('missing model -> 400 param model', async () => {
    const res = await post('/v1/responses', { input: 'Hi' });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      error: {
        message: "Missing required parameter: 'model'.",
        type: 'invalid_request_error',
        param: 'model',
        code: 'missing_required_parameter',
      },
    });
  });

  it('an empty chunked body without a content-type is answered as no body at all (400), not 415', async () => {
    // Over a raw socket: fetch sends an empty stream body with no framing at all.
    const raw = (head: string) =>
      new Promise<string>((resolve, reject) => {
        const { hostname, port } = new URL(proxy.url);
        const socket = connect(Number(port), hostname, () => {
          socket.end(`POST /v1/responses HTTP/1.1\r\nhost: ${hostname}\r\nconnection: close\r\n${head}\r\n`);
        });
        let text = '';
        socket.on('data', (c: Buffer) => {
          text += c.toString('utf8');
        });
        socket.on('end', () => resolve(text));
        socket.on('error', reject);
      });
    const parse = (reply: string) => ({
      status: Number(reply.split(' ')[1]),
      body: JSON.parse(
        reply.slice(reply.indexOf('\r\n\r\n') + 4).replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/g, ''),
      ),
    });
    const none = parse(await raw('content-length: 0\r\n'));
    expect(none.status).toBe(400);
    expect(none.body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_type' });
    const chunked = parse(await raw('transfer-encoding: chunked\r\n\r\n0\r\n'));
    expect(chunked).toEqual(none);
    expect(upstream.requests).toHaveLength(0);
  });

  it('a hosted tool -> 400 param tools[0].type', async () => {
    const res = await post('/v1/responses', {
      model: 'test-model',
      input: 'Hi',
      tools: [{ type: 'web_search' }],
    });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      error: {
        message: expect.stringContaining("tool type 'web_search' is not supported"),
        type: 'invalid_request_error',
        param: 'tools[0].type',
        code: 'unsupported_value',
      },
    });
    expect(upstream.requests).toHaveLength(0);
  });

  it('the SDK raises BadRequestError with the envelope fields', async () => {
    const err = await client.responses
      .create({ model: 'test-model', input: 'Hi', tools: [{ type: 'web_search' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.status).toBe(400);
    expect(e.param).toBe('tools[0].type');
    expect(e.code).toBe('unsupported_value');
    expect(e.type).toBe('invalid_request_error');
  });
});

describe('upstream errors', () => {
  it('upstream 400 with an OpenAI-shaped body -> 400 carrying message/type/param/code', async () => {
    upstream.handler = (_req, res) =>
      sendJson(res, 400, {
        error: {
          message: "This model's maximum context length is 8192 tokens.",
          type: 'invalid_request_error',
          param: 'messages',
          code: 'context_length_exceeded',
        },
      });
    const res = await post('/v1/responses', { model: 'test-model', input: 'Hi' });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({
      error: {
        message: "This model's maximum context length is 8192 tokens.",
        type: 'invalid_request_error',
        param: 'messages',
        code: 'context_length_exceeded',
      },
    });
  });

  it('upstream 404 -> 404', async () => {
    upstream.handler = (_req, res) =>
      sendJson(res, 404, {
        error: { message: 'The model `nope` does not exist', type: 'NotFoundError', param: null, code: null },
      });
    const res = await post('/v1/responses', { model: 'nope', input: 'Hi' });
    expect(res.status).toBe(404);
    expect(res.json).toEqual({
      error: { message: 'The model `nope` does not exist', type: 'NotFoundError', param: null, code: null },
    });
    const err = await client.responses.create({ model: 'nope', input: 'Hi' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('upstream 429 with Retry-After -> 429 and the header passed on', async () => {
    // Longer than the default max_delay (8 s): not waited for, so the client gets it at once.
    upstream.handler = (_req, res) =>
      sendJson(
        res,
        429,
        { error: { message: 'Slow down.', type: 'requests', param: null, code: null } },
        {
          'retry-after': '30',
        },
      );
    const res = await post('/v1/responses', { model: 'test-model', input: 'Hi' });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('30');
    expect(upstream.requests).toHaveLength(1);
    expect(res.json).toEqual({
      error: { message: 'Slow down.', type: 'requests', param: null, code: 'rate_limit_exceeded' },
    });
  });

  it('upstream 429 with a plain-text body -> rate_limit_error defaults', async () => {
    upstream.handler = (_req, res) => {
      res.writeHead(429, { 'content-type': 'text/plain' });
      res.end('too many requests');
    };
    const res = await post('/v1/responses', { model: 'test-model', input: 'Hi' });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBeNull();
    expect(res.json).toEqual({
      error: {
        message: 'too many requests',
        type: 'rate_limit_error',
        param: null,
        code: 'rate_limit_exceeded',
      },
    });
  });

  it('upstream 500 -> 502 upstream_error naming the target', async () => {
    upstream.handler = (_req, res) =>
      sendJson(res, 500, {
        error: { message: 'CUDA out of memory', type: 'InternalError', param: null, code: 500 },
      });
    const res = await post('/v1/responses', { model: 'test-model', input: 'Hi' });
    expect(res.status).toBe(502);
    expect(res.json).toEqual({
      error: {
        message: "Upstream target 'mock' failed with HTTP 500: CUDA out of memory",
        type: 'server_error',
        param: null,
        code: 'upstream_error',
      },
    });
  });

  it('upstream unreachable -> 502 upstream_unreachable', async () => {
    const port = await closedPort();
    const dead = await startProxy(oneTarget(`http://127.0.0.1:${port}/v1`, ''), {}, 'info');
    try {
      const res = await fetch(`${dead.url}/v1/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'test-model', input: 'Hi' }),
      });
      expect(res.status).toBe(502);
      expect(await res.json()).toEqual({
        error: {
          message: "Upstream target 'mock' is unreachable: connection refused",
          type: 'server_error',
          param: null,
          code: 'upstream_unreachable',
        },
      });
    } finally {
      await dead.close();
    }
  });

  it('upstream 200 with a non-JSON body -> 502', async () => {
    upstream.handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>gateway</html>');
    };
    const res = await post('/v1/responses', { model: 'test-model', input: 'Hi' });
    expect(res.status).toBe(502);
    expect(res.json).toEqual({
      error: {
        message: "Upstream target 'mock' sent an invalid reply: the body is not JSON (<html>gateway</html>)",
        type: 'server_error',
        param: null,
        code: 'upstream_error',
      },
    });
  });

  it('upstream 200 JSON without choices -> 502', async () => {
    upstream.handler = (_req, res) => sendJson(res, 200, { id: 'x', object: 'chat.completion' });
    const res = await post('/v1/responses', { model: 'test-model', input: 'Hi' });
    expect(res.status).toBe(502);
    expect(res.json).toEqual({
      error: {
        message: `Upstream target 'mock' sent an invalid reply: the reply has no "choices" list`,
        type: 'server_error',
        param: null,
        code: 'upstream_error',
      },
    });
  });
});

describe('body limit', () => {
  let small: TestProxy;
  beforeAll(async () => {
    small = await startProxy(oneTarget(upstream.baseUrl), {}, 'info', 'body_limit = 1024');
  });
  afterAll(async () => {
    await small?.close();
  });

  it('a body over [server] body_limit -> 413', async () => {
    const res = await fetch(`${small.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'test-model', input: 'x'.repeat(2000) }),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      error: {
        message: 'Request body is larger than the limit of 1024 bytes.',
        type: 'invalid_request_error',
        param: null,
        code: 'request_too_large',
      },
    });
    expect(upstream.requests).toHaveLength(0);
  });

  it('a body under the limit passes', async () => {
    const res = await fetch(`${small.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'test-model', input: 'x'.repeat(500) }),
    });
    expect(res.status).toBe(200);
  });
});

describe('secrets', () => {
  const UPSTREAM_KEY = 'sk-secret-123456';
  const CLIENT_KEY = 'sk-client-abcdef987';
  let secretProxy: TestProxy;
  let secretClient: OpenAI;

  beforeAll(async () => {
    secretProxy = await startProxy(
      oneTarget(
        upstream.baseUrl,
        'api_key_env = "UPSTREAM_KEY"\nheaders = { "X-Org" = "acme", "x-tenant" = "blue" }',
      ),
      { UPSTREAM_KEY },
      'debug',
    );
    secretClient = new OpenAI({ baseURL: `${secretProxy.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await secretProxy?.close();
  });

  function expectNoSecret(text: string) {
    expect(text).not.toContain(UPSTREAM_KEY);
    expect(text).not.toContain(CLIENT_KEY);
  }

  it('sends the configured key and headers upstream, never the client key', async () => {
    const response = await secretClient.responses.create({ model: 'test-model', input: 'Hi' });
    expect(response.output_text).toBe('Hello!');
    const headers = upstream.last.headers;
    expect(headers.authorization).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(headers['x-org']).toBe('acme');
    expect(headers['x-tenant']).toBe('blue');
    expect(headers['content-type']).toBe('application/json');
    expectNoSecret(JSON.stringify(Object.entries(headers).filter(([k]) => k !== 'authorization')));
    expect(upstream.last.raw).not.toContain(UPSTREAM_KEY);
    expect(upstream.last.raw).not.toContain(CLIENT_KEY);
    expectNoSecret(secretProxy.logText());
    expect(secretProxy.logText()).toContain('upstream request'); // debug payload logging is on
  });

  it('redacts the upstream key echoed in upstream error messages, in replies and in logs', async () => {
    const cases: Array<[number, string]> = [
      [
        401,
        JSON.stringify({
          error: {
            message: `Incorrect API key provided: ${UPSTREAM_KEY}.`,
            type: 'invalid_request_error',
            param: null,
            code: 'invalid_api_key',
          },
        }),
      ],
      [400, JSON.stringify({ detail: `bad key ${UPSTREAM_KEY}` })],
      [500, `internal error for key ${UPSTREAM_KEY}`],
      [503, JSON.stringify({ error: `key ${UPSTREAM_KEY} overloaded` })],
      [200, `not json, key=${UPSTREAM_KEY}`],
    ];
    for (const [status, body] of cases) {
      upstream.handler = (_req, res) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(body);
      };
      const res = await fetch(`${secretProxy.url}/v1/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${CLIENT_KEY}` },
        body: JSON.stringify({ model: 'test-model', input: 'Hi' }),
      });
      const text = await res.text();
      expect(res.status, body).toBe(status >= 500 || status === 200 ? 502 : status);
      expect(text).toContain('[REDACTED]');
      expectNoSecret(text);
      expectNoSecret(JSON.stringify([...res.headers]));
    }
    const unauthorized = await secretClient.responses
      .create({ model: 'test-model', input: 'Hi' })
      .catch((e) => e);
    expect(unauthorized).toBeInstanceOf(OpenAI.APIError);
    expectNoSecret(String((unauthorized as Error).message));
    await vi.waitFor(() => expect(secretProxy.logText()).toContain('"status":502'));
    expectNoSecret(secretProxy.logText());
  });
});

describe('the per-request log line', () => {
  async function requestLines(id: string) {
    // The line is written by onResponse, just after the reply: wait for it.
    await vi.waitFor(() => expect(proxy.logs.some((l) => l.reqId === id && l.msg === 'request')).toBe(true));
    await new Promise((r) => setTimeout(r, 20));
    return proxy.logs.filter((l) => l.reqId === id && l.msg === 'request');
  }

  it('writes exactly one line per successful request', async () => {
    await post('/v1/responses', { model: 'test-model', input: 'Hi' }, { 'x-request-id': 'log-ok-1' });
    const lines = await requestLines('log-ok-1');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'info',
      method: 'POST',
      route: '/v1/responses',
      status: 200,
      model: 'test-model',
      stream: false,
      target: 'mock',
      upstreamStatus: 200,
      attempts: 1,
      usage: { input: 12, output: 5 },
    });
    expect(typeof lines[0].ms).toBe('number');
    expect(lines[0].ms).toBeGreaterThanOrEqual(0);
    expect(typeof lines[0].upstreamMs).toBe('number');
    expect(typeof lines[0].proxyMs).toBe('number');
    expect(lines[0].proxyMs).toBeGreaterThanOrEqual(0);
    expect(lines[0].error).toBeUndefined();
  });

  it('writes exactly one line for an upstream error, with the upstream status', async () => {
    upstream.handler = (_req, res) => sendJson(res, 503, { error: { message: 'busy' } });
    await post('/v1/responses', { model: 'test-model', input: 'Hi' }, { 'x-request-id': 'log-err-1' });
    const lines = await requestLines('log-err-1');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      status: 502,
      model: 'test-model',
      target: 'mock',
      upstreamStatus: 503,
      // 503 is retried: the default retries.max = 2 makes three attempts.
      attempts: 3,
      usage: null,
      error: { code: 'upstream_error', message: "Upstream target 'mock' failed with HTTP 503: busy" },
    });
    expect(typeof lines[0].ms).toBe('number');
  });

  it('a client that disconnects: upstream call aborted, one 499 line, no error-level log', async () => {
    upstream.handler = () => {}; // never answers
    const closedBefore = upstream.closedConnections.length;
    const controller = new AbortController();
    const pending = fetch(`${proxy.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'log-gone' },
      body: JSON.stringify({ model: 'test-model', input: 'Hi' }),
      signal: controller.signal,
    }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(upstream.requests).toHaveLength(1));
    controller.abort();
    expect(await pending).toMatchObject({ name: 'AbortError' });
    // The proxy closes its upstream connection instead of waiting for the reply.
    await vi.waitFor(() => expect(upstream.closedConnections.length).toBeGreaterThan(closedBefore));
    const lines = await requestLines('log-gone');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      status: 499,
      model: 'test-model',
      target: 'mock',
      upstreamStatus: null,
      attempts: 1,
    });
    await new Promise((r) => setTimeout(r, 50));
    const all = proxy.logs.filter((l) => l.reqId === 'log-gone');
    expect(all.filter((l) => l.level === 'error' || l.level === 'warn')).toEqual([]);
    expect(all.filter((l) => l.msg === 'request')).toHaveLength(1);
  });

  it('writes exactly one line for a rejected request and for an unknown route', async () => {
    await post(
      '/v1/responses',
      { model: 'test-model', input: 'Hi', temperature: 'hot' },
      { 'x-request-id': 'log-400' },
    );
    const bad = await requestLines('log-400');
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({
      status: 400,
      target: null,
      upstreamStatus: null,
      attempts: 0,
      error: { code: 'invalid_type' },
    });

    await post(
      '/v1/responses',
      { model: 'test-model', input: 'Hi', tools: [{ type: 'web_search' }] },
      {
        'x-request-id': 'log-tool',
      },
    );
    const tool = await requestLines('log-tool');
    expect(tool).toHaveLength(1);
    expect(tool[0]).toMatchObject({ status: 400, model: 'test-model', target: null, upstreamStatus: null });

    await fetch(`${proxy.url}/nope`, { headers: { 'x-request-id': 'log-404' } });
    const missing = await requestLines('log-404');
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatchObject({ status: 404, model: null, target: null, upstreamStatus: null });
  });
});
