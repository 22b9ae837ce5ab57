import { describe, expect, it } from 'vitest';
import {
  InvalidRequestError,
  ModelNotFoundError,
  PayloadTooLargeError,
  ProxyError,
  RouteNotFoundError,
  toErrorBody,
  toProxyError,
  UnsupportedParameterError,
  UpstreamHttpError,
  UpstreamProtocolError,
  UpstreamTimeoutError,
  UpstreamUnreachableError,
} from '../src/errors.js';
import { parseUpstreamError } from '../src/services/upstream-client.js';

interface Expected {
  name: string;
  status: number;
  type: string;
  message: string;
  param: string | null;
  code: string | null;
}

function fields(err: ProxyError): Expected {
  return {
    name: err.name,
    status: err.status,
    type: err.type,
    message: err.message,
    param: err.param,
    code: err.code,
  };
}

describe('error classes', () => {
  it.each<[string, () => ProxyError, Expected]>([
    [
      'InvalidRequestError with the default code',
      () => new InvalidRequestError("Missing 'input'.", 'input'),
      {
        name: 'InvalidRequestError',
        status: 400,
        type: 'invalid_request_error',
        message: "Missing 'input'.",
        param: 'input',
        code: 'invalid_value',
      },
    ],
    [
      'InvalidRequestError with a code and no param',
      () => new InvalidRequestError('Bad JSON.', null, 'invalid_json'),
      {
        name: 'InvalidRequestError',
        status: 400,
        type: 'invalid_request_error',
        message: 'Bad JSON.',
        param: null,
        code: 'invalid_json',
      },
    ],
    [
      'InvalidRequestError with code null',
      () => new InvalidRequestError('x', 'input[2].call_id', null),
      {
        name: 'InvalidRequestError',
        status: 400,
        type: 'invalid_request_error',
        message: 'x',
        param: 'input[2].call_id',
        code: null,
      },
    ],
    [
      'UnsupportedParameterError',
      () =>
        new UnsupportedParameterError(
          'background',
          'background: true is not supported.',
          'unsupported_value',
        ),
      {
        name: 'UnsupportedParameterError',
        status: 400,
        type: 'invalid_request_error',
        message: 'background: true is not supported.',
        param: 'background',
        code: 'unsupported_value',
      },
    ],
    [
      'PayloadTooLargeError',
      () => new PayloadTooLargeError(1024),
      {
        name: 'PayloadTooLargeError',
        status: 413,
        type: 'invalid_request_error',
        message: 'Request body is larger than the limit of 1024 bytes.',
        param: null,
        code: 'request_too_large',
      },
    ],
    [
      'ModelNotFoundError',
      () => new ModelNotFoundError('gpt-9'),
      {
        name: 'ModelNotFoundError',
        status: 404,
        type: 'invalid_request_error',
        message: "The model 'gpt-9' is not routed to any configured target.",
        param: 'model',
        code: 'model_not_found',
      },
    ],
    [
      'RouteNotFoundError',
      () => new RouteNotFoundError('GET', '/v1/nope'),
      {
        name: 'RouteNotFoundError',
        status: 404,
        type: 'invalid_request_error',
        message: 'No route for GET /v1/nope.',
        param: null,
        code: 'not_found',
      },
    ],
    [
      'UpstreamUnreachableError',
      () => new UpstreamUnreachableError('ollama', 'connection refused'),
      {
        name: 'UpstreamUnreachableError',
        status: 502,
        type: 'server_error',
        message: "Upstream target 'ollama' is unreachable: connection refused",
        param: null,
        code: 'upstream_unreachable',
      },
    ],
    [
      'UpstreamTimeoutError',
      () => new UpstreamTimeoutError('vllm', 'connect'),
      {
        name: 'UpstreamTimeoutError',
        status: 504,
        type: 'server_error',
        message: "Upstream target 'vllm' timed out (connect).",
        param: null,
        code: 'upstream_timeout',
      },
    ],
    [
      'UpstreamProtocolError',
      () => new UpstreamProtocolError('vllm', 'the body is not JSON'),
      {
        name: 'UpstreamProtocolError',
        status: 502,
        type: 'server_error',
        message: "Upstream target 'vllm' sent an invalid reply: the body is not JSON",
        param: null,
        code: 'upstream_error',
      },
    ],
    [
      'a bare ProxyError',
      () => new ProxyError(409, 'conflict_error', 'Busy.'),
      { name: 'ProxyError', status: 409, type: 'conflict_error', message: 'Busy.', param: null, code: null },
    ],
  ])('%s', (_name, make, expected) => {
    const err = make();
    expect(err).toBeInstanceOf(ProxyError);
    expect(err).toBeInstanceOf(Error);
    expect(fields(err)).toStrictEqual(expected);
    expect(err.headers).toStrictEqual({});
    expect(toErrorBody(err)).toStrictEqual({
      error: { message: expected.message, type: expected.type, param: expected.param, code: expected.code },
    });
  });

  it('keeps a cause and extra headers', () => {
    const cause = new Error('socket hang up');
    const err = new ProxyError(429, 'rate_limit_error', 'Slow down.', {
      cause,
      headers: { 'retry-after': '3' },
      code: 'rate_limit_exceeded',
    });
    expect(err.cause).toBe(cause);
    expect(err.headers).toStrictEqual({ 'retry-after': '3' });
    expect(err.code).toBe('rate_limit_exceeded');
    expect(new UpstreamUnreachableError('t', 'x', cause).cause).toBe(cause);
    expect(new UpstreamTimeoutError('t', 'x', cause).cause).toBe(cause);
  });

  it('has no cause property when none is given', () => {
    expect('cause' in new ProxyError(400, 'invalid_request_error', 'x')).toBe(false);
  });

  it('keeps the target of upstream errors', () => {
    expect(new UpstreamUnreachableError('a', 'x').target).toBe('a');
    expect(new UpstreamTimeoutError('b', 'x').target).toBe('b');
    expect(new UpstreamProtocolError('c', 'x').target).toBe('c');
    expect(new UpstreamHttpError(400, 'd', 'x', {}).target).toBe('d');
  });
});

describe('UpstreamHttpError', () => {
  type Opts = ConstructorParameters<typeof UpstreamHttpError>[3];
  const full: Opts = { type: 'invalid_request_error', param: 'messages[0]', code: 'context_length_exceeded' };

  it.each<[string, number, Opts, Omit<Expected, 'name' | 'message'>]>([
    ['400 keeps everything', 400, full, { status: 400, ...full } as Omit<Expected, 'name' | 'message'>],
    ['400 without details', 400, {}, { status: 400, type: 'invalid_request_error', param: null, code: null }],
    [
      '400 with nulls',
      400,
      { type: null, param: null, code: null },
      { status: 400, type: 'invalid_request_error', param: null, code: null },
    ],
    ['401', 401, {}, { status: 401, type: 'authentication_error', param: null, code: null }],
    [
      '401 with a code',
      401,
      { code: 'invalid_api_key' },
      { status: 401, type: 'authentication_error', param: null, code: 'invalid_api_key' },
    ],
    ['403', 403, {}, { status: 403, type: 'authentication_error', param: null, code: null }],
    ['404', 404, {}, { status: 404, type: 'not_found_error', param: null, code: null }],
    [
      '404 with the upstream type',
      404,
      { type: 'NotFoundError' },
      { status: 404, type: 'NotFoundError', param: null, code: null },
    ],
    ['408', 408, {}, { status: 408, type: 'invalid_request_error', param: null, code: null }],
    ['413', 413, {}, { status: 413, type: 'invalid_request_error', param: null, code: null }],
    [
      '422',
      422,
      { param: 'model' },
      { status: 422, type: 'invalid_request_error', param: 'model', code: null },
    ],
    [
      '429 without a code',
      429,
      {},
      { status: 429, type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' },
    ],
    [
      '429 with code null',
      429,
      { code: null },
      { status: 429, type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' },
    ],
    [
      '429 with its own type and code',
      429,
      { type: 'tokens', code: 'tokens_exceeded' },
      { status: 429, type: 'tokens', param: null, code: 'tokens_exceeded' },
    ],
    ['499', 499, {}, { status: 499, type: 'invalid_request_error', param: null, code: null }],
    ['500', 500, full, { status: 502, type: 'server_error', param: null, code: 'upstream_error' }],
    ['502', 502, {}, { status: 502, type: 'server_error', param: null, code: 'upstream_error' }],
    [
      '503',
      503,
      { type: 'overloaded_error', code: 'overloaded' },
      { status: 502, type: 'server_error', param: null, code: 'upstream_error' },
    ],
    ['504', 504, {}, { status: 502, type: 'server_error', param: null, code: 'upstream_error' }],
  ])('%s', (_name, upstreamStatus, opts, expected) => {
    const err = new UpstreamHttpError(upstreamStatus, 'vllm', 'The upstream says no.', opts);
    expect(err).toBeInstanceOf(ProxyError);
    expect(err.name).toBe('UpstreamHttpError');
    expect(err.upstreamStatus).toBe(upstreamStatus);
    expect({ status: err.status, type: err.type, param: err.param, code: err.code }).toStrictEqual(expected);
    expect(err.message).toBe(
      upstreamStatus >= 500
        ? `Upstream target 'vllm' failed with HTTP ${upstreamStatus}: The upstream says no.`
        : 'The upstream says no.',
    );
  });

  it('passes the headers through (Retry-After)', () => {
    const err = new UpstreamHttpError(429, 't', 'slow', { headers: { 'retry-after': '20' } });
    expect(err.headers).toStrictEqual({ 'retry-after': '20' });
    expect(
      new UpstreamHttpError(503, 't', 'busy', { headers: { 'retry-after': '5' } }).headers,
    ).toStrictEqual({
      'retry-after': '5',
    });
  });

  it('turns into the OpenAI envelope', () => {
    expect(toErrorBody(new UpstreamHttpError(400, 't', 'Bad field.', full))).toStrictEqual({
      error: { message: 'Bad field.', ...full },
    });
    expect(toErrorBody(new UpstreamHttpError(500, 't', 'boom', full))).toStrictEqual({
      error: {
        message: "Upstream target 't' failed with HTTP 500: boom",
        type: 'server_error',
        param: null,
        code: 'upstream_error',
      },
    });
  });
});

describe('toProxyError', () => {
  it('returns a ProxyError unchanged', () => {
    const err = new ModelNotFoundError('m');
    expect(toProxyError(err, 'req_1')).toBe(err);
  });

  it.each<[string, unknown, Omit<Expected, 'name'>]>([
    [
      'invalid JSON',
      {
        code: 'FST_ERR_CTP_INVALID_JSON_BODY',
        statusCode: 400,
        message: "Body is not valid JSON but content-type is set to 'application/json'",
      },
      {
        status: 400,
        type: 'invalid_request_error',
        message:
          "We could not parse the JSON body of your request: Body is not valid JSON but content-type is set to 'application/json'",
        param: null,
        code: 'invalid_json',
      },
    ],
    [
      'an empty JSON body',
      { code: 'FST_ERR_CTP_EMPTY_JSON_BODY', statusCode: 400 },
      {
        status: 400,
        type: 'invalid_request_error',
        message: 'We could not parse the JSON body of your request: invalid JSON',
        param: null,
        code: 'invalid_json',
      },
    ],
    [
      'a body over the limit',
      { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413, message: 'Request body is too large' },
      {
        status: 413,
        type: 'invalid_request_error',
        message: 'Request body is larger than the configured limit.',
        param: null,
        code: 'request_too_large',
      },
    ],
    [
      'a wrong media type',
      {
        code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
        statusCode: 415,
        message: 'Unsupported Media Type: text/plain',
      },
      {
        status: 415,
        type: 'invalid_request_error',
        message: 'Content-Type must be application/json.',
        param: null,
        code: 'unsupported_media_type',
      },
    ],
    [
      'another framework 4xx',
      { code: 'FST_ERR_SOMETHING', statusCode: 405, message: 'Method Not Allowed' },
      { status: 405, type: 'invalid_request_error', message: 'Method Not Allowed', param: null, code: null },
    ],
    [
      'a 4xx without a message',
      { statusCode: 400 },
      { status: 400, type: 'invalid_request_error', message: 'Bad request', param: null, code: null },
    ],
  ])('maps %s', (_name, thrown, expected) => {
    const err = toProxyError(thrown, 'req_1');
    expect(err).toBeInstanceOf(ProxyError);
    expect({
      status: err.status,
      type: err.type,
      message: err.message,
      param: err.param,
      code: err.code,
    }).toStrictEqual(expected);
  });

  const secret = 'connection string postgres://admin:hunter2@db/prod';
  it.each<[string, unknown]>([
    ['an Error', new Error(secret)],
    ['a TypeError', new TypeError(`Cannot read properties of undefined (${secret})`)],
    ['a 5xx framework error', { statusCode: 500, message: secret }],
    ['a 3xx status', { statusCode: 302, message: secret }],
    ['a string status', { statusCode: '400', message: secret }],
    ['an unknown FST code', { code: 'FST_ERR_UNKNOWN', message: secret }],
    ['a thrown string', secret],
    ['null', null],
    ['undefined', undefined],
    ['a number', 42],
  ])('turns %s into a 500 server_error that hides the original message', (_name, thrown) => {
    const err = toProxyError(thrown, 'req_abc123');
    expect(err).toBeInstanceOf(ProxyError);
    expect({ status: err.status, type: err.type, param: err.param, code: err.code }).toStrictEqual({
      status: 500,
      type: 'server_error',
      param: null,
      code: 'server_error',
    });
    expect(err.message).toBe('The proxy failed while handling request req_abc123.');
    expect(err.message).not.toContain('hunter2');
    expect(err.cause).toBe(thrown);
    const body = JSON.stringify(toErrorBody(err));
    expect(body).not.toContain('hunter2');
    expect(body).not.toContain('postgres');
    expect(body).not.toContain('    at ');
  });
});

describe('toErrorBody', () => {
  it('gives exactly message, type, param, code in that order', () => {
    const body = toErrorBody(new InvalidRequestError('Bad.', 'tools[0].type', 'unsupported_value'));
    expect(body).toStrictEqual({
      error: {
        message: 'Bad.',
        type: 'invalid_request_error',
        param: 'tools[0].type',
        code: 'unsupported_value',
      },
    });
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error)).toEqual(['message', 'type', 'param', 'code']);
  });

  it('keeps null param and code as null (not absent)', () => {
    const json = JSON.stringify(toErrorBody(new ProxyError(400, 'invalid_request_error', 'x')));
    expect(json).toBe('{"error":{"message":"x","type":"invalid_request_error","param":null,"code":null}}');
  });
});

describe('parseUpstreamError', () => {
  const none = { type: null, param: null, code: null };

  it.each<
    [string, string, { message: string; type: string | null; param: string | null; code: string | null }]
  >([
    [
      'OpenAI',
      JSON.stringify({
        error: {
          message: "Unsupported parameter: 'max_tokens'.",
          type: 'invalid_request_error',
          param: 'max_tokens',
          code: 'unsupported_parameter',
        },
      }),
      {
        message: "Unsupported parameter: 'max_tokens'.",
        type: 'invalid_request_error',
        param: 'max_tokens',
        code: 'unsupported_parameter',
      },
    ],
    [
      'OpenAI with null param and code',
      '{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":null}}',
      { message: 'Rate limit reached', type: 'requests', param: null, code: null },
    ],
    [
      'vLLM with an integer code',
      '{"error":{"message":"The model `x` does not exist.","type":"NotFoundError","param":null,"code":404}}',
      { message: 'The model `x` does not exist.', type: 'NotFoundError', param: null, code: null },
    ],
    [
      'llama.cpp (code first, integer)',
      '{"error":{"code":400,"message":"the request exceeds the available context size","type":"exceed_context_size_error"}}',
      {
        message: 'the request exceeds the available context size',
        type: 'exceed_context_size_error',
        param: null,
        code: null,
      },
    ],
    [
      'older vLLM',
      '{"object":"error","message":"max_tokens is too large","type":"BadRequestError","param":null,"code":400}',
      { message: 'max_tokens is too large', type: 'BadRequestError', param: null, code: null },
    ],
    [
      'older vLLM without a type',
      '{"object":"error","message":"bad request"}',
      { message: 'bad request', ...none },
    ],
    [
      'Ollama with a string error',
      '{"error":"model \\"llama9\\" not found, try pulling it first"}',
      { message: 'model "llama9" not found, try pulling it first', ...none },
    ],
    [
      'Ollama with an OpenAI-style error',
      '{"error":{"message":"model is required","type":"api_error","param":null,"code":null}}',
      { message: 'model is required', type: 'api_error', param: null, code: null },
    ],
    ['FastAPI with a string detail', '{"detail":"Not Found"}', { message: 'Not Found', ...none }],
    [
      'FastAPI with a validation detail',
      '{"detail":[{"loc":["body","model"],"msg":"field required","type":"value_error.missing"}]}',
      { message: '[{"loc":["body","model"],"msg":"field required","type":"value_error.missing"}]', ...none },
    ],
    ['plain text', 'Bad Gateway', { message: 'Bad Gateway', ...none }],
    [
      'plain text with whitespace',
      '  upstream connect error\n',
      { message: 'upstream connect error', ...none },
    ],
    [
      'HTML',
      '<html><body><h1>502 Bad Gateway</h1></body></html>',
      { message: '<html><body><h1>502 Bad Gateway</h1></body></html>', ...none },
    ],
    ['an empty body', '', { message: '', ...none }],
    ['JSON without a known field', '{"foo":1}', { message: '{"foo":1}', ...none }],
    ['a JSON string', '"just a string"', { message: '"just a string"', ...none }],
    ['JSON null', 'null', { message: 'null', ...none }],
    ['a JSON array', '[1,2]', { message: '[1,2]', ...none }],
    [
      'a string code kept',
      '{"error":{"message":"m","type":"t","param":"p","code":"400"}}',
      { message: 'm', type: 't', param: 'p', code: '400' },
    ],
    [
      'non-string type and param become null',
      '{"error":{"message":"m","type":7,"param":["a"],"code":true}}',
      { message: 'm', ...none },
    ],
    [
      'empty strings become null',
      '{"error":{"message":"m","type":"","param":"","code":""}}',
      { message: 'm', ...none },
    ],
  ])('%s', (_name, text, expected) => {
    const parsed = parseUpstreamError(text);
    expect(parsed).toStrictEqual(expected);
    expect(parsed.code === null || typeof parsed.code === 'string').toBe(true);
  });

  it('cuts long plain text to 500 characters', () => {
    const text = 'x'.repeat(600);
    expect(parseUpstreamError(text)).toStrictEqual({ message: `${'x'.repeat(500)}…`, ...none });
    expect(parseUpstreamError('y'.repeat(500)).message).toBe('y'.repeat(500));
  });

  it('cuts long unknown JSON to 500 characters', () => {
    const text = JSON.stringify({ blob: 'z'.repeat(600) });
    expect(parseUpstreamError(text).message).toBe(`${text.slice(0, 500)}…`);
  });
});
